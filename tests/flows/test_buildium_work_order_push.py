"""Work orders made on the platform reach Buildium once, as a work order and its to-do task, through the spec's
endpoints on the Buildium sandbox over HTTP, on SQLite and PostgreSQL (the jobs with the plain steps)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from pmsync.jobs import JOBS
from pmsync.push.workorders import create_work_order, update_work_order, work_order_status
from sandbox import disconnect_fault
from sandbox.buildium import SANDBOX_STAFF_USER_ID, SANDBOX_VENDOR_ID, BuildiumSandboxServer
from schemas.tables import properties, units, work_orders
from tests.contract.buildium_spec import buildium_spec
from tests.flows.test_buildium_sync import buildium_env  # noqa: F401 (fixture)
from tests.flows.test_cli import run_pmsync

initial_sync, delta_sync, work_order_push = JOBS["initial-sync"], JOBS["delta-sync"], JOBS["work-order-push"]


@pytest.fixture
def buildium() -> Iterator[BuildiumSandboxServer]:
    """A small Buildium account on 127.0.0.1, fresh per test, rate-limited as Buildium is (10/s)."""
    with BuildiumSandboxServer(units=12, seed=3) as server:
        yield server


def a_rental_unit(engine: sa.Engine):
    with engine.connect() as connection:
        return connection.execute(
            sa.select(units.c.id.label("unit_id"), units.c.source_id.label("unit_source_id"),
                      properties.c.id.label("property_id"), properties.c.source_id.label("property_source_id"))
            .join(properties, properties.c.id == units.c.property_id)
            .where(units.c.active, properties.c.active, properties.c.kind == "rental")
            .order_by(units.c.id)
        ).first()


def writes(store) -> list[tuple[str, str]]:
    """The writes the sandbox took in (a 429 applied nothing: the client sends it again, as the spec asks)."""
    return [(write["method"], write["path"]) for write in store.writes_log if write["status"] != 429]


def marker_of(engine: sa.Engine, work_order_id: int) -> str:
    with engine.connect() as connection:
        return connection.execute(sa.select(work_orders.c.push_marker).where(work_orders.c.id == work_order_id)).scalar_one()


def marked(store, marker: str) -> list[dict]:
    """The sandbox's work orders whose WorkDetails carry the marker."""
    return [order for order in store.records("workorders") if marker in (order.get("WorkDetails") or "")]


def work_order_rows(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(work_orders)).scalar_one()


