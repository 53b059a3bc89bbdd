"""A Buildium integration's reconciliation against the Buildium sandbox over HTTP, on SQLite and PostgreSQL: rental
units and association units each compared with their own listing and confirmed by GET on their own path; a rental or
an association turning inactive deactivated by the sync; the guard, dry run and snapshot as for Propertyware (the
jobs with the plain steps, as tests/flows/test_reconciliation.py runs Propertyware's)."""

from __future__ import annotations

import time

import pytest

import requests
import sqlalchemy as sa

from pmsync.jobs import JOBS
from pmsync.reconcile.parts import IncompleteListing, MassDeactivationRefused, set_property_disabled_by_hand
from sandbox.faults import drop_page_fault
from schemas.tables import (properties, property_logs, reconciliation_snapshots, record_changes,
                            snapshot_deactivated_units, sync_runs, units)
from tests.flows.test_buildium_sync import buildium, buildium_env  # noqa: F401  (fixtures)

initial_sync, delta_sync, reconcile = JOBS["initial-sync"], JOBS["delta-sync"], JOBS["property-reconciliation"]
RENTAL_UNITS, ASSOCIATION_UNITS = "/v1/rentals/units", "/v1/associations/units"


def one(engine: sa.Engine, table: sa.Table, source_id: int, kind: str):
    with engine.connect() as connection:
        return connection.execute(sa.select(table).where(table.c.source_id == source_id, table.c.kind == kind)).one()


def count(engine: sa.Engine, table: sa.Table, *where) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def active_units(engine: sa.Engine, kind: str) -> set[int]:
    with engine.connect() as connection:
        return set(connection.execute(sa.select(units.c.source_id).where(units.c.kind == kind,
                                                                          units.c.active.is_(True))).scalars())


def logs_of(engine: sa.Engine, property_source_id: int, kind: str) -> list:
    with engine.connect() as connection:
        return connection.execute(
            sa.select(property_logs).join(properties, properties.c.id == property_logs.c.property_id)
            .where(properties.c.source_id == property_source_id, properties.c.kind == kind).order_by(property_logs.c.id)
        ).all()


def shared_unit_ids(engine: sa.Engine) -> list[int]:
    """Unit ids both a synced rental unit and a synced association unit have (Buildium's ids repeat across kinds)."""
    shared = sorted(active_units(engine, "rental") & active_units(engine, "association"))
    assert len(shared) >= 2, "the sandbox repeats unit ids across rental and association units"
    return shared


def confirmations(store) -> set[str]:
    return {path for method, path, _ in store.requests_log
            if method == "GET" and path.rsplit("/", 1)[-1].isdigit() and path.startswith((RENTAL_UNITS, ASSOCIATION_UNITS,
                                                                                         "/v1/rentals/", "/v1/associations/"))}


