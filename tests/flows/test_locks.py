"""One sync at a time per integration, whoever starts it; different integrations run side by side (`pmsync` processes
and the jobs with the plain steps, no Prefect server: the lock is the library's; flow runs take it in the flow tests)."""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from datetime import timedelta

import pytest

import sqlalchemy as sa
from prefect.settings import PREFECT_API_URL

from pmsync.jobs import JOBS
from pmsync.runs.locks import LockLost, acquire, force_unlock, release
from pmsync.platform.database import migrate
from pmsync.runs.bookkeeping import utc_now
from sandbox.faults import status_fault
from sandbox.slowdowns import Slowdown
from schemas.tables import integration_locks, integrations, sync_runs, units
from tests.flows.test_cli import PMSYNC, run_pmsync

initial_sync, delta_sync, reconcile = JOBS["initial-sync"], JOBS["delta-sync"], JOBS["property-reconciliation"]
STALL = {"PMSYNC_PW_MAX_ATTEMPTS": "6", "PMSYNC_PW_BACKOFF_SECONDS": "0.4"}


def start_sync(env: dict[str, str], name: str) -> subprocess.Popen:
    full = {**os.environ, **env, **STALL, "PMSYNC_INTEGRATION_NAME": name, "PREFECT_API_URL": PREFECT_API_URL.value() or ""}
    return subprocess.Popen([PMSYNC, "sync", "initial"], env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(*processes: subprocess.Popen) -> list[str]:
    """Each process's output; none outlives the test."""
    try:
        return [process.communicate(timeout=180)[0] for process in processes]
    finally:
        for process in processes:
            process.kill()


def runs_by_integration(engine: sa.Engine) -> dict[str, list]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(integrations.c.name, sync_runs.c.started_at, sync_runs.c.finished_at, sync_runs.c.status)
            .join(integrations, integrations.c.id == sync_runs.c.integration_id)
            .order_by(sync_runs.c.started_at)
        ).all()
    found: dict[str, list] = {}
    for row in rows:
        found.setdefault(row.name, []).append(row)
    return found


def test_two_syncs_of_one_integration_take_turns_and_of_two_integrations_overlap(integration_env, sandbox, platform_engine):
    migrate(platform_engine)
    sandbox.store.inject(status_fault("/leases", 503, times=4))
    first, second = start_sync(integration_env, "north"), start_sync(integration_env, "north")
    outputs = finish(first, second)
    assert first.returncode == 0 and second.returncode == 0, outputs
    assert sum("waiting: integration 'north' is being synced by" in output for output in outputs) == 1
    north = runs_by_integration(platform_engine)["north"]
    assert [run.status for run in north] == ["succeeded", "succeeded"]
    assert north[1].started_at >= north[0].finished_at

    sandbox.store.inject(status_fault("/leases", 503, times=4))
    east, west = start_sync(integration_env, "east"), start_sync(integration_env, "west")
    outputs = finish(east, west)
    assert east.returncode == 0 and west.returncode == 0, outputs
    assert not any("waiting:" in output for output in outputs)
    runs = runs_by_integration(platform_engine)
    (a,), (b,) = runs["east"], runs["west"]
    assert a.started_at < b.finished_at and b.started_at < a.finished_at


def test_a_lock_left_by_a_crashed_run_expires_and_unlock_clears_one_by_hand(integration_env, sandbox, platform_engine, caplog):
    migrate(platform_engine)
    with platform_engine.begin() as connection:
        connection.execute(sa.insert(integration_locks).values(
            integration_name="default", holder="crashed-host:4242 flow run x", flow="delta",
            acquired_at=utc_now() - timedelta(hours=2), expires_at=utc_now() - timedelta(hours=1),
        ))

    with caplog.at_level(logging.INFO, logger="pmsync"):
        delta_sync()

    assert "held by crashed-host:4242 flow run x (delta sync)" in caplog.text and "taken over" in caplog.text
    with platform_engine.begin() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(integration_locks)).scalar_one() == 0
        connection.execute(sa.insert(integration_locks).values(
            integration_name="default", holder="stuck-host:7 flow run y", flow="initial",
            acquired_at=utc_now(), expires_at=utc_now() + timedelta(hours=1),
        ))
    cleared = run_pmsync("unlock", "default", env=integration_env)
    assert cleared.returncode == 0 and "held by stuck-host:7 flow run y (initial sync)" in cleared.stdout
    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(integration_locks)).scalar_one() == 0