def test_a_pushed_work_order_is_a_task_of_the_staff_user_with_the_vendor_and_changes_go_where_buildium_keeps_them(
    buildium_env, buildium, platform_engine
):
    store, spec = buildium.store, buildium_spec()
    initial_sync()
    place = a_rental_unit(platform_engine)
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, unit_id=place.unit_id,
                                      description="Kitchen tap leaks\nUnder the sink, since Monday", priority="high")
    marker = marker_of(platform_engine, work_order_id)

    assert work_order_push(work_order_id=work_order_id)["work_orders"][0]["sync_status"] == "synced"
    assert writes(store) == [("POST", "/v1/workorders")]
    body = store.writes_log[0]["body"]
    assert spec.errors("#/components/schemas/WorkOrderPostMessage", body) == []
    assert body == {"VendorId": SANDBOX_VENDOR_ID, "EntryAllowed": "Unknown",
                    "WorkDetails": f"Kitchen tap leaks\nUnder the sink, since Monday\n\n[{marker}]",
                    "Task": {"Title": "Kitchen tap leaks", "Priority": "High", "Status": "New",
                             "AssignedToUserId": SANDBOX_STAFF_USER_ID, "PropertyId": place.property_source_id,
                             "UnitId": place.unit_source_id}}
    [created] = marked(store, marker)
    task = store.get("tasks", created["_task_id"])
    assert (task["AssignedToUserId"], task["Property"]["Id"], task["UnitId"], task["TaskType"]) == (
        SANDBOX_STAFF_USER_ID, place.property_source_id, place.unit_source_id, "Todo")
    assert (created["VendorId"], created["EntryAllowed"]) == (SANDBOX_VENDOR_ID, "Unknown")
    status = work_order_status(platform_engine, work_order_id)
    assert (status.source_id, status.sync_status, status.sync_error) == (created["Id"], "synced", None)

    store.update("workorders", created["Id"], VendorNotes="Call before coming", InvoiceNumber="INV-7")
    store.writes_log.clear()
    update_work_order(platform_engine, work_order_id, title="Tap leaks", status="InProgress", priority="LOW")
    assert work_order_push(work_order_id=work_order_id)["work_orders"][0]["sync_status"] == "synced"
    assert writes(store) == [("PUT", f"/v1/tasks/todorequests/{task['Id']}")]
    assert spec.errors("#/components/schemas/ToDoTaskPutMessage", store.writes_log[0]["body"]) == []
    task = store.get("tasks", task["Id"])
    assert (task["Title"], task["TaskStatus"], task["Priority"]) == ("Tap leaks", "InProgress", "Low")
    assert (task["AssignedToUserId"], task["Property"]["Id"], task["UnitId"]) == (
        SANDBOX_STAFF_USER_ID, place.property_source_id, place.unit_source_id), "the rest of the task is carried"

    store.writes_log.clear()
    update_work_order(platform_engine, work_order_id, description="Kitchen tap leaks badly")
    work_order_push(work_order_id=work_order_id)
    assert writes(store) == [("PUT", f"/v1/workorders/{created['Id']}")]
    assert spec.errors("#/components/schemas/WorkOrderPutMessage", store.writes_log[0]["body"]) == []
    after = store.get("workorders", created["Id"])
    assert after["WorkDetails"] == f"Kitchen tap leaks badly\n\n[{marker}]"
    assert (after["VendorNotes"], after["InvoiceNumber"], after["VendorId"], after["_task_id"]) == (
        "Call before coming", "INV-7", SANDBOX_VENDOR_ID, task["Id"]), "PUT carried every field it read"

    store.writes_log.clear()
    update_work_order(platform_engine, work_order_id, note="Plumber booked for Tuesday", custom_fields={"Key": "A"})
    update_work_order(platform_engine, work_order_id, complete=True, completion_comment="Washer replaced")
    pushed = work_order_push(work_order_id=work_order_id)["work_orders"][0]
    assert pushed["sync_status"] == "synced"
    assert writes(store) == [("PUT", f"/v1/tasks/todorequests/{task['Id']}")] * 2, "custom fields stay on the platform"
    task = store.get("tasks", task["Id"])
    messages = [entry["Message"] for entry in task["_history"]]
    assert f"Plumber booked for Tuesday\n\n[{marker_of_change(platform_engine, work_order_id, 'note')}]" in messages
    assert task["TaskStatus"] == "Completed" and any("Washer replaced" in (m or "") for m in messages)

    rows_before = work_order_rows(platform_engine)
    result = delta_sync()
    assert result["counts"]["work_order"]["created"] == 0
    assert work_order_rows(platform_engine) == rows_before
    assert len(marked(store, marker)) == 1


def marker_of_change(engine: sa.Engine, work_order_id: int, kind: str) -> str:
    from schemas.tables import work_order_changes

    with engine.connect() as connection:
        return connection.execute(sa.select(work_order_changes.c.marker).where(
            work_order_changes.c.work_order_id == work_order_id, work_order_changes.c.kind == kind)).scalar_one()


def test_a_create_and_a_note_whose_answers_are_lost_are_found_on_retry_not_sent_twice(
    buildium_env, buildium, platform_engine
):
    store = buildium.store
    initial_sync()
    place = a_rental_unit(platform_engine)
    store.inject(disconnect_fault("/v1/workorders", "POST", after_processing=True))
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, description="No heat")

    outcome = work_order_push(work_order_id=work_order_id)["work_orders"][0]

    [created] = marked(store, marker_of(platform_engine, work_order_id))
    assert writes(store) == [("POST", "/v1/workorders")], "the retry looked first and found it"
    assert (outcome["sync_status"], outcome["source_id"]) == ("synced", created["Id"])

    path = f"/v1/tasks/todorequests/{created['_task_id']}"
    store.inject(disconnect_fault(path, "PUT", after_processing=True))
    store.writes_log.clear()
    update_work_order(platform_engine, work_order_id, note="Engineer on the way")
    assert work_order_push(work_order_id=work_order_id)["work_orders"][0]["sync_status"] == "synced"
    assert writes(store) == [("PUT", path)]
    note = marker_of_change(platform_engine, work_order_id, "note")
    history = store.get("tasks", created["_task_id"])["_history"]
    assert [entry["Message"] for entry in history].count(f"Engineer on the way\n\n[{note}]") == 1