def test_units_of_each_kind_gone_are_confirmed_on_their_own_path_and_the_other_kind_is_left_alone(
        buildium_env, buildium, platform_engine):
    store = buildium.store
    initial_sync()
    shared, other_shared = shared_unit_ids(platform_engine)[:2]
    rental_of = store.get("rentalunits", shared)["PropertyId"]
    association_of = store.get("associationunits", other_shared)["AssociationId"]
    store.delete("rentalunits", shared)
    removed = requests.delete(f"{buildium.control_url}/records/associationunits/{other_shared}", timeout=10)
    assert removed.status_code < 300, removed.text
    store.clear_requests_log()

    result = reconcile()

    assert sorted(row["unit id"] for row in result["deactivated_units"]) == sorted([shared, other_shared])
    assert confirmations(store) == {f"{RENTAL_UNITS}/{shared}", f"{ASSOCIATION_UNITS}/{other_shared}"}
    rental_unit, association_unit = one(platform_engine, units, shared, "rental"), one(platform_engine, units, shared, "association")
    assert rental_unit.active is False and association_unit.active is True, "each kind is reconciled by its own listing"
    assert rental_unit.deactivation_reason == f"deleted in source (GET {RENTAL_UNITS}/{shared} answered 404)"
    gone = one(platform_engine, units, other_shared, "association")
    assert gone.active is False and one(platform_engine, units, other_shared, "rental").active is True
    assert gone.deactivation_reason == f"deleted in source (GET {ASSOCIATION_UNITS}/{other_shared} answered 404)"
    with platform_engine.connect() as connection:
        evidence = connection.execute(
            sa.select(units.c.source_id, units.c.kind, snapshot_deactivated_units.c.source_evidence)
            .join(units, units.c.id == snapshot_deactivated_units.c.unit_id)
            .where(snapshot_deactivated_units.c.snapshot_id == result["snapshot_id"])).all()
        snapshot = connection.execute(sa.select(reconciliation_snapshots)).one()
        run = connection.execute(sa.select(sync_runs).where(sync_runs.c.id == result["run_id"])).one()
    assert sorted(tuple(row) for row in evidence) == sorted([(shared, "rental", "deleted_in_source"),
                                                             (other_shared, "association", "deleted_in_source")])
    listed = len(store.records("rentalunits")) + len(store.records("associationunits"))
    assert snapshot.source_unit_count == listed and snapshot.id == result["snapshot_id"]
    assert (run.flow, run.status) == ("reconcile", "succeeded")
    for unit_id, property_id, kind in ((shared, rental_of, "rental"), (other_shared, association_of, "association")):
        lines = [log.message for log in logs_of(platform_engine, property_id, kind) if log.event == "unit_deactivated"]
        assert any(f"unit {unit_id} " in line and f"reconciliation run {result['run_id']}" in line for line in lines)

    again = reconcile()

    assert again["deactivated_units"] == [] and count(platform_engine, snapshot_deactivated_units) == 2


def listed(buildium, buildium_env, path: str) -> list[dict]:
    """The sandbox's first page of a listing, read as a client would (again after a 429: the sandbox's rate limit)."""
    headers = {"x-buildium-client-id": buildium_env["PMSYNC_BUILDIUM_CLIENT_ID"],
               "x-buildium-client-secret": buildium_env["PMSYNC_BUILDIUM_CLIENT_SECRET"]}
    for _ in range(50):
        answer = requests.get(f"{buildium.base_url}{path}", params={"limit": 1000}, headers=headers, timeout=10)
        if answer.status_code != 429:
            break
        time.sleep(0.2)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_unit_missing_from_its_listing_but_read_by_id_is_left_alone(buildium_env, buildium, platform_engine):
    store = buildium.store
    initial_sync()
    unit_id = min(active_units(platform_engine, "association"))
    unlisted = requests.post(f"{buildium.control_url}/records/associationunits/{unit_id}/unlist", timeout=10)
    assert unlisted.status_code == 200, unlisted.text
    assert unit_id not in {u["Id"] for u in listed(buildium, buildium_env, ASSOCIATION_UNITS)}
    store.clear_requests_log()

    result = reconcile()

    assert confirmations(store) == {f"{ASSOCIATION_UNITS}/{unit_id}"}
    assert result["deactivated_units"] == [] and one(platform_engine, units, unit_id, "association").active is True


def test_association_units_vanishing_en_masse_are_refused_until_allowed_and_a_dry_run_writes_nothing(
        buildium_env, buildium, platform_engine):
    store = buildium.store
    initial_sync()
    before = {kind: active_units(platform_engine, kind) for kind in ("rental", "association")}
    for unit in store.records("associationunits"):
        store.delete("associationunits", unit["Id"])

    with pytest.raises(MassDeactivationRefused) as refused:
        reconcile()

    assert f"would deactivate {len(before['association'])} of {len(before['association'])} active association units" \
        in str(refused.value) and "listing is empty" in str(refused.value)
    assert refused.value.facts["kind"] == "association units"
    assert {kind: active_units(platform_engine, kind) for kind in before} == before
    assert count(platform_engine, reconciliation_snapshots) == 0
    tables = (units, properties, property_logs, reconciliation_snapshots, snapshot_deactivated_units)
    with platform_engine.connect() as connection:
        rows_before = {t.name: connection.execute(sa.select(t)).all() for t in tables}

    preview = reconcile(dry_run=True, allow_mass_deactivation=True)

    assert preview["dry_run"] is True
    assert sorted(row["unit id"] for row in preview["deactivated_units"]) == sorted(before["association"])
    with platform_engine.connect() as connection:
        assert {t.name: connection.execute(sa.select(t)).all() for t in tables} == rows_before

    result = reconcile(allow_mass_deactivation=True)

    assert active_units(platform_engine, "association") == set() and active_units(platform_engine, "rental") == before["rental"]
    with platform_engine.connect() as connection:
        snapshot = connection.execute(sa.select(reconciliation_snapshots)).one()
    assert snapshot.id == result["snapshot_id"] and snapshot.mass_deactivation_allowed is True


