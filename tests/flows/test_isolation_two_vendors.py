"""Propertyware and Buildium integrations sync at the same time into one platform database (SQLite and PostgreSQL), as
`pmsync` processes, with no cross-talk: each integration's rows carry its own integration_id and
link only to its own rows, ids that coincide across the vendors (Buildium's are small ints that repeat) and across two
Buildium accounts land as rows of their own, a source fault fails only its own integration's run (of either vendor)
while the others sync, a delta or a reconciliation of one leaves the others' rows alone, and the change journal
records Buildium runs as it does Propertyware's."""

from __future__ import annotations

from contextlib import ExitStack

import sqlalchemy as sa

from pmsync.cli.common import EXIT_SOURCE_UNAVAILABLE
from pmsync.jobs import JOBS
from pmsync.journal.read import find_changes
from pmsync.platform.database import migrate
from sandbox import SandboxServer
from sandbox.buildium import SANDBOX_STAFF_USER_ID, BuildiumSandboxServer
from sandbox.faults import status_fault
from schemas.tables import leases, properties, sync_run_entities, units
from tests.flows.buildium_expectations import (expected_association_counts, expected_balance_counts,
                                               expected_rental_counts)
from tests.flows.test_independence import finish, runs_by_integration, start, wait_for_running_run
from tests.flows.three_companies import synced_units
from tests.flows.two_vendors import (
    become,
    buildium_environment,
    held_until_released,
    integration_id,
    keys,
    links_across_integrations,
    propertyware_environment,
    release,
    row_of,
    run_at_once,
    share_ids_with_buildium,
    source_fields,
)

ACME = "acme"
"""The Propertyware integration."""
BIRCH, CEDAR = "birch", "cedar"
"""Two Buildium integrations whose accounts have the same seed, so the same ids; birch's initial sync is held (its
last listing) until the others have ended, so all of them run at the same time."""
PW_DOWN, BUILDIUM_DOWN = "dune", "elm"
"""A Propertyware and a Buildium integration whose sources answer 503 to everything, syncing beside the others."""
UNITS, SEED = 20, 7
LAST_LISTING = "/v1/associations/owners"


def test_integrations_of_two_vendors_at_once_keep_their_own_rows_faults_deltas_and_reconciliations(
    platform_url, platform_engine, monkeypatch
):
    with ExitStack() as stack:
        acme, dune = (stack.enter_context(SandboxServer(units=UNITS, seed=SEED)) for _ in range(2))
        birch, cedar, elm = (stack.enter_context(BuildiumSandboxServer(units=UNITS, seed=SEED)) for _ in range(3))
        _, shared_units = share_ids_with_buildium(acme.store, birch.store)
        for broken in (dune, elm):
            broken.store.inject(status_fault(None, 503, times=10_000))
        migrate(platform_engine)  # so that birch's run can be watched before the others start
        env = {ACME: propertyware_environment(ACME, acme, platform_url),
               PW_DOWN: propertyware_environment(PW_DOWN, dune, platform_url),
               BIRCH: buildium_environment(BIRCH, birch, platform_url),
               CEDAR: buildium_environment(CEDAR, cedar, platform_url),
               BUILDIUM_DOWN: buildium_environment(BUILDIUM_DOWN, elm, platform_url, PMSYNC_BUILDIUM_MAX_ATTEMPTS="2")}
        held_until_released(birch.store, LAST_LISTING)
        held = start(env[BIRCH], "sync", "initial")
        wait_for_running_run(platform_engine, BIRCH, held)
        ended = run_at_once({name: (env[name], ("sync", "initial")) for name in (ACME, CEDAR, PW_DOWN, BUILDIUM_DOWN)})
        birch_when_the_others_had_ended = runs_by_integration(platform_engine)[BIRCH][-1].status
        release(birch.store)
        ended[BIRCH] = finish(held)
        assert {name: done.returncode for name, done in ended.items()} == {
            ACME: 0, BIRCH: 0, CEDAR: 0, PW_DOWN: EXIT_SOURCE_UNAVAILABLE, BUILDIUM_DOWN: EXIT_SOURCE_UNAVAILABLE
        }, {name: done.stderr[-1500:] for name, done in ended.items()}
        assert birch_when_the_others_had_ended == "running"

        check_a_fault_failed_only_its_own_integrations_run(platform_engine)
        check_each_integration_holds_its_own_rows(platform_engine, acme.store, birch.store, shared_units)
        check_a_buildium_delta_changes_and_journals_only_its_own_rows(platform_engine, monkeypatch, env, acme.store,
                                                                      birch.store)
        check_reconciliations_deactivate_only_their_own_units(platform_engine, monkeypatch, env, acme.store,
                                                              birch.store, shared_units)


