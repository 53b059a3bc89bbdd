"""Delta and lease sync scenarios against the sandbox over HTTP, on SQLite and PostgreSQL: the jobs with the plain
steps, but for one lease-sync flow run (the rules and their outcomes do not depend on Prefect)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from flows.lease_sync import lease_sync
from pmsync.sync.explain import explain
from pmsync.integrations.integration import integration_from_environment
from pmsync.jobs import JOBS
from sandbox import SANDBOX_INTEGRATION_USER
from sandbox.faults import drift_fault
from schemas.tables import leases, properties, residents, sync_runs, sync_state, unapplied_records, units, work_orders

initial_sync, delta_sync = JOBS["initial-sync"], JOBS["delta-sync"]


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def one(engine: sa.Engine, table: sa.Table, source_id: int):
    with engine.connect() as connection:
        return connection.execute(sa.select(table).where(table.c.source_id == source_id)).one_or_none()


def synced_lease_with_resident(store):
    """An active lease on an active unit, and one of its Tenant contacts."""
    for lease in store.records("leases"):
        unit = store.get("units", lease["unitID"])
        if lease["active"] and unit and unit["active"] and store.get("buildings", unit["buildingID"])["active"]:
            tenant = next((c for c in lease["contacts"] if c["role"] == "Tenant"), None)
            if tenant:
                return lease, tenant
    raise AssertionError("sandbox has no active lease with a tenant")


def fresh_copy(record: dict) -> dict:
    """A record to add as new: no id and no timestamps of its own."""
    return {k: v for k, v in record.items() if k not in {"id", "createdDateTime", "lastModifiedDateTime"}}


def managed_order(store, mine: bool):
    for order in store.records("workorders"):
        is_mine = (order.get("managedBy") or "").strip().lower() == SANDBOX_INTEGRATION_USER
        if is_mine == mine and store.get("buildings", order["buildingID"])["active"]:
            return order
    raise AssertionError("no such work order")


def test_updates_follow_the_rules_per_entity(integration_env, sandbox, platform_engine):
    store = sandbox.store
    initial_sync()
    building = next(b for b in store.records("buildings") if b["active"])
    lease, tenant = synced_lease_with_resident(store)
    other_lease = next(l for l in store.records("leases") if l["active"] and l["id"] != lease["id"] and one(platform_engine, leases, l["id"]))
    order = managed_order(store, mine=True)
    name_before = one(platform_engine, properties, building["id"]).name

    store.update("buildings", building["id"], name="Renamed Tower")
    contacts = [{**c, "email": "changed@example.com"} if c["id"] == tenant["id"] else c for c in lease["contacts"]]
    store.update("leases", lease["id"], contacts=contacts, moveOutDate="2027-03-31")
    store.update("leases", other_lease["id"], baseRent=4321.5)
    store.update("workorders", order["id"], description="Changed in the source", priority="LOW")

    result = delta_sync()

    prop = one(platform_engine, properties, building["id"])
    assert prop.name == name_before and prop.source_data["name"] == "Renamed Tower"
    resident = one(platform_engine, residents, tenant["id"])
    assert resident.email == tenant["email"] and str(resident.move_out_date) == "2027-03-31"
    assert float(one(platform_engine, leases, other_lease["id"]).base_rent) == 4321.5
    kept = one(platform_engine, work_orders, order["id"])
    assert kept.description == order["description"] and kept.priority == order["priority"]
    assert result["counts"]["property"]["updated"] == 1
    assert result["counts"]["work_order"]["updated"] == 0

    lines = explain(platform_engine, integration_from_environment(), "property", building["id"], integration_from_environment().open_client())
    assert any(line.startswith("name: platform") and "not updatable by policy" in line for line in lines)


def test_a_second_rule_table_changes_behaviour_without_flow_changes(integration_env, sandbox, platform_engine, monkeypatch):
    monkeypatch.setenv("PMSYNC_SOURCE_SYSTEM", "propertyware-contact-updates")
    initial_sync()
    lease, tenant = synced_lease_with_resident(sandbox.store)
    contacts = [{**c, "email": "new.address@example.com"} if c["id"] == tenant["id"] else c for c in lease["contacts"]]
    sandbox.store.update("leases", lease["id"], contacts=contacts)

    delta_sync()

    assert one(platform_engine, residents, tenant["id"]).email == "new.address@example.com"


def test_after_a_five_day_outage_a_change_from_four_days_ago_is_picked_up(integration_env, sandbox, platform_engine):
    initial_sync()
    with platform_engine.begin() as connection:
        connection.execute(sa.update(sync_state).values(high_water_mark=now() - timedelta(days=5)))
    unit = next(u for u in sandbox.store.records("units") if one(platform_engine, units, u["id"]))
    sandbox.store.update("units", unit["id"], at=now() - timedelta(days=4), name="Unit renamed four days ago")

    delta_sync()

    assert one(platform_engine, units, unit["id"]).source_data["name"] == "Unit renamed four days ago"
    with platform_engine.connect() as connection:
        window = connection.execute(sa.select(sync_runs.c.window_start).order_by(sync_runs.c.id.desc())).first()[0]
    assert window <= now() - timedelta(days=7)


def test_a_late_arrival_two_hours_in_the_past_is_still_picked_up(integration_env, sandbox, platform_engine):
    initial_sync()
    lease = next(l for l in sandbox.store.records("leases") if one(platform_engine, leases, l["id"]))
    sandbox.store.update("leases", lease["id"], at=now() - timedelta(hours=2), baseRent=999.0)

    delta_sync()

    assert float(one(platform_engine, leases, lease["id"]).base_rent) == 999.0


def test_records_inserted_or_removed_while_paging_are_not_missed_or_duplicated(integration_env, sandbox, platform_engine, monkeypatch):
    monkeypatch.setenv("PMSYNC_PW_PAGE_SIZE", "3")  # the units' listing spans two batches (a re-read across them
    # escapes the quality gate's uniqueness check, which sees one batch at a time)
    store = sandbox.store
    held_before = {u["id"] for u in store.records("units")}
    listed_before = {u["id"] for u in store.records("units") if u["active"] is not False}  # deactivated ones are not
    store.inject(drift_fault("/units", after_pages=2, insert=5, delete_front=3))
    store.clear_requests_log()

    initial = initial_sync()

    assert store.faults == [], "the drift fired during the initial sync"
    unit_requests = [query for _, path, query in store.requests_log if path == "/units"]
    offsets = [int(query["offset"]) for query in unit_requests]
    stride = 3 - 1  # each page re-reads the previous page's last record; pages in flight may arrive a stride apart
    assert any(offset < max(offsets[:n]) - stride for n, offset in enumerate(offsets) if n), f"no step back: {offsets}"
    units_now = {u["id"]: u for u in store.records("units")}
    deleted, inserted = held_before - set(units_now), set(units_now) - held_before
    assert deleted == set(sorted(held_before)[:3]) and len(inserted) == 5
    window_end = unit_requests[0]["lastModifiedDateTimeEnd"]  # inserted units modified in that second are listed too
    listed = listed_before | {i for i in inserted if units_now[i]["lastModifiedDateTime"] <= window_end}
    assert initial["counts"]["unit"]["fetched"] == len(listed), "each listed unit read exactly once"

    delta_sync()

    in_source = {u["id"] for u in store.records("units") if u["active"] and store.get("buildings", u["buildingID"])["active"]}
    with platform_engine.connect() as connection:
        on_platform = set(connection.execute(sa.select(units.c.source_id)).scalars())
    assert in_source <= on_platform


def test_a_work_order_assigned_to_the_integration_user_later_arrives_with_the_next_delta(
    integration_env, sandbox, platform_engine
):
    initial_sync()
    other = managed_order(sandbox.store, mine=False)
    assert one(platform_engine, work_orders, other["id"]) is None
    integration = integration_from_environment()
    reason = explain(platform_engine, integration, "work_order", other["id"], None)
    assert any("excluded by run 1" in line and "managed_by" in line for line in reason)

    sandbox.store.update("workorders", other["id"], managedBy=f"  {SANDBOX_INTEGRATION_USER.upper()} ")
    result = delta_sync()

    assert one(platform_engine, work_orders, other["id"]) is not None
    assert result["counts"]["work_order"]["created"] == 1
    with platform_engine.connect() as connection:
        assert connection.execute(
            sa.select(unapplied_records).where(unapplied_records.c.source_id == other["id"])
        ).first() is None


def latest_writes(engine: sa.Engine) -> list:
    tables = (properties, units, leases, residents, work_orders, unapplied_records)
    with engine.connect() as connection:
        return [
            connection.execute(sa.select(sa.func.max(t.c.last_seen_at if t is unapplied_records else t.c.updated_at))).scalar()
            for t in tables
        ]


def test_a_delta_with_no_source_changes_writes_nothing_and_reads_one_page_per_stream(integration_env, sandbox, platform_engine):
    initial_sync()
    stamps = latest_writes(platform_engine)
    sandbox.store.clear_requests_log()

    result = delta_sync()

    assert all(numbers["created"] == numbers["updated"] == 0 for numbers in result["counts"].values())
    assert all(numbers["fetched"] == 0 for numbers in result["counts"].values())
    assert len(sandbox.store.requests_log) == len(integration_from_environment().rules.streams)
    assert latest_writes(platform_engine) == stamps


def test_a_parked_unit_is_applied_by_the_run_that_brings_its_property(integration_env, sandbox, platform_engine, monkeypatch):
    store = sandbox.store
    initial_sync()
    building_id = store.next_id("buildings") + 50
    template = fresh_copy(next(u for u in store.records("units") if u["active"]))
    unit = store.add("units", {**template, "buildingID": building_id, "name": "Parked 1"}, at=now() - timedelta(days=10))
    with platform_engine.begin() as connection:
        connection.execute(sa.delete(sync_state).where(sync_state.c.stream == "units"))
    monkeypatch.setenv("PMSYNC_PARKED_ALERT_HOURS", "0")

    parked_run = delta_sync()

    assert parked_run["counts"]["unit"]["parked"] == 1 and parked_run["stale_parked"] >= 1
    assert one(platform_engine, units, unit["id"]) is None
    building = fresh_copy(next(b for b in store.records("buildings") if b["active"]))
    store.add("buildings", {**building, "id": building_id, "name": "Late Tower"})

    arriving = delta_sync()

    assert arriving["counts"]["unit"] == {**arriving["counts"]["unit"], "created": 1, "fetched": 0}
    assert one(platform_engine, units, unit["id"]).property_id == one(platform_engine, properties, building_id).id


@pytest.mark.flow
def test_lease_sync_overwrites_leases_and_follows_the_resident_rule(integration_env, sandbox, platform_engine):
    store = sandbox.store
    initial_sync()
    lease, tenant = synced_lease_with_resident(store)
    newcomer = {**tenant, "id": 99_000_001, "firstName": "Nia", "primary": False, "role": "Occupant"}
    renamed = [{**c, "firstName": "Renamed"} if c["id"] == tenant["id"] else c for c in lease["contacts"]]
    store.update("leases", lease["id"], at=now() - timedelta(days=30), status="Notice", contacts=[*renamed, newcomer])

    result = lease_sync()

    assert one(platform_engine, leases, lease["id"]).status == "Notice"
    assert one(platform_engine, residents, newcomer["id"]).first_name == "Nia"
    assert one(platform_engine, residents, tenant["id"]).first_name == tenant["firstName"]
    assert result["counts"]["resident"]["created"] == 1


def test_a_contact_on_an_old_and_a_current_lease_stays_a_resident(integration_env, sandbox, platform_engine):
    store = sandbox.store
    lease, tenant = synced_lease_with_resident(store)
    old = next(l for l in store.records("leases") if not l["active"] and l["id"] > lease["id"])
    store.update("leases", old["id"], contacts=[*old["contacts"], {**tenant, "primary": False}])
    store.update("leases", lease["id"], moveOutDate="2027-05-31")

    initial_sync()

    resident = one(platform_engine, residents, tenant["id"])
    assert resident is not None and str(resident.move_out_date) == "2027-05-31"
    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(unapplied_records).where(unapplied_records.c.source_id == tenant["id"])).first() is None