def test_a_create_the_push_never_heard_back_about_is_adopted_by_the_next_delta_sync(
    buildium_env, buildium, platform_engine, monkeypatch
):
    store = buildium.store
    initial_sync()
    place = a_rental_unit(platform_engine)
    monkeypatch.setenv("PMSYNC_BUILDIUM_MAX_ATTEMPTS", "1")
    store.inject(disconnect_fault("/v1/workorders", "POST", after_processing=True))
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, unit_id=place.unit_id,
                                      description="Broken window")
    assert work_order_push(work_order_id=work_order_id)["work_orders"][0]["sync_status"] == "pending"
    [landed] = marked(store, marker_of(platform_engine, work_order_id))
    rows_before = work_order_rows(platform_engine)

    monkeypatch.setenv("PMSYNC_BUILDIUM_MAX_ATTEMPTS", "6")
    delta_sync()
    assert work_order_rows(platform_engine) == rows_before
    assert work_order_status(platform_engine, work_order_id).source_id == landed["Id"]

    store.writes_log.clear()
    outcome = work_order_push(work_order_id=work_order_id)["work_orders"][0]
    assert (outcome["sync_status"], outcome["source_id"]) == ("synced", landed["Id"])
    assert store.writes_log == []


def test_a_refused_create_fails_with_the_reason_until_sync_now_after_the_fix(buildium_env, buildium, platform_engine,
                                                                             monkeypatch):
    """The vendor missing, then one Buildium refuses (422), then `pmsync workorder sync-now` once it is fixed."""
    store = buildium.store
    initial_sync()
    place = a_rental_unit(platform_engine)
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, description="Gate")

    monkeypatch.delenv("PMSYNC_BUILDIUM_VENDOR_ID")
    unconfigured = work_order_push(work_order_id=work_order_id)["work_orders"][0]
    assert unconfigured["sync_status"] == "failed" and "PMSYNC_BUILDIUM_VENDOR_ID" in unconfigured["error"]
    assert store.writes_log == [], "nothing sent without a vendor"

    monkeypatch.setenv("PMSYNC_BUILDIUM_VENDOR_ID", "999999")
    refused = work_order_push(work_order_id=work_order_id, retry_failed=True)["work_orders"][0]
    assert refused["sync_status"] == "failed" and "Vendor 999999 does not exist" in refused["error"]
    assert work_order_push()["work_orders"] == [], "the sweep leaves a refused change for Sync Now"
    status = work_order_status(platform_engine, work_order_id)
    assert (status.sync_status, status.source_id) == ("failed", None)
    assert "422" in status.sync_error

    monkeypatch.setenv("PMSYNC_BUILDIUM_VENDOR_ID", str(SANDBOX_VENDOR_ID))
    fixed = run_pmsync("workorder", "sync-now", f"WO-{work_order_id}", env=buildium_env)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr[-2000:]
    [created] = marked(store, marker_of(platform_engine, work_order_id))
    assert f"work order {created['Id']} (WO-{work_order_id}): synced" in fixed.stdout
    status = work_order_status(platform_engine, work_order_id)
    assert (status.sync_status, status.source_id, status.sync_error) == ("synced", created["Id"], None)
    assert writes(store) == [("POST", "/v1/workorders")] * 2


def test_a_status_buildium_has_no_counterpart_for_fails_naming_what_it_takes(buildium_env, buildium, platform_engine):
    initial_sync()
    place = a_rental_unit(platform_engine)
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, description="Fence")
    work_order_push(work_order_id=work_order_id)
    update_work_order(platform_engine, work_order_id, status="Waiting on parts")

    failed = work_order_push(work_order_id=work_order_id)["work_orders"][0]
    assert failed["sync_status"] == "failed" and "'Waiting on parts' has no Buildium counterpart" in failed["error"]

    update_work_order(platform_engine, work_order_id, status="Deferred")
    assert work_order_push(work_order_id=work_order_id, retry_failed=True)["work_orders"][0]["sync_status"] == "synced"
    source_id = work_order_status(platform_engine, work_order_id).source_id
    task_id = buildium.store.get("workorders", source_id)["_task_id"]
    assert buildium.store.get("tasks", task_id)["TaskStatus"] == "Deferred"