def check_a_fault_failed_only_its_own_integrations_run(engine: sa.Engine) -> None:
    runs = runs_by_integration(engine)
    assert {name: [(run.flow, run.status) for run in runs[name]] for name in runs} == {
        ACME: [("initial", "succeeded")], BIRCH: [("initial", "succeeded")], CEDAR: [("initial", "succeeded")],
        PW_DOWN: [("initial", "failed")], BUILDIUM_DOWN: [("initial", "failed")]}
    assert [runs[name][0].error.split(":")[0] for name in (PW_DOWN, BUILDIUM_DOWN)] == ["SourceUnavailable"] * 2
    for failed in (PW_DOWN, BUILDIUM_DOWN):
        held = runs[BIRCH][0]
        assert held.started_at < runs[failed][0].finished_at < held.finished_at, failed
        assert keys(engine, failed, units) == keys(engine, failed, properties) == set()


def check_each_integration_holds_its_own_rows(engine: sa.Engine, pw, bd, shared_units: list[int]) -> None:
    runs = runs_by_integration(engine)
    held = runs[BIRCH][0]
    for name in (ACME, CEDAR):
        assert held.started_at < runs[name][0].finished_at < held.finished_at, name
    expected_acme = {("rental", b["id"]) for b in pw.records("buildings") if b["active"]}
    assert keys(engine, ACME, properties) == expected_acme
    assert keys(engine, ACME, units) == {("rental", unit) for unit in synced_units(pw)}
    expected = {**expected_rental_counts(bd, SANDBOX_STAFF_USER_ID), **expected_association_counts(bd),
                **expected_balance_counts(bd)}
    for name in (BIRCH, CEDAR):
        assert entity_counts(engine, runs[name][0].id) == {
            entity: (numbers["fetched"], numbers["created"]) for entity, numbers in expected.items()}, name
    assert keys(engine, BIRCH, units) == keys(engine, CEDAR, units), "the same seed: the same ids in both accounts"
    assert len(keys(engine, BIRCH, properties)) == expected["property"]["created"] + expected["association"]["created"]

    rental_units = {source_id for kind, source_id in keys(engine, BIRCH, units) if kind == "rental"}
    assert {p for _, p in keys(engine, BIRCH, properties)} & {p for _, p in expected_acme}
    assert rental_units & synced_units(pw) == set(shared_units), "the vendors' ids coincide in these accounts"
    assert keys(engine, BIRCH, leases) & keys(engine, ACME, leases), "leases of coinciding ids too"
    for source_id in shared_units:
        rows = [row_of(engine, name, units, source_id) for name in (ACME, BIRCH, CEDAR)]
        assert len({row.id for row in rows}) == 3
        assert [row.integration_id for row in rows] == [integration_id(engine, n) for n in (ACME, BIRCH, CEDAR)]
        parents = [row_by_id(engine, properties, row.property_id).source_id for row in rows]
        assert parents == [pw.get("units", source_id)["buildingID"], *[bd.get("rentalunits", source_id)["PropertyId"]] * 2]
        assert (rows[0].source_data["name"], rows[1].source_data["Id"]) == (pw.get("units", source_id)["name"], source_id)
    for table in (properties, units, leases):  # each row holds a record in its own vendor's dialect
        assert all("id" in fields and "Id" not in fields for fields in source_fields(engine, ACME, table)), table
        assert all("Id" in fields and "id" not in fields
                   for name in (BIRCH, CEDAR) for fields in source_fields(engine, name, table)), table
    assert links_across_integrations(engine) == []
    for name in (ACME, BIRCH):  # the journal has a row per record each initial sync created, under its integration
        journaled = {}
        for change in find_changes(engine, name, run_id=runs[name][0].id, limit=100_000):
            journaled[change["entity"]] = journaled.get(change["entity"], 0) + (change["action"] == "created")
        assert journaled == {entity: created for entity, (_, created) in entity_counts(engine, runs[name][0].id).items()
                             if created}, name
    with engine.connect() as connection:
        total = connection.execute(sa.select(sa.func.count()).select_from(units)).scalar_one()
    assert total == sum(len(keys(engine, name, units)) for name in (ACME, BIRCH, CEDAR))