LEASE_SECONDS = 8.0
SLOW_READ_SECONDS = 0.2
"""With 2 records a page, the scan alone waits on more reads than fit in the lease; a batch of 10 pages fits easily."""


def in_background(job) -> tuple[threading.Thread, dict]:
    ended: dict = {}

    def run() -> None:
        try:
            ended["result"] = job()
        except BaseException as failure:
            ended["error"] = failure

    thread = threading.Thread(target=run, name="background run")
    thread.start()
    return thread, ended


def reconcile_in_background() -> tuple[threading.Thread, dict]:
    return in_background(reconcile)


def wait_until(condition, thread: threading.Thread, what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert thread.is_alive() and time.monotonic() < deadline, f"the run ended before {what}"
        time.sleep(0.05)


def lock_holder(engine: sa.Engine):
    with engine.connect() as connection:
        return connection.execute(sa.select(integration_locks)).one_or_none()


def slow_scan(sandbox, platform_engine, monkeypatch, lease_seconds: float | None = None) -> list[int]:
    """A synced platform, two units deleted in the source, then a source whose every read is slow, 2 records a page."""
    initial_sync()
    with platform_engine.connect() as connection:
        synced = set(connection.execute(sa.select(units.c.source_id).where(units.c.active.is_(True))).scalars())
    gone = sorted(u["id"] for u in sandbox.store.records("units") if u["id"] in synced)[:2]
    for unit_id in gone:
        sandbox.store.delete("units", unit_id)
    monkeypatch.setenv("PMSYNC_PW_PAGE_SIZE", "2")
    if lease_seconds is not None:
        monkeypatch.setenv("PMSYNC_LOCK_LEASE_SECONDS", str(lease_seconds))
    sandbox.store.slowdowns.add(Slowdown(SLOW_READ_SECONDS, method="GET"))
    sandbox.store.clear_requests_log()
    return gone


def test_a_reconciliation_longer_than_its_lock_lease_keeps_the_lock_and_a_delta_waits_for_it(
    integration_env, sandbox, platform_engine, monkeypatch
):
    gone = slow_scan(sandbox, platform_engine, monkeypatch, LEASE_SECONDS)
    lease = timedelta(seconds=LEASE_SECONDS)
    said: list[str] = []

    running, ended = reconcile_in_background()
    wait_until(lambda: getattr(lock_holder(platform_engine), "flow", None) == "reconcile", running, "taking the lock")
    acquire(platform_engine, "default", "hourly delta", "delta", lease, timedelta(minutes=3), said.append, 0.2)
    running.join(timeout=180)
    taken = lock_holder(platform_engine)
    release(platform_engine, "default", "hourly delta")

    assert not running.is_alive() and "error" not in ended, ended.get("error")
    assert sorted(row["unit id"] for row in ended["result"]["deactivated_units"]) == gone
    with platform_engine.connect() as connection:
        run = connection.execute(sa.select(sync_runs).where(sync_runs.c.id == ended["result"]["run_id"])).one()
    assert run.status == "succeeded"
    assert len(said) == 1 and said[0].startswith("waiting: integration 'default' is being synced by")
    assert taken.holder == "hourly delta" and taken.acquired_at >= run.finished_at


def test_a_reconciliation_whose_lock_was_taken_stops_at_the_next_batch_without_confirming_or_writing(
    integration_env, sandbox, platform_engine, monkeypatch
):
    gone = slow_scan(sandbox, platform_engine, monkeypatch)
    store = sandbox.store

    running, ended = reconcile_in_background()
    wait_until(lambda: sum(path == "/units" for _, path, _ in store.requests_log) >= 3, running, "scanning units")
    force_unlock(platform_engine, "default")  # as `pmsync unlock` would, then the hourly delta takes the lock
    acquire(platform_engine, "default", "hourly delta", "delta", timedelta(minutes=15), timedelta(seconds=5), print)
    running.join(timeout=180)

    assert not running.is_alive()
    with pytest.raises(LockLost, match="no longer held by .* now held by hourly delta \\(delta sync\\)"):
        raise ended["error"]
    assert not any(path.startswith("/units/") for _, path, _ in store.requests_log), "stopped before confirming"
    with platform_engine.connect() as connection:
        still_active = set(connection.execute(sa.select(units.c.source_id).where(units.c.active.is_(True))).scalars())
        run = connection.execute(sa.select(sync_runs).where(sync_runs.c.flow == "reconcile")).one()
    assert set(gone) <= still_active
    assert run.status == "failed" and "LockLost" in run.error
    assert lock_holder(platform_engine).holder == "hourly delta"


def test_a_run_whose_one_page_outlasts_the_lease_keeps_its_lock_and_a_second_run_waits_for_it(
    integration_env, sandbox, platform_engine, monkeypatch, caplog
):
    migrate(platform_engine)
    monkeypatch.setenv("PMSYNC_LOCK_LEASE_SECONDS", "3")
    sandbox.store.slowdowns.add(Slowdown(7, path="/units", times=1))  # one page, more than two leases long
    first = start_sync({**integration_env, "PMSYNC_LOCK_LEASE_SECONDS": "3"}, "default")
    try:
        deadline = time.monotonic() + 120
        while not any(path == "/units" for _, path, _ in sandbox.store.requests_log):
            assert first.poll() is None and time.monotonic() < deadline, "the first run ended before reading units"
            time.sleep(0.05)
        holding = lock_holder(platform_engine)
        with caplog.at_level(logging.INFO, logger="pmsync"):
            initial_sync()  # the second run, in this process
    finally:
        (output,) = finish(first)

    assert holding.expires_at <= utc_now() + timedelta(seconds=3), "the page outlasts the lease"
    assert first.returncode == 0, output
    assert "waiting: integration 'default' is being synced by" in caplog.text and "taken over" not in caplog.text
    first_run, second_run = runs_by_integration(platform_engine)["default"]
    assert first_run.status == second_run.status == "succeeded"
    assert second_run.started_at >= first_run.finished_at


def test_a_run_whose_lock_row_is_deleted_stops_at_its_next_page_and_its_heartbeat_never_writes_it_back(
    integration_env, sandbox, platform_engine, monkeypatch, caplog
):
    """As removing the integration does (it deletes the lock row in the transaction that marks its rows): the
    heartbeat finds the lock gone and stops; the page in flight is not written; the row stays gone."""
    migrate(platform_engine)
    monkeypatch.setenv("PMSYNC_LOCK_LEASE_SECONDS", "3")
    sandbox.store.slowdowns.add(Slowdown(5, path="/units", times=1))
    with caplog.at_level(logging.WARNING, logger="pmsync.runs.locks"):
        running, ended = in_background(initial_sync)
        wait_until(lambda: any(path == "/units" for _, path, _ in sandbox.store.requests_log), running, "reading units")
        force_unlock(platform_engine, "default")
        running.join(timeout=180)

    assert not running.is_alive()
    with pytest.raises(LockLost, match=r"no longer held by \S+ direct run \(.*; now free\); stopping before writing"):
        raise ended["error"]
    assert "lock heartbeat stopped, the run stops at its next page: the lock of integration 'default' is no longer " \
           "held by" in caplog.text
    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(units)).scalar_one() == 0
        assert connection.execute(sa.select(sa.func.count()).select_from(integration_locks)).scalar_one() == 0
        assert connection.execute(sa.select(sync_runs.c.status)).scalar_one() == "failed"
