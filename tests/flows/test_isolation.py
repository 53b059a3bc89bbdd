"""Three integrations whose sources reuse the same ids, on one platform (SQLite and PostgreSQL): rows, queries, locks,
high-water marks, quarantine, parked records, snapshots, reports and work-order pushes each stay with their own
integration. Each company has its own sandbox (same seed, so the same ids) with data of its own; the jobs run with the
plain steps and the read-only commands as real `pmsync` processes."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pmsync.sync.explain import explain
from pmsync.exports.snapshots import UNIT_DEACTIVATED, UNIT_REACTIVATED, UnknownSnapshot, recent_snapshots, snapshot_changes
from pmsync.runs.locks import IntegrationBusy, acquire, release
from pmsync.runs.bookkeeping import stale_parked_by_entity, utc_now
from pmsync.push.workorders import WorkOrderNotFound, create_work_order
from reports.app import create_app
from sandbox import SandboxServer
from schemas.tables import (
    integrations,
    leases,
    properties,
    quarantine,
    residents,
    sync_state,
    unapplied_records,
    units,
    work_order_changes,
    work_orders,
)
from tests.flows.three_companies import (
    SharedPlatform,
    a_lease_with_a_tenant,
    give_own_names,
    keep_stamp,
    other_lease,
    synced_units,
)
from tests.unit.test_cli_exit_codes import run_pmsync

COMPANIES = ("acme", "birch", "cedar")
UNITS = 40
SEED = 7
BAD_EMAIL = "mail@@x"


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch, platform_url: str) -> Iterator[SharedPlatform]:
    """acme, birch and cedar after their initial syncs. acme: one lease moved to a unit its source lacks (parked);
    birch: one tenant with a malformed e-mail (quarantined); cedar: one unit deleted before the first sync."""
    with ExitStack() as stack:
        sandboxes = {name: stack.enter_context(SandboxServer(units=UNITS, seed=SEED)) for name in COMPANIES}
        platform = SharedPlatform(monkeypatch, platform_url, sandboxes)
        stack.callback(platform.engine.dispose)
        for name in COMPANIES:
            give_own_names(platform.store(name), name)
        lease, tenant = a_lease_with_a_tenant(platform.store("acme"))
        platform.lease, platform.tenant = lease, tenant
        platform.parked_lease = other_lease(platform.store("acme"), lease["id"])
        missing_unit = platform.store("acme").next_id("units") + 500
        platform.store("acme").update("leases", platform.parked_lease["id"], unitID=missing_unit,
                                      **keep_stamp(platform.parked_lease))
        bad = [{**c, "email": BAD_EMAIL} if c["id"] == tenant["id"] else c for c in lease["contacts"]]
        platform.store("birch").update("leases", lease["id"], contacts=bad, **keep_stamp(lease))
        platform.deleted_unit = max(synced_units(platform.store("cedar")) - {lease["unitID"]})
        platform.store("cedar").delete("units", platform.deleted_unit)
        platform.initial = {name: platform.run("initial-sync", name) for name in COMPANIES}
        yield platform


def test_each_integration_holds_exactly_its_own_sources_rows_under_the_same_ids(shared):
    seen: dict[str, dict[str, dict]] = {}
    for name in COMPANIES:
        store = shared.store(name)
        loaded = synced_units(store)
        expected = {
            "properties": {b["id"]: b["name"] for b in store.records("buildings") if b["active"]},
            "units": {u["id"]: u["name"] for u in store.records("units") if u["id"] in loaded},
            "leases": {l["id"]: l["unitID"] for l in store.records("leases") if l["unitID"] in loaded},
        }
        found = {
            "properties": dict(shared.rows(name, properties, properties.c.source_id, properties.c.name)),
            "units": dict(shared.rows(name, units, units.c.source_id, units.c.name)),
            "leases": {row.source_id: row.unit for row in shared.rows(
                name, leases, leases.c.source_id, units.c.source_id.label("unit"),
                where=units.c.id == leases.c.unit_id)},
        }
        assert found == expected, name
        assert all(n.startswith(name.title()) for n in [*found["properties"].values(), *found["units"].values()])
        seen[name] = found

    acme, birch, cedar = (seen[name] for name in COMPANIES)
    assert acme["properties"].keys() == birch["properties"].keys() == cedar["properties"].keys()
    assert cedar["units"].keys() == acme["units"].keys() - {shared.deleted_unit}
    assert shared.parked_lease["id"] in birch["leases"].keys() & cedar["leases"].keys()
    assert shared.parked_lease["id"] not in acme["leases"]
    with shared.engine.connect() as connection:
        total = connection.execute(sa.select(sa.func.count()).select_from(units)).scalar_one()
    assert total == sum(len(seen[name]["units"]) for name in COMPANIES)


def test_runs_marks_quarantine_and_parked_records_are_shown_per_integration(shared):
    tenant, parked = shared.tenant["id"], shared.parked_lease["id"]
    for name in COMPANIES:
        own_run = shared.initial[name]["run_id"]
        assert [(run["id"], run["integration"]) for run in shared.cli_json(name, "runs")] == [(own_run, name)]
        marks = shared.cli_json(name, "state")
        assert marks and {mark["run_id"] for mark in marks} == {own_run}
        held = shared.cli_json(name, "quality")
        assert {row["integration"] for row in held["summary"] + held["items"]} <= {name}
        quarantined = {(item["entity"], item["source_id"]) for item in held["items"]}
        assert (("resident", str(tenant)) in quarantined) == (name == "birch"), name

    assert {row.integration_id for row in shared.rows("birch", quarantine, quarantine.c.integration_id,
                                                      where=quarantine.c.source_id == str(tenant))} == {shared.id_of("birch")}
    for name in ("acme", "cedar"):
        assert shared.rows(name, residents, residents.c.email, where=residents.c.source_id == tenant)[0].email != BAD_EMAIL
        assert shared.rows(name, quarantine, quarantine.c.status, where=quarantine.c.source_id == str(tenant)) == []
    assert shared.rows("birch", residents, residents.c.id, where=residents.c.source_id == tenant) == []

    with shared.engine.connect() as connection:
        parked_by = connection.execute(
            sa.select(integrations.c.name, unapplied_records.c.status, unapplied_records.c.parent_source_id)
            .join(integrations, integrations.c.id == unapplied_records.c.integration_id)
            .where(unapplied_records.c.entity == "lease", unapplied_records.c.source_id == parked)
        ).all()
    assert [(row.name, row.status) for row in parked_by] == [("acme", "parked")]
    late = utc_now() + timedelta(days=1)
    parked_leases = {name: {row["entity"]: row["records"] for row in stale_parked_by_entity(shared.engine, late, name)}
                     for name in COMPANIES}
    assert parked_leases["acme"]["lease"] == parked_leases["birch"]["lease"] + 1
    assert {row["integration"] for row in stale_parked_by_entity(shared.engine, late, "birch")} == {"birch"}

    why = {name: " | ".join(explain(shared.engine, shared.integration(name), "lease", parked, None)) for name in COMPANIES}
    assert "was parked by run" in why["acme"] and "is on the platform" not in why["acme"]
    assert "is on the platform" in why["birch"] and "parked" not in why["birch"] and "parked" not in why["cedar"]
    why = {name: " | ".join(explain(shared.engine, shared.integration(name), "resident", tenant, None)) for name in COMPANIES}
    assert "is quarantined since" in why["birch"] and "is on the platform" not in why["birch"]
    assert all("is on the platform" in why[name] and "quarantined" not in why[name] for name in ("acme", "cedar"))


def test_a_held_lock_stops_only_its_integration_and_a_reset_mark_only_its_streams(shared, monkeypatch):
    monkeypatch.setenv("PMSYNC_LOCK_WAIT_MINUTES", "0.03")
    acquire(shared.engine, "acme", "stuck-host:1 direct run", "delta", timedelta(minutes=10), timedelta(0), print)
    try:
        for name in ("birch", "cedar"):
            assert shared.run("delta-sync", name)["run_id"] > shared.initial[name]["run_id"]
        with pytest.raises(IntegrationBusy, match="integration 'acme' is still being synced by stuck-host:1"):
            shared.run("delta-sync", "acme")
        unlocked = run_pmsync("unlock", "--integration", "birch", env=shared.env("birch"))
        assert unlocked.returncode == 0 and "integration 'birch' was not locked" in unlocked.stdout, unlocked.stderr
        with pytest.raises(IntegrationBusy):
            shared.run("delta-sync", "acme")
    finally:
        release(shared.engine, "acme", "stuck-host:1 direct run")

    reset = run_pmsync("state", "reset", "unit", "--integration", "birch", env=shared.env("birch"))
    assert reset.returncode == 0 and "stream units reset" in reset.stdout, reset.stderr[-2000:]
    streams = {name: {row.stream for row in shared.rows(name, sync_state, sync_state.c.stream)} for name in COMPANIES}
    assert "units" in streams["acme"] and "units" in streams["cedar"] and "units" not in streams["birch"]
    assert streams["birch"] == streams["acme"] - {"units"}

    deltas = {name: shared.run("delta-sync", name) for name in COMPANIES}
    assert deltas["birch"]["counts"]["unit"]["fetched"] == shared.initial["birch"]["counts"]["unit"]["fetched"] > 0
    assert deltas["acme"]["counts"]["unit"]["fetched"] == deltas["cedar"]["counts"]["unit"]["fetched"] == 0
    assert all(shared.cli_json(name, "state") for name in COMPANIES)
    synced = run_pmsync("sync", "delta", env=shared.env("cedar"))
    assert synced.returncode == 0, synced.stderr[-2000:]
    totals = re.search(r"platform rows of cedar: properties (\d+), units (\d+)", synced.stdout)
    assert totals and [int(n) for n in totals.groups()] == [len(shared.rows("cedar", t, t.c.id)) for t in (properties, units)]
    assert {m["stream"] for m in shared.cli_json("birch", "state") if m["run_id"] == deltas["birch"]["run_id"]} >= {"units"}


def test_a_unit_deleted_in_one_source_is_deactivated_snapshotted_and_reported_for_that_integration_only(shared, tmp_path):
    gone = min(synced_units(shared.store("cedar")))
    shared.store("cedar").delete("units", gone)

    results = {name: shared.run("property-reconciliation", name) for name in COMPANIES}

    assert [row["unit id"] for row in results["cedar"]["deactivated_units"]] == [gone]
    assert results["acme"]["deactivated_units"] == results["birch"]["deactivated_units"] == []
    active = {name: shared.rows(name, units, units.c.active, where=units.c.source_id == gone)[0].active for name in COMPANIES}
    assert active == {"acme": True, "birch": True, "cedar": False}
    for name in COMPANIES:
        [snapshot] = recent_snapshots(shared.engine, 20, name)
        assert (snapshot["id"], snapshot["integration"]) == (results[name]["snapshot_id"], name)
        assert snapshot["deactivated_units"] == (1 if name == "cedar" else 0)
        found, changes = snapshot_changes(shared.engine, integration=name)
        assert found["id"] == results[name]["snapshot_id"]
        expected = [(name, gone, f"Cedar unit {gone}")] if name == "cedar" else []
        assert [(row["integration"], row["unit_id"], row["unit_name"]) for row in changes[UNIT_DEACTIVATED]] == expected
        assert changes[UNIT_REACTIVATED] == []
    assert len(recent_snapshots(shared.engine, 20)) == 3
    cedars = results["cedar"]["snapshot_id"]
    with pytest.raises(UnknownSnapshot, match=f"no reconciliation snapshot {cedars} of integration 'acme'"):
        snapshot_changes(shared.engine, cedars, "acme")
    pages = {name: TestClient(create_app(shared.url, None, name), base_url="http://127.0.0.1:8780") for name in COMPANIES}
    shown = pages["cedar"].get(f"/snapshots/{cedars}")
    assert shown.status_code == 200 and f"Cedar unit {gone}" in shown.text
    assert f"Cedar unit {gone}" not in pages["acme"].get("/").text
    assert [pages["acme"].get(f"/snapshots/{cedars}{suffix}").status_code for suffix in ("", "/report.csv")] == [404, 404]

    listed = shared.cli_json("cedar", "report", "snapshots")
    assert [(s["id"], s["integration"]) for s in listed] == [(results["cedar"]["snapshot_id"], "cedar")]
    for name in COMPANIES:
        out = tmp_path / f"{name}.csv"
        done = run_pmsync("report", "deactivated", "--integration", name, "--out", str(out), env=shared.env(name))
        assert done.returncode == 0, done.stderr[-2000:]
        rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
        expected = [("cedar", str(gone), str(results["cedar"]["snapshot_id"]))] if name == "cedar" else []
        assert [(row["Integration"], row["Unit ID"], row["Snapshot"]) for row in rows] == expected


def property_of(shared: SharedPlatform, name: str, source_id: int) -> int:
    return shared.rows(name, properties, properties.c.id, where=properties.c.source_id == source_id)[0].id


def test_a_work_order_is_pushed_to_its_own_integrations_source_only(shared):
    building = min(b["id"] for b in shared.store("acme").records("buildings") if b["active"])
    made = {
        name: create_work_order(shared.engine, name, property_id=property_of(shared, name, building),
                                description=f"{name} leak")
        for name in ("acme", "birch")
    }
    for store in map(shared.store, COMPANIES):
        store.writes_log.clear()

    swept = shared.run("work-order-push", "birch")

    assert [(o["id"], o["sync_status"]) for o in swept["work_orders"]] == [(made["birch"], "synced")]
    [(method, path, body)] = [(w["method"], w["path"], w["body"]) for w in shared.store("birch").writes_log]
    assert (method, path, body["buildingID"], body["description"]) == ("POST", "/workorders", building, "birch leak")
    assert shared.store("acme").writes_log == [] and shared.store("cedar").writes_log == []
    with shared.engine.connect() as connection:
        acme_change = connection.execute(
            sa.select(work_order_changes.c.status, work_order_changes.c.attempts, work_orders.c.push_claim_token)
            .join(work_orders, work_orders.c.id == work_order_changes.c.work_order_id)
            .where(work_orders.c.id == made["acme"])
        ).one()
    assert tuple(acme_change) == ("pending", 0, None)
    with pytest.raises(WorkOrderNotFound, match=f"no work order {made['acme']} in integration 'birch'"):
        shared.run("work-order-push", "birch", work_order_id=made["acme"])
    elsewhere = run_pmsync("workorder", "update", f"WO-{made['acme']}", "--note", "from birch", "--no-push",
                           "--integration", "birch", env=shared.env("birch"))
    assert elsewhere.returncode != 0 and elsewhere.stdout == ""
    assert f"work order platform number WO-{made['acme']} belongs to integration 'acme', not 'birch'" in elsewhere.stderr
    assert len(shared.rows("acme", work_orders, work_order_changes.c.id,
                           where=work_order_changes.c.work_order_id == work_orders.c.id)) == 1
    assert shared.run("work-order-push", "cedar")["work_orders"] == []

    pushed = shared.run("work-order-push", "acme", work_order_id=made["acme"])

    assert pushed["work_orders"][0]["sync_status"] == "synced"
    assert [w["body"]["description"] for w in shared.store("acme").writes_log] == ["acme leak"]
    assert len(shared.store("birch").writes_log) == 1 and shared.store("cedar").writes_log == []
    created = {name: shared.rows(name, work_orders, work_orders.c.source_id, where=work_orders.c.id == made[name])[0].source_id
               for name in ("acme", "birch")}
    assert created["acme"] == created["birch"], "both sources hand out the same next id"
    for name in COMPANIES:
        shared.run("delta-sync", name)
    for name in ("acme", "birch"):
        assert [row.id for row in shared.rows(name, work_orders, work_orders.c.id,
                                              where=work_orders.c.source_id == created[name])] == [made[name]]
    assert shared.rows("cedar", work_orders, work_orders.c.id, where=work_orders.c.source_id == created["acme"]) == []