def entity_counts(engine: sa.Engine, run_id: int) -> dict[str, tuple[int, int]]:
    """{entity: (fetched, created)} of a run."""
    with engine.connect() as connection:
        found = connection.execute(sa.select(sync_run_entities).where(sync_run_entities.c.run_id == run_id)).all()
    return {row.entity: (row.fetched, row.created) for row in found}


def row_by_id(engine: sa.Engine, table: sa.Table, row_id: int):
    with engine.connect() as connection:
        return connection.execute(sa.select(table).where(table.c.id == row_id)).one()


def check_a_buildium_delta_changes_and_journals_only_its_own_rows(engine, monkeypatch, env, pw, bd) -> None:
    rental = min(source_id for kind, source_id in keys(engine, BIRCH, properties) if kind == "rental")
    assert ("rental", rental) in keys(engine, ACME, properties) & keys(engine, CEDAR, properties)
    before = {name: row_of(engine, name, properties, rental) for name in (ACME, BIRCH, CEDAR)}
    bd.update("rentals", rental, Name="Renamed in birch's Buildium")
    pw.update("buildings", rental, name="Renamed in acme's Propertyware")

    become(monkeypatch, env[BIRCH])
    delta = JOBS["delta-sync"]()

    journal = find_changes(engine, BIRCH, run_id=delta["run_id"])
    assert [(c["entity"], c["source_id"], c["action"]) for c in journal] == [("property", rental, "updated")]
    assert journal[0]["changes"]["source_data.Name"] == [before[BIRCH].source_data["Name"], "Renamed in birch's Buildium"]
    assert find_changes(engine, None, run_id=delta["run_id"]) == journal, "a run's journal rows are its integration's"
    after = {name: row_of(engine, name, properties, rental) for name in (ACME, BIRCH, CEDAR)}
    assert after[BIRCH].source_data["Name"] == "Renamed in birch's Buildium"
    assert after[ACME] == before[ACME] and after[CEDAR] == before[CEDAR]
    assert [run.flow for run in runs_by_integration(engine)[ACME]] == ["initial"]

    become(monkeypatch, env[ACME])
    acme_delta = JOBS["delta-sync"]()

    journal = find_changes(engine, ACME, run_id=acme_delta["run_id"])
    assert [(c["entity"], c["source_id"]) for c in journal] == [("property", rental)]
    assert journal[0]["changes"]["source_data.name"][1] == "Renamed in acme's Propertyware"
    assert row_of(engine, BIRCH, properties, rental).source_data["Name"] == "Renamed in birch's Buildium"
    assert row_of(engine, CEDAR, properties, rental) == before[CEDAR]


def check_reconciliations_deactivate_only_their_own_units(engine, monkeypatch, env, pw, bd, shared_units) -> None:
    gone_in_birch, gone_in_acme = shared_units[0], shared_units[-1]
    bd.delete("rentalunits", gone_in_birch)
    pw.delete("units", gone_in_acme)

    results = {}
    for name in (BIRCH, ACME):
        become(monkeypatch, env[name])
        results[name] = JOBS["property-reconciliation"]()

    assert [row["unit id"] for row in results[BIRCH]["deactivated_units"]] == [gone_in_birch]
    assert [row["unit id"] for row in results[ACME]["deactivated_units"]] == [gone_in_acme]
    for name, gone in ((BIRCH, gone_in_birch), (ACME, gone_in_acme)):
        journal = find_changes(engine, name, run_id=results[name]["run_id"])
        assert [(c["entity"], c["source_id"], c["action"]) for c in journal] == [("unit", gone, "deactivated")], name
    active = {(name, unit): row_of(engine, name, units, unit).active
              for name in (ACME, BIRCH, CEDAR) for unit in (gone_in_birch, gone_in_acme)}
    assert active == {(ACME, gone_in_birch): True, (ACME, gone_in_acme): False,
                      (BIRCH, gone_in_birch): False, (BIRCH, gone_in_acme): True,
                      (CEDAR, gone_in_birch): True, (CEDAR, gone_in_acme): True}
    assert [run.flow for run in runs_by_integration(engine)[CEDAR]] == ["initial"]
    assert links_across_integrations(engine) == []