def test_an_association_unit_listing_that_loses_a_page_deactivates_nothing(buildium_env, buildium, platform_engine,
                                                                           monkeypatch):
    monkeypatch.setenv("PMSYNC_BUILDIUM_PAGE_SIZE", "5")
    store = buildium.store
    initial_sync()
    before = {kind: active_units(platform_engine, kind) for kind in ("rental", "association")}
    gone = min(before["association"])
    store.delete("associationunits", gone)
    store.inject(drop_page_fault(ASSOCIATION_UNITS, page_offset=0))
    store.inject(drop_page_fault(ASSOCIATION_UNITS, page_offset=0))

    with pytest.raises(IncompleteListing, match="associationunits listing was incomplete twice .*nothing was deactivated"):
        reconcile()

    assert {kind: active_units(platform_engine, kind) for kind in before} == before
    reconcile()
    assert active_units(platform_engine, "association") == before["association"] - {gone}


@pytest.mark.parametrize("entity, kind, units_entity, parent_field", [
    ("rentals", "rental", "rentalunits", "PropertyId"),
    ("associations", "association", "associationunits", "AssociationId"),
])
def test_a_property_turning_inactive_deactivates_it_and_its_units_on_the_next_sync(
        buildium_env, buildium, platform_engine, entity, kind, units_entity, parent_field):
    store = buildium.store
    initial_sync()
    with platform_engine.connect() as connection:
        with_units = connection.execute(
            sa.select(properties.c.source_id).join(units, units.c.property_id == properties.c.id)
            .where(properties.c.kind == kind, properties.c.active.is_(True))).scalars().all()
    property_id = min(with_units)
    its_units = {u["Id"] for u in store.records(units_entity) if u[parent_field] == property_id}
    other_kind = "association" if kind == "rental" else "rental"
    others_before = active_units(platform_engine, other_kind)
    store.deactivate(entity, property_id)

    result = delta_sync()

    prop = one(platform_engine, properties, property_id, kind)
    assert prop.active is False and prop.deactivated_at is not None
    assert prop.deactivation_reason == (f"deactivated in source (the {entity} listing of {'property' if kind == 'rental' else 'association'} "
                                        f"{property_id} says active: false)")
    assert its_units and not active_units(platform_engine, kind) & its_units
    for unit_id in its_units:
        assert one(platform_engine, units, unit_id, kind).deactivation_reason == prop.deactivation_reason
    assert active_units(platform_engine, other_kind) == others_before
    logs = logs_of(platform_engine, property_id, kind)
    assert [log.event for log in logs] == ["property_deactivated", *["unit_deactivated"] * len(its_units)]
    assert all(f"by sync run {result['run_id']}" in log.message for log in logs)
    assert result["counts"]["property" if kind == "rental" else "association"]["excluded"] == 1

    delta_sync()
    initial_sync()

    assert len(logs_of(platform_engine, property_id, kind)) == len(logs), "deactivated once, logged once"
    assert reconcile()["deactivated_units"] == []


def journal(engine: sa.Engine, run_id: int) -> set[tuple[str, int, str]]:
    with engine.connect() as connection:
        return {(row.entity, row.source_id, row.action) for row in connection.execute(
            sa.select(record_changes).where(record_changes.c.run_id == run_id))}


