"""Reconciliation scenarios against the sandbox over HTTP, on SQLite and PostgreSQL: the jobs with the plain steps
(the reconciliation flow runs in test_reconciliation_report.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pmsync.jobs import JOBS
from pmsync.reconcile.parts import IncompleteListing, MassDeactivationRefused, set_property_disabled_by_hand
from sandbox.faults import drift_fault, drop_page_fault
from schemas.tables import properties, property_logs, reconciliation_snapshots, snapshot_deactivated_units, sync_runs, units

initial_sync, delta_sync, reconcile = JOBS["initial-sync"], JOBS["delta-sync"], JOBS["property-reconciliation"]


def one(engine: sa.Engine, table: sa.Table, source_id: int):
    with engine.connect() as connection:
        return connection.execute(sa.select(table).where(table.c.source_id == source_id)).one()


def count(engine: sa.Engine, table: sa.Table, *where) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def active_units(engine: sa.Engine) -> set[int]:
    with engine.connect() as connection:
        return set(connection.execute(sa.select(units.c.source_id).where(units.c.active.is_(True))).scalars())


def logs_of(engine: sa.Engine, property_source_id: int) -> list:
    with engine.connect() as connection:
        return connection.execute(
            sa.select(property_logs).join(properties, properties.c.id == property_logs.c.property_id)
            .where(properties.c.source_id == property_source_id).order_by(property_logs.c.id)
        ).all()


def synced_unit_ids(sandbox, engine: sa.Engine, how_many: int | None = None) -> list[int]:
    ids = sorted(u["id"] for u in sandbox.store.records("units") if u["id"] in active_units(engine))
    return ids if how_many is None else ids[:how_many]


def test_units_gone_from_the_source_are_confirmed_deactivated_logged_and_snapshotted(integration_env, sandbox, platform_engine):
    store = sandbox.store
    initial_sync()
    *deleted, deactivated = synced_unit_ids(sandbox, platform_engine, 3)
    building_of = {unit_id: store.get("units", unit_id)["buildingID"] for unit_id in [*deleted, deactivated]}
    for unit_id in deleted:
        store.delete("units", unit_id)
    store.deactivate("units", deactivated)
    store.clear_requests_log()

    result = reconcile()

    assert sorted(row["unit id"] for row in result["deactivated_units"]) == sorted([*deleted, deactivated])
    confirmations = {path for method, path, _ in store.requests_log if path.startswith("/units/")}
    assert confirmations == {f"/units/{i}" for i in [*deleted, deactivated]}
    with platform_engine.connect() as connection:
        evidence = dict(connection.execute(
            sa.select(units.c.source_id, snapshot_deactivated_units.c.source_evidence)
            .join(units, units.c.id == snapshot_deactivated_units.c.unit_id)
            .where(snapshot_deactivated_units.c.snapshot_id == result["snapshot_id"])
        ).all())
    assert evidence == {deleted[0]: "deleted_in_source", deleted[1]: "deleted_in_source", deactivated: "deactivated_in_source"}
    for unit_id in [*deleted, deactivated]:
        unit = one(platform_engine, units, unit_id)
        assert unit.active is False and unit.deactivated_at is not None and "in source" in unit.deactivation_reason
        lines = [log.message for log in logs_of(platform_engine, building_of[unit_id]) if log.event == "unit_deactivated"]
        assert any(f"unit {unit_id} " in line and f"run {result['run_id']}" in line for line in lines)
    assert one(platform_engine, units, deleted[0]).deactivation_reason == f"deleted in source (GET /units/{deleted[0]} answered 404)"
    with platform_engine.connect() as connection:
        run = connection.execute(sa.select(sync_runs).where(sync_runs.c.id == result["run_id"])).one()
    assert (run.flow, run.status) == ("reconcile", "succeeded")

    again = reconcile()

    assert again["deactivated_units"] == [] and again["snapshot_id"] != result["snapshot_id"]
    assert count(platform_engine, snapshot_deactivated_units) == 3


def test_a_property_disabled_by_hand_stays_disabled_through_syncs_and_reconciliation(integration_env, sandbox, platform_engine):
    store = sandbox.store
    initial_sync()
    unit_id = synced_unit_ids(sandbox, platform_engine, 1)[0]
    building_id = store.get("units", unit_id)["buildingID"]
    set_property_disabled_by_hand(platform_engine, "default", building_id, True)
    store.update("buildings", building_id, name="Touched in the source", active=True)
    record = store.get("units", unit_id)
    store.delete("units", unit_id)
    reconcile()
    store.add("units", record)

    initial_sync()
    delta_sync()
    result = reconcile()

    prop = one(platform_engine, properties, building_id)
    assert prop.active is False and prop.manually_disabled is True and prop.deactivation_reason == "disabled by hand on the platform"
    assert prop.source_data["name"] == "Touched in the source"
    assert one(platform_engine, units, unit_id).active is False
    assert result["reactivated_units"] == [] and result["reactivated_properties"] == []
    assert [log.event for log in logs_of(platform_engine, building_id)] == ["property_disabled_by_hand", "unit_deactivated"]

    set_property_disabled_by_hand(platform_engine, "default", building_id, False)
    reconcile()

    assert one(platform_engine, properties, building_id).active is True
    assert one(platform_engine, units, unit_id).active is True


def test_a_deleted_then_restored_unit_comes_back_active_and_logged(integration_env, sandbox, platform_engine):
    store = sandbox.store
    initial_sync()
    unit_ids = synced_unit_ids(sandbox, platform_engine, 2)
    records = [store.get("units", unit_id) for unit_id in unit_ids]
    for unit_id in unit_ids:
        store.delete("units", unit_id)
    reconcile()
    assert not active_units(platform_engine) & set(unit_ids)

    store.add("units", {key: value for key, value in records[0].items() if key != "lastModifiedDateTime"})
    delta_sync()
    unit = one(platform_engine, units, unit_ids[0])
    assert unit.active is True and unit.deactivated_at is None and unit.deactivation_reason is None
    logs = logs_of(platform_engine, records[0]["buildingID"])
    assert logs[-1].event == "unit_reactivated" and "by sync run" in logs[-1].message

    store.add("units", records[1])
    result = reconcile()
    assert [row["unit id"] for row in result["reactivated_units"]] == [unit_ids[1]]
    assert one(platform_engine, units, unit_ids[1]).active is True


def test_a_source_listing_no_units_deactivates_nothing_and_fails_clearly(integration_env, sandbox, platform_engine):
    store = sandbox.store
    initial_sync()
    before = active_units(platform_engine)
    for unit in store.records("units"):
        store.delete("units", unit["id"])

    with pytest.raises(MassDeactivationRefused) as refused:
        reconcile()

    message = str(refused.value)
    assert f"would deactivate {len(before)} of {len(before)} active units" in message
    assert "listing is empty" in message and "--allow-mass-deactivation" in message
    assert refused.value.facts == {"kind": "units", "would_deactivate": len(before), "active": len(before)}
    assert active_units(platform_engine) == before
    assert count(platform_engine, reconciliation_snapshots) == 0
    assert count(platform_engine, sync_runs, sync_runs.c.flow == "reconcile", sync_runs.c.status == "failed") == 1


def test_seventy_percent_fewer_units_is_refused_until_explicitly_allowed(integration_env, sandbox, platform_engine):
    store = sandbox.store
    initial_sync()
    before = active_units(platform_engine)
    doomed = sorted(before)[: round(len(before) * 0.7)]
    for unit_id in doomed:
        store.delete("units", unit_id)

    with pytest.raises(MassDeactivationRefused, match=rf"would deactivate {len(doomed)} of {len(before)} active units \(70%\)"):
        reconcile()
    assert active_units(platform_engine) == before
    assert not any(path.startswith("/units/") for _, path, _ in store.requests_log)

    result = reconcile(allow_mass_deactivation=True)

    assert active_units(platform_engine) == before - set(doomed)
    with platform_engine.connect() as connection:
        snapshot = connection.execute(sa.select(reconciliation_snapshots)).one()
    assert snapshot.id == result["snapshot_id"] and snapshot.mass_deactivation_allowed is True


def test_a_listing_that_loses_pages_deactivates_nothing(integration_env, sandbox, platform_engine, monkeypatch):
    monkeypatch.setenv("PMSYNC_PW_PAGE_SIZE", "7")
    store = sandbox.store
    initial_sync()
    before = active_units(platform_engine)
    store.inject(drop_page_fault("/units", page_offset=12))

    mid_scan = reconcile()

    assert store.faults == [] and mid_scan["deactivated_units"] == []
    gone = synced_unit_ids(sandbox, platform_engine, 3)
    for unit_id in gone:
        store.delete("units", unit_id)
    store.inject(drop_page_fault("/units", page_offset=0))
    store.inject(drop_page_fault("/units", page_offset=0))

    with pytest.raises(IncompleteListing, match="units listing was incomplete twice .*nothing was deactivated"):
        reconcile()

    assert active_units(platform_engine) == before and store.faults == []
    assert count(platform_engine, reconciliation_snapshots) == 1
    reconcile()
    assert active_units(platform_engine) == before - set(gone)


def test_a_listing_that_changes_mid_scan_is_rescanned(integration_env, sandbox, platform_engine, monkeypatch):
    monkeypatch.setenv("PMSYNC_PW_PAGE_SIZE", "7")
    store = sandbox.store
    initial_sync()
    before = active_units(platform_engine)
    first_three = store.table("units").ids[:3]
    store.inject(drift_fault("/units", after_pages=2, insert=0, delete_front=3))
    store.clear_requests_log()

    result = reconcile()

    assert store.faults == []
    first_pages = [q for _, path, q in store.requests_log if path == "/units" and q.get("offset") == "0"]
    assert len(first_pages) == 4, "two scans, each with its closing count"
    assert active_units(platform_engine) == before - set(first_three)
    assert sorted(row["unit id"] for row in result["deactivated_units"]) == sorted(set(first_three) & before)


def test_a_dry_run_shows_the_changes_and_writes_nothing(integration_env, sandbox, platform_engine):
    store = sandbox.store
    initial_sync()
    gone = synced_unit_ids(sandbox, platform_engine, 2)
    for unit_id in gone:
        store.delete("units", unit_id)
    tables = (units, properties, property_logs, reconciliation_snapshots, snapshot_deactivated_units, sync_runs)
    with platform_engine.connect() as connection:
        before = {t.name: connection.execute(sa.select(t)).all() for t in tables}

    preview = reconcile(dry_run=True)

    assert preview["dry_run"] is True
    assert sorted(row["unit id"] for row in preview["deactivated_units"]) == gone
    with platform_engine.connect() as connection:
        assert {t.name: connection.execute(sa.select(t)).all() for t in tables} == before