def test_a_source_without_field_updates_still_gets_a_field_edit_as_a_progress_task(integration_env, sandbox,
                                                                                   platform_engine):
    from tests.flows.test_work_order_push import a_unit_with_its_property

    store = sandbox.store
    initial_sync()
    place = a_unit_with_its_property(platform_engine)
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, description="Tap")
    work_order_push(work_order_id=work_order_id)
    source_id = work_order_status(platform_engine, work_order_id).source_id
    store.writes_log.clear()

    update_work_order(platform_engine, work_order_id, priority="HIGH", title="Kitchen tap")
    assert work_order_push(work_order_id=work_order_id)["work_orders"][0]["sync_status"] == "synced"
    assert writes(store) == [("POST", f"/workorders/{source_id}/tasks")]
    assert store.writes_log[0]["body"]["description"] == (
        "Changed on the platform: priority: MEDIUM → HIGH; title: (none) → Kitchen tap")


def an_association_unit(engine: sa.Engine, store, rental_too: bool):
    """An active association unit on the platform whose association's id a rental of the sandbox has too (or not)."""
    rentals = {rental["Id"] for rental in store.records("rentals")}
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(units.c.id.label("unit_id"), units.c.source_id.label("unit_source_id"),
                      properties.c.id.label("property_id"), properties.c.source_id.label("property_source_id"))
            .join(properties, properties.c.id == units.c.property_id)
            .where(units.c.active, properties.c.active, properties.c.kind == "association").order_by(units.c.id)).all()
    return next(place for place in found if (place.property_source_id in rentals) == rental_too)


def test_a_work_order_on_an_association_names_it_as_its_tasks_property_and_comes_back_linked_to_it(
    buildium_env, buildium, platform_engine
):
    """The spec's property ids span rentals and associations (a property group's "association and/or rental property
    unique identifiers"): the association's id is the task's PropertyId, and the task is the association's."""
    store, spec = buildium.store, buildium_spec()
    initial_sync()
    place = an_association_unit(platform_engine, store, rental_too=True)
    store.delete("rentals", place.property_source_id)
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, unit_id=place.unit_id,
                                      description="Pool gate sticks")
    store.clear_requests_log()

    assert work_order_push(work_order_id=work_order_id)["work_orders"][0]["sync_status"] == "synced"

    assert writes(store) == [("POST", "/v1/workorders")]
    body = store.writes_log[0]["body"]
    assert spec.errors("#/components/schemas/WorkOrderPostMessage", body) == []
    assert (body["Task"]["PropertyId"], body["Task"]["UnitId"]) == (place.property_source_id, place.unit_source_id)
    assert ("GET", f"/v1/rentals/{place.property_source_id}") in {(m, p) for m, p, _ in store.requests_log}
    [created] = marked(store, marker_of(platform_engine, work_order_id))
    task = store.get("tasks", created["_task_id"])
    assert (task["Property"]["Id"], task["Property"]["Type"], task["UnitId"]) == (
        place.property_source_id, "Association", place.unit_source_id)

    update_work_order(platform_engine, work_order_id, title="Pool gate")
    assert work_order_push(work_order_id=work_order_id)["work_orders"][0]["sync_status"] == "synced"
    assert store.get("tasks", task["Id"])["Property"]["Type"] == "Association"
    rows_before = work_order_rows(platform_engine)
    delta_sync()
    assert work_order_rows(platform_engine) == rows_before
    with platform_engine.connect() as connection:
        row = connection.execute(sa.select(work_orders).where(work_orders.c.id == work_order_id)).one()
    assert (row.source_id, row.property_id, row.unit_id) == (created["Id"], place.property_id, place.unit_id)


def test_a_work_order_on_an_association_whose_id_a_rental_has_too_is_refused_unsent_saying_what_to_do(
    buildium_env, buildium, platform_engine
):
    store = buildium.store
    initial_sync()
    place = an_association_unit(platform_engine, store, rental_too=True)
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, unit_id=place.unit_id,
                                      description="Roof leak over the lobby")

    refused = work_order_push(work_order_id=work_order_id)["work_orders"][0]

    assert refused["sync_status"] == "failed"
    assert store.writes_log == [] and marked(store, marker_of(platform_engine, work_order_id)) == []
    status = work_order_status(platform_engine, work_order_id)
    assert (status.sync_status, status.source_id) == ("failed", None)
    for said in (f"work order {work_order_id} is on association {place.property_source_id}", "Task.PropertyId",
                 f"rental {place.property_source_id} of this account has the same id",
                 f"create it in Buildium on association {place.property_source_id}"):
        assert said in status.sync_error and said in refused["error"]