@pytest.mark.parametrize("entity, kind, units_entity, parent_field, unit_entity", [
    ("rentals", "rental", "rentalunits", "PropertyId", "unit"),
    ("associations", "association", "associationunits", "AssociationId", "association_unit"),
])
def test_a_property_turning_active_again_brings_back_the_units_its_deactivation_took_only(
        buildium_env, buildium, platform_engine, entity, kind, units_entity, parent_field, unit_entity):
    store = buildium.store
    initial_sync()
    with platform_engine.connect() as connection:
        counted = connection.execute(
            sa.select(properties.c.source_id, sa.func.count()).join(units, units.c.property_id == properties.c.id)
            .where(properties.c.kind == kind, properties.c.active.is_(True)).group_by(properties.c.source_id)).all()
    property_id = min(source_id for source_id, n in counted if n >= 2)
    its_units = {u["Id"] for u in store.records(units_entity) if u[parent_field] == property_id}
    deleted = min(its_units)
    store.delete(units_entity, deleted)
    assert [row["unit id"] for row in reconcile()["deactivated_units"]] == [deleted]
    deleted_reason = one(platform_engine, units, deleted, kind).deactivation_reason
    store.deactivate(entity, property_id)
    delta_sync()
    assert not active_units(platform_engine, kind) & its_units and one(platform_engine, properties, property_id, kind).active is False
    logged = len(logs_of(platform_engine, property_id, kind))
    others_before = active_units(platform_engine, "association" if kind == "rental" else "rental")

    store.update(entity, property_id, IsActive=True)
    result = delta_sync()

    prop = one(platform_engine, properties, property_id, kind)
    assert prop.active is True and prop.deactivated_at is None and prop.deactivation_reason is None
    back = its_units - {deleted}
    assert active_units(platform_engine, kind) & its_units == back
    for unit_id in back:
        unit = one(platform_engine, units, unit_id, kind)
        assert unit.deactivated_at is None and unit.deactivation_reason is None and unit.last_sync_run_id == result["run_id"]
    still = one(platform_engine, units, deleted, kind)
    assert still.active is False and still.deactivation_reason == deleted_reason, "reconciliation's deactivation stays"
    assert active_units(platform_engine, "association" if kind == "rental" else "rental") == others_before
    logs = logs_of(platform_engine, property_id, kind)[logged:]
    assert [log.event for log in logs] == ["property_reactivated", *["unit_reactivated"] * len(back)]
    assert all(f"by sync run {result['run_id']}" in log.message for log in logs)
    assert all(f"{'property' if kind == 'rental' else 'association'} {property_id} is active in the source again"
               in log.message for log in logs[1:])
    assert {(e, s) for e, s, action in journal(platform_engine, result["run_id"]) if action == "reactivated"} == {
        ("property" if kind == "rental" else "association", property_id), *((unit_entity, u) for u in back)}

    delta_sync()
    initial_sync()
    again = reconcile()

    assert len(logs_of(platform_engine, property_id, kind)) == logged + len(logs), "reactivated once, logged once"
    assert again["reactivated_units"] == [] and again["deactivated_units"] == []
    assert one(platform_engine, units, deleted, kind).active is False


def test_units_of_a_property_disabled_by_hand_stay_inactive_when_its_rental_turns_active_again(
        buildium_env, buildium, platform_engine):
    store = buildium.store
    initial_sync()
    with platform_engine.connect() as connection:
        property_id = min(connection.execute(
            sa.select(properties.c.source_id).join(units, units.c.property_id == properties.c.id)
            .where(properties.c.kind == "rental", properties.c.active.is_(True))).scalars())
    its_units = {u["Id"] for u in store.records("rentalunits") if u["PropertyId"] == property_id}
    store.deactivate("rentals", property_id)
    delta_sync()
    set_property_disabled_by_hand(platform_engine, "default", property_id, True)
    store.update("rentals", property_id, IsActive=True)

    delta_sync()

    assert one(platform_engine, properties, property_id, "rental").active is False
    assert not active_units(platform_engine, "rental") & its_units
