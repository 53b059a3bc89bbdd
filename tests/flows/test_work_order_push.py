"""Work orders made on the platform reach the source once, through the vendor's real endpoints, on SQLite and PostgreSQL
(the jobs with the plain steps, and `pmsync` with no Prefect server; the first test runs the push flow)."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter

from flows.work_order_push import work_order_push as work_order_push_flow
from pmsync.jobs import JOBS
from pmsync.runs.bookkeeping import utc_now
from pmsync.push.workorders import create_work_order, update_work_order, work_order_status
from sandbox import disconnect_fault, status_fault
from sandbox.slowdowns import Slowdown
from schemas.tables import properties, units, work_order_changes, work_orders
from tasks.work_order_events import WORK_ORDER_CHANGED, announce_work_order_change
from tests.flows.test_cli import run_pmsync

initial_sync, delta_sync, work_order_push = JOBS["initial-sync"], JOBS["delta-sync"], JOBS["work-order-push"]


def a_unit_with_its_property(engine: sa.Engine):
    with engine.connect() as connection:
        return connection.execute(
            sa.select(units.c.id.label("unit_id"), units.c.source_id.label("unit_source_id"),
                      properties.c.id.label("property_id"), properties.c.source_id.label("building_source_id"))
            .join(properties, properties.c.id == units.c.property_id)
            .where(units.c.active, properties.c.active)
            .order_by(units.c.id)
        ).first()


def writes(store) -> list[tuple[str, str]]:
    return [(write["method"], write["path"]) for write in store.writes_log]


def tagged(store, marker: str) -> list[dict]:
    return [order for order in store.records("workorders") if order.get("searchTag") == marker]


def marker_of(engine: sa.Engine, work_order_id: int) -> str:
    with engine.connect() as connection:
        return connection.execute(sa.select(work_orders.c.push_marker).where(work_orders.c.id == work_order_id)).scalar_one()


def work_order_rows(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(work_orders)).scalar_one()


@pytest.mark.flow
def test_create_note_and_completion_each_send_one_write_and_the_next_delta_adds_no_duplicate(
    integration_env, sandbox, platform_engine
):
    store = sandbox.store
    initial_sync()
    place = a_unit_with_its_property(platform_engine)
    work_order_id = create_work_order(
        platform_engine, "default", property_id=place.property_id, unit_id=place.unit_id,
        description="Kitchen tap leaks", priority="high", category="Plumbing",
    )
    marker = marker_of(platform_engine, work_order_id)

    assert work_order_push_flow(work_order_id=work_order_id)["work_orders"][0]["sync_status"] == "synced"
    assert writes(store) == [("POST", "/workorders")]
    assert store.writes_log[0]["body"] == {
        "buildingID": place.building_source_id, "unitIDs": [place.unit_source_id], "description": "Kitchen tap leaks",
        "priority": "HIGH", "category": "Plumbing", "searchTag": marker, "source": "Internal",
    }
    [created] = tagged(store, marker)
    status = work_order_status(platform_engine, work_order_id)
    assert (status.source_id, status.sync_status, status.sync_error) == (created["id"], "synced", None)
    assert status.last_push_attempt_at is not None

    store.writes_log.clear()
    update_work_order(platform_engine, work_order_id, note="Plumber booked for Tuesday 9:00")
    work_order_push_flow(work_order_id=work_order_id)
    assert writes(store) == [("POST", f"/workorders/{created['id']}/tasks")]
    assert store.writes_log[0]["body"]["description"] == "Plumber booked for Tuesday 9:00"

    store.writes_log.clear()
    update_work_order(platform_engine, work_order_id, complete=True, completion_comment="Washer replaced")
    work_order_push_flow(work_order_id=work_order_id)
    assert writes(store) == [("PUT", f"/workorders/closeworkorder/{created['id']}")]
    assert store.get("workorders", created["id"])["status"] == "Closed"
    assert work_order_status(platform_engine, work_order_id).sync_status == "synced"

    rows_before = work_order_rows(platform_engine)
    result = delta_sync()
    assert result["counts"]["work_order"]["created"] == 0
    assert work_order_rows(platform_engine) == rows_before
    assert len(tagged(store, marker)) == 1


def test_a_create_whose_answer_is_lost_is_adopted_on_retry_not_sent_twice(integration_env, sandbox, platform_engine):
    store = sandbox.store
    initial_sync()
    place = a_unit_with_its_property(platform_engine)
    store.inject(status_fault("/workorders", 503, method="POST"))
    store.inject(disconnect_fault("/workorders", "POST", after_processing=True))
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, description="No heat in unit")

    outcome = work_order_push(work_order_id=work_order_id)["work_orders"][0]

    [created] = tagged(store, marker_of(platform_engine, work_order_id))
    assert writes(store) == [("POST", "/workorders"), ("POST", "/workorders")]
    assert [write["status"] for write in store.writes_log] == [503, 201]
    assert (outcome["sync_status"], outcome["source_id"]) == ("synced", created["id"])


def test_a_delta_sync_adopts_a_pushed_work_order_the_platform_never_heard_back_about(integration_env, sandbox, platform_engine):
    store = sandbox.store
    initial_sync()
    place = a_unit_with_its_property(platform_engine)
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, description="Broken window")
    landed = store.add("workorders", {"buildingID": place.building_source_id, "description": "Broken window",
                                      "managedBy": integration_env["PMSYNC_INTEGRATION_USER"],
                                      "searchTag": marker_of(platform_engine, work_order_id)})
    rows_before = work_order_rows(platform_engine)

    delta_sync()
    assert work_order_rows(platform_engine) == rows_before
    assert work_order_status(platform_engine, work_order_id).source_id == landed["id"]

    outcome = work_order_push(work_order_id=work_order_id)["work_orders"][0]
    assert (outcome["sync_status"], outcome["source_id"]) == ("synced", landed["id"])
    assert store.writes_log == []


def test_a_refused_push_fails_with_the_source_message_until_sync_now_after_the_fix(integration_env, sandbox, platform_engine):
    store = sandbox.store
    initial_sync()
    place = a_unit_with_its_property(platform_engine)
    store.update("buildings", place.building_source_id, active=False)
    created = run_pmsync("workorder", "create", "--property", str(place.building_source_id), "--description", "Gate is stuck",
                         "--no-push", env=integration_env)
    assert created.returncode == 0, created.stdout + created.stderr[-2000:]
    work_order_id = int(created.stdout.split()[2].removeprefix("WO-"))
    assert created.stdout.splitlines() == [
        f"work order WO-{work_order_id} saved on the platform",
        f"work order WO-{work_order_id}: no Prefect server to announce it to; `pmsync workorder push-pending` pushes it "
        "now, else the next delta sync or the daily sweep"]

    refused = run_pmsync("workorder", "sync-now", f"WO-{work_order_id}", env=integration_env)
    assert refused.returncode == 4
    assert f"work order WO-{work_order_id}: failed" in refused.stdout
    assert f"Building {place.building_source_id} does not exist or is deactivated" in refused.stdout
    shown = run_pmsync("workorder", "show", f"WO-{work_order_id}", env=integration_env)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "sync status:     failed" in shown.stdout
    assert "last attempt:    20" in shown.stdout
    assert f"last error:      source rejected the request (400: Building {place.building_source_id}" in shown.stdout

    work_order_push()
    assert writes(store) == [("POST", "/workorders")]
    assert work_order_status(platform_engine, work_order_id).sync_status == "failed"

    store.update("buildings", place.building_source_id, active=True)
    fixed = run_pmsync("workorder", "sync-now", f"WO-{work_order_id}", env=integration_env)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr[-2000:]
    source_id = work_order_status(platform_engine, work_order_id).source_id
    assert f"work order {source_id} (WO-{work_order_id}): synced" in fixed.stdout
    by_source_id = run_pmsync("workorder", "show", str(source_id), env=integration_env)
    assert by_source_id.returncode == 0, by_source_id.stderr[-2000:]
    assert by_source_id.stdout.startswith(f"work order {source_id} (default): Gate is stuck")
    assert f"platform no.:    WO-{work_order_id}" in by_source_id.stdout
    assert len(tagged(store, marker_of(platform_engine, work_order_id))) == 1
    status = work_order_status(platform_engine, work_order_id)
    assert (status.sync_status, status.sync_error) == ("synced", None)


CLAIM_SECONDS = 3.0
SLOW_CREATE_SECONDS = 10.0


def push_in_background(work_order_id: int) -> tuple[threading.Thread, dict]:
    """The job the CLI's sync-now runs, in a thread; its result (or error) lands in the returned dict."""
    ended: dict = {}

    def push() -> None:
        try:
            ended["result"] = work_order_push(work_order_id=work_order_id)
        except BaseException as failure:
            ended["error"] = failure

    thread = threading.Thread(target=push, name=f"push-{work_order_id}")
    thread.start()
    return thread, ended


