"""What a work-order push guarantees beyond sending once, on SQLite and PostgreSQL: its attempt is on disk before the
request leaves; a Sync Now racing another push cannot queue a refused change again; each push is a run in `pmsync runs`."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from flows.delta_sync import delta_sync as delta_sync_flow
from flows.work_order_push import work_order_push as work_order_push_flow
from pmsync.jobs import JOBS
from pmsync.push.workorders import create_work_order, work_order_status
from tests.flows.test_cli import run_pmsync
from tasks.work_order_events import WORK_ORDERS_PENDING
from tests.flows.test_work_order_push import a_unit_with_its_property, events_named, writes

initial_sync, work_order_push = JOBS["initial-sync"], JOBS["work-order-push"]


class AttemptCommits:
    """Each commit of a push's transactions that wrote something, as it happens: whether it counts an attempt (it updates
    the change's attempts), the durability setting in effect on its connection, and the creates the source had
    received by then."""

    def __init__(self, store):
        self.store = store
        self.seen: list[tuple[bool, str, int]] = []

    def after_cursor_execute(self, connection, _cursor, statement: str, *_args) -> None:
        if statement.startswith(("INSERT", "UPDATE", "DELETE")):
            connection.info["wrote"] = True
        if statement.startswith("UPDATE work_order_changes SET attempts"):
            connection.info["counts_attempt"] = True

    def commit(self, connection) -> None:
        if not connection.info.pop("wrote", False):
            return
        driver = connection.connection.driver_connection
        query = "PRAGMA synchronous" if connection.dialect.name == "sqlite" else "SHOW synchronous_commit"
        cursor = driver.cursor()
        cursor.execute(query)
        setting = str(cursor.fetchone()[0])
        cursor.close()
        creates = sum((method, path) == ("POST", "/workorders") for method, path, _ in self.store.requests_log)
        self.seen.append((connection.info.pop("counts_attempt", False), setting, creates))

    def __enter__(self) -> AttemptCommits:
        sa.event.listen(sa.Engine, "after_cursor_execute", self.after_cursor_execute)
        sa.event.listen(sa.Engine, "commit", self.commit)
        return self

    def __exit__(self, *_exc) -> None:
        sa.event.remove(sa.Engine, "after_cursor_execute", self.after_cursor_execute)
        sa.event.remove(sa.Engine, "commit", self.commit)


SQLITE_FULL, SQLITE_NORMAL = "2", "1"


def test_the_attempt_is_committed_durably_before_the_create_request_reaches_the_source(
    integration_env, sandbox, platform_engine
):
    store = sandbox.store
    initial_sync()
    place = a_unit_with_its_property(platform_engine)
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, description="Boiler out")
    postgres = platform_engine.dialect.name == "postgresql"
    if postgres:  # a server tuned for speed: commits are not waited for unless a transaction asks
        with platform_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f'ALTER DATABASE "{platform_engine.url.database}" SET synchronous_commit = off')
    store.clear_requests_log()

    with AttemptCommits(store) as commits:
        outcome = work_order_push(work_order_id=work_order_id)["work_orders"][0]

    assert outcome["sync_status"] == "synced"
    [attempt] = [(setting, creates) for counts, setting, creates in commits.seen if counts]
    others = {setting for counts, setting, _ in commits.seen if not counts}
    durable, usual = ("on", "off") if postgres else (SQLITE_FULL, SQLITE_NORMAL)
    assert attempt == (durable, 0), "the attempt is on disk before the source hears of the create"
    assert others == {usual}, "only the attempt's commit waits for the disk"
    assert sum((method, path) == ("POST", "/workorders") for method, path, _ in store.requests_log) == 1


class SyncNowInTheGap:
    """Runs a second Sync Now of the work order at the worst moment for the first: right after the first push has
    recorded the source's refusal, before it settles the work order's status and releases its claim."""

    def __init__(self, work_order_id: int):
        self.work_order_id = work_order_id
        self.first_push = threading.current_thread()
        self.refusal_recorded = False
        self.second: dict | None = None

    def after_cursor_execute(self, connection, _cursor, statement: str, parameters, *_args) -> None:
        values = parameters.values() if isinstance(parameters, dict) else parameters or ()
        recorded = statement.startswith("UPDATE work_order_changes SET status") and "last_error" in statement
        if threading.current_thread() is self.first_push and recorded and "failed" in values:
            self.refusal_recorded = True

    def before_cursor_execute(self, *_args) -> None:
        if threading.current_thread() is not self.first_push or not self.refusal_recorded or self.second is not None:
            return
        ended: dict = {}
        second = threading.Thread(target=lambda: ended.update(work_order_push(
            work_order_id=self.work_order_id, retry_failed=True)["work_orders"][0]), name="second-sync-now")
        second.start()
        second.join(timeout=120)
        self.second = ended

    def __enter__(self) -> SyncNowInTheGap:
        sa.event.listen(sa.Engine, "after_cursor_execute", self.after_cursor_execute)
        sa.event.listen(sa.Engine, "before_cursor_execute", self.before_cursor_execute)
        return self

    def __exit__(self, *_exc) -> None:
        sa.event.remove(sa.Engine, "after_cursor_execute", self.after_cursor_execute)
        sa.event.remove(sa.Engine, "before_cursor_execute", self.before_cursor_execute)


def test_a_sync_now_while_another_push_holds_the_work_order_cannot_queue_its_refused_change_again(
    integration_env, sandbox, platform_engine
):
    store = sandbox.store
    initial_sync()
    place = a_unit_with_its_property(platform_engine)
    store.update("buildings", place.building_source_id, active=False)
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, description="Gate stuck")
    assert work_order_push(work_order_id=work_order_id)["work_orders"][0]["sync_status"] == "failed"
    store.writes_log.clear()

    with SyncNowInTheGap(work_order_id) as gap:
        first = work_order_push(work_order_id=work_order_id, retry_failed=True)["work_orders"][0]
    sweep = work_order_push()

    assert writes(store) == [("POST", "/workorders")], "the refused create was sent once, by the first Sync Now"
    assert gap.second is not None and gap.second["sync_status"] == "busy", "the second Sync Now ran while the first held it"
    assert first["sync_status"] == "failed"
    assert sweep["work_orders"] == [], "the sweep leaves a refused change alone"
    status = work_order_status(platform_engine, work_order_id)
    assert (status.sync_status, [change.status for change in status.changes]) == ("failed", ["failed"])


def push_runs(env: dict[str, str]) -> list[dict]:
    listed = run_pmsync("runs", "--json", "--limit", "50", env=env)
    assert listed.returncode == 0, listed.stderr[-2000:]
    return [run for run in json.loads(listed.stdout) if run["flow"] == "push"]


def test_sync_now_is_a_push_run_in_pmsync_runs_and_a_sweep_with_nothing_to_push_leaves_none(
    integration_env, sandbox, platform_engine
):
    store = sandbox.store
    initial_sync()
    place = a_unit_with_its_property(platform_engine)
    store.update("buildings", place.building_source_id, active=False)
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, description="Gate stuck")

    refused = run_pmsync("workorder", "sync-now", f"WO-{work_order_id}", env=integration_env)
    assert refused.returncode == 4, refused.stdout + refused.stderr[-2000:]
    [failed] = push_runs(integration_env)
    assert (failed["status"], failed["integration"], failed["source_requests"]) == ("failed", "default", 1)
    assert failed["error"].startswith(f"1 work order(s) not synced: work order {work_order_id} failed: source rejected "
                                      f"the request (400: Building {place.building_source_id} does not exist")
    assert failed["counts"] == {"work_order": {**failed["counts"]["work_order"], "fetched": 1, "created": 0, "unchanged": 1}}

    store.update("buildings", place.building_source_id, active=True)
    synced = run_pmsync("workorder", "sync-now", f"WO-{work_order_id}", env=integration_env)
    assert synced.returncode == 0, synced.stdout + synced.stderr[-2000:]
    swept = run_pmsync("workorder", "push-pending", env=integration_env)
    assert swept.returncode == 0, swept.stdout + swept.stderr[-2000:]

    latest, earlier = push_runs(integration_env)
    assert earlier["id"] == failed["id"], "the sweep found nothing to push and left no run"
    assert (latest["status"], latest["error"], latest["finished_at"] is not None) == ("succeeded", None, True)
    assert latest["counts"]["work_order"] == {**latest["counts"]["work_order"], "fetched": 1, "created": 1, "updated": 0}


@pytest.mark.flow
def test_a_delta_starts_a_push_only_when_work_orders_wait_and_a_sweep_with_nothing_to_push_leaves_no_run(
    integration_env, platform_engine
):
    since = datetime.now(timezone.utc)
    initial_sync()
    assert delta_sync_flow() and push_runs(integration_env) == []
    place = a_unit_with_its_property(platform_engine)  # the platform app writes one straight to the database
    work_order_id = create_work_order(platform_engine, "default", property_id=place.property_id, description="Leak")

    delta_sync_flow()

    [pending] = events_named(WORK_ORDERS_PENDING, since)  # none from the first delta, which found nothing
    assert pending.resource.id == "pmsync.integration.default" and pending.resource.name == "default"
    assert pending.payload == {"pending": 1, "integration": None, "work_order_id": None}
    parameters = {key: pending.payload[key] for key in ("work_order_id", "integration")}  # the trigger's (prefect.yaml)
    assert work_order_push_flow(**parameters)["work_orders"][0]["id"] == work_order_id
    assert work_order_push_flow(**parameters)["work_orders"] == [], "a sweep with nothing to push pushes nothing"
    delta_sync_flow()
    assert [run["status"] for run in push_runs(integration_env)] == ["succeeded"], "one push run, none of the sweep"
    assert len(events_named(WORK_ORDERS_PENDING, since, wait_for=2, timeout=5)) == 1, "nothing waits: no event"
