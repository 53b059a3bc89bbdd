"""A Buildium delta with nothing changed checks nothing again, the records it re-reads that were held back (a work order
parked while its rental is not on the platform, one excluded by its property's kind) included: the second delta never
starts the quality gate (Great Expectations) and counts them held as the first did; the parked one lands when its rental arrives; a
changed held record is checked again (the sandbox over HTTP, SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa

from pmsync.jobs import JOBS
from sandbox.buildium import SANDBOX_STAFF_USER_ID
from schemas.tables import properties, sync_runs, unapplied_records, work_orders
from tests.flows.test_buildium_sync import buildium, buildium_env  # noqa: F401  (fixtures)
from tests.flows.test_cli import _first_run_env
from tests.flows.test_quiet_delta import ZERO, delta_in_its_own_process, last_run_counts

initial_sync, delta_sync = JOBS["initial-sync"], JOBS["delta-sync"]


def new_work_order(store, property_id: int, kind: str) -> int:
    """A new work order of a new task assigned to the staff user, on `property_id` of `kind` (a task's Property.Type)."""
    task = next(t for t in store.records("tasks") if t["AssignedToUserId"] == SANDBOX_STAFF_USER_ID)
    order = next(o for o in store.records("workorders") if o["_task_id"] == task["Id"])
    new_task = store.add("tasks", {**{k: v for k, v in task.items() if k != "Id"}, "UnitId": None,
                                   "Property": {"Id": property_id, "Type": kind, "Href": None}})
    return store.add("workorders", {**{k: v for k, v in order.items() if k != "Id"}, "_task_id": new_task["Id"]})["Id"]


def held(engine: sa.Engine) -> dict[int, sa.Row]:
    with engine.connect() as connection:
        return {row.source_id: row for row in connection.execute(
            sa.select(unapplied_records).where(unapplied_records.c.entity == "work_order"))}


def last_run_id(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.max(sync_runs.c.id))).scalar_one()


def test_a_second_quiet_delta_checks_no_held_record_again_a_parked_one_lands_and_a_changed_one_is_checked(
    buildium_env, buildium, platform_engine, tmp_path, report_measurement
):
    store = buildium.store
    initial_sync()
    inactive = next(r for r in store.records("rentals") if not r["IsActive"])
    parked_id = new_work_order(store, inactive["Id"], "Rental")
    excluded_id = new_work_order(store, inactive["Id"], "Unknown")

    first = delta_sync()["counts"]["work_order"]

    assert first["parked"] == 1 and first["excluded"] == 1 and first["fetched"] >= 2
    assert {source_id: row.status for source_id, row in held(platform_engine).items()
            if source_id in (parked_id, excluded_id)} == {parked_id: "parked", excluded_id: "excluded"}
    env = _first_run_env(buildium_env, tmp_path / "prefect-home")

    quiet = delta_in_its_own_process(env, report_measurement, "second quiet Buildium delta (held work orders re-read)")

    assert "quality gate started: False" in quiet, "the held records, unchanged, never reach the quality gate"
    counts = last_run_counts(platform_engine)
    assert counts["work_order"] == {**ZERO, **{name: first[name] for name in ("fetched", "unchanged", "parked",
                                                                           "excluded")}}
    assert all(numbers["fetched"] == numbers["unchanged"] for entity, numbers in counts.items() if entity != "work_order")
    now_held = held(platform_engine)
    assert now_held[parked_id].run_id == now_held[excluded_id].run_id == last_run_id(platform_engine), \
        "what the run left unapplied lists them"

    store.update("rentals", inactive["Id"], IsActive=True)
    arrived = delta_sync()["counts"]

    assert arrived["property"]["created"] == 1 and arrived["work_order"]["created"] == 1
    with platform_engine.connect() as connection:
        landed = connection.execute(
            sa.select(properties.c.source_id).join(work_orders, work_orders.c.property_id == properties.c.id)
            .where(work_orders.c.source_id == parked_id)).scalar_one()
    assert landed == inactive["Id"] and parked_id not in held(platform_engine)

    order = store.get("workorders", excluded_id)
    store.update("workorders", excluded_id, WorkDetails=f"{order.get('WorkDetails') or ''} Edited in Buildium.")
    changed = delta_in_its_own_process(env, report_measurement, "delta with the excluded work order edited")

    assert "quality gate started: True" in changed, "a changed held record is checked again"
    assert last_run_counts(platform_engine)["work_order"]["excluded"] == 1
    assert held(platform_engine)[excluded_id].source_hash != now_held[excluded_id].source_hash