def wait_for_create_request(store, thread: threading.Thread) -> None:
    """Until the source has received the push's POST /workorders (it is being held there by the slowdown)."""
    deadline = time.monotonic() + 120
    while ("POST", "/workorders") not in [(method, path) for method, path, _ in store.requests_log]:
        assert thread.is_alive() and time.monotonic() < deadline, "the push never sent its create"
        time.sleep(0.05)


def wait_past_the_first_lease(engine: sa.Engine, work_order_id: int, thread: threading.Thread) -> None:
    """Until the lease the push's claim had when its create reached the source (its first lease's end, or a renewal's
    if one came first) has run out: the push has waited on the source longer than its claim's lease."""
    with engine.connect() as connection:
        seen = connection.execute(
            sa.select(work_orders.c.push_claimed_until).where(work_orders.c.id == work_order_id)).scalar_one()
    assert seen is not None, "the push holds no claim while it sends its create"
    deadline = time.monotonic() + 60
    while utc_now() <= seen:
        assert thread.is_alive() and time.monotonic() < deadline, "the push ended before its first lease ran out"
        time.sleep(0.05)


def finished(thread: threading.Thread, ended: dict) -> dict:
    thread.join(timeout=180)
    assert not thread.is_alive(), "the push did not finish"
    if "error" in ended:
        raise ended["error"]
    return ended["result"]["work_orders"][0]


def test_two_pushes_racing_against_a_slow_source_create_the_work_order_once(
    integration_env, sandbox, platform_engine, monkeypatch
):
    store = sandbox.store
    initial_sync()
    place = a_unit_with_its_property(platform_engine)
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, description="Roof leaks")
    monkeypatch.setenv("PMSYNC_PUSH_CLAIM_MINUTES", str(CLAIM_SECONDS / 60))
    store.slowdowns.add(Slowdown(SLOW_CREATE_SECONDS, "/workorders", "POST", times=1))

    first, first_ended = push_in_background(work_order_id)
    wait_for_create_request(store, first)
    wait_past_the_first_lease(platform_engine, work_order_id, first)
    second = work_order_push(work_order_id=work_order_id)["work_orders"][0]
    first_still_waiting = first.is_alive()
    first_outcome = finished(first, first_ended)

    assert first_still_waiting, f"the first push's create ({SLOW_CREATE_SECONDS:g} s) ended before the second push"
    [created] = tagged(store, marker_of(platform_engine, work_order_id))
    assert writes(store) == [("POST", "/workorders")]
    assert second["sync_status"] == "busy"
    assert (first_outcome["sync_status"], first_outcome["source_id"]) == ("synced", created["id"])
    status = work_order_status(platform_engine, work_order_id)
    assert (status.sync_status, status.source_id) == ("synced", created["id"])


def test_a_push_whose_claim_was_taken_over_records_nothing_and_the_next_push_adopts_its_create(
    integration_env, sandbox, platform_engine
):
    store = sandbox.store
    initial_sync()
    place = a_unit_with_its_property(platform_engine)
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, description="Door sticks")
    store.slowdowns.add(Slowdown(3.0, "/workorders", "POST", times=1))
    this_work_order = work_orders.c.id == work_order_id

    stalled, stalled_ended = push_in_background(work_order_id)
    wait_for_create_request(store, stalled)
    with platform_engine.begin() as connection:  # another push takes the claim, as if the stalled one's had run out
        connection.execute(sa.update(work_orders).where(this_work_order).values(
            push_claim_token="another-push", push_claimed_until=utc_now() + timedelta(minutes=5)))
    outcome = finished(stalled, stalled_ended)

    assert outcome["sync_status"] == "busy"
    assert f"the push claim of work order {work_order_id} expired and another push took it" in outcome["error"]
    with platform_engine.connect() as connection:
        row = connection.execute(sa.select(work_orders).where(this_work_order)).one()
        change = connection.execute(
            sa.select(work_order_changes).where(work_order_changes.c.work_order_id == work_order_id)).one()
    assert (row.source_id, row.sync_status, row.push_claim_token) == (None, "pending", "another-push")
    assert (change.status, change.attempts, change.sent_at) == ("pending", 1, None)

    with platform_engine.begin() as connection:  # the other push ends without sending anything
        connection.execute(sa.update(work_orders).where(this_work_order).values(
            push_claim_token=None, push_claimed_until=None))
    adopted = work_order_push(work_order_id=work_order_id)["work_orders"][0]

    [created] = tagged(store, marker_of(platform_engine, work_order_id))
    assert writes(store) == [("POST", "/workorders")]
    assert (adopted["sync_status"], adopted["source_id"]) == ("synced", created["id"])


def events_named(name: str, since: datetime, wait_for: int = 1, timeout: float = 60.0) -> list:
    """The events `name` the harness's server stored since `since`, once there are `wait_for` of them (the server
    stores an event a moment after it arrives), or whatever is there after `timeout` seconds."""
    chosen = EventFilter(event=EventNameFilter(name=[name]), occurred=EventOccurredFilter(since=since))
    deadline = time.monotonic() + timeout
    while True:
        with get_client(sync_client=True) as client:
            found = client.read_events(chosen, limit=50).events
        if len(found) >= wait_for or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


@pytest.mark.flow
def test_a_work_order_saved_with_no_push_is_announced_by_the_event_that_triggers_its_push(
    integration_env, sandbox, platform_engine
):
    since = datetime.now(timezone.utc)
    initial_sync()
    place = a_unit_with_its_property(platform_engine)

    saved = run_pmsync("workorder", "create", "--property", str(place.building_source_id), "--description", "Fan rattles",
                       "--no-push", env=integration_env)
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, description="Tap")
    assert announce_work_order_change(work_order_id), "what a web form calls after saving one"

    assert saved.returncode == 0 and "change announced; work-order-push/changed pushes it" in saved.stdout, \
        saved.stdout + saved.stderr[-2000:]
    created = int(re.search(r"work order WO-(\d+) saved on the platform", saved.stdout)[1])
    changes = events_named(WORK_ORDER_CHANGED, since, wait_for=2)
    assert sorted((event.payload["work_order_id"], event.payload["integration"]) for event in changes) == [
        (created, None), (work_order_id, None)]
    assert {event.resource.id for event in changes} == {"pmsync.integration.default"}
    assert writes(sandbox.store) == [], "saved, not pushed: the triggered run pushes it"
