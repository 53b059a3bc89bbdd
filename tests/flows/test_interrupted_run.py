"""A run killed mid-run (SIGKILL), run again at once with default lock settings, ends in the state of an uninterrupted
run: the killed run's lock is taken over because its process is gone, without `pmsync unlock` or waiting for a lease."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import time

import pytest
import sqlalchemy as sa
from prefect.settings import PREFECT_API_URL

from pmsync.jobs import JOBS
from pmsync.platform.database import make_engine
from sandbox.faults import status_fault
from sandbox.slowdowns import Slowdown
from schemas.tables import SYNCED_TABLES, sync_runs, unapplied_records
from tests.flows.test_cli import PMSYNC

initial_sync, delta_sync = JOBS["initial-sync"], JOBS["delta-sync"]
"""The runs in this process are the jobs with the plain steps; the run killed is a `pmsync sync delta` flow run."""
VOLATILE = {"id", "integration_id", "created_at", "updated_at", "last_sync_run_id"}


def platform_state(engine: sa.Engine) -> dict[str, set]:
    """Everything the sync decided, with platform ids replaced by source ids so two databases compare."""
    state: dict[str, set] = {}
    with engine.connect() as connection:
        to_source = {
            name: dict(connection.execute(sa.select(table.c.id, table.c.source_id)).all())
            for name, table in SYNCED_TABLES.items()
        }
        for entity, table in SYNCED_TABLES.items():
            rows = set()
            for row in connection.execute(sa.select(table)).mappings():
                kept = {}
                for column, value in row.items():
                    if column in VOLATILE:
                        continue
                    if column.endswith("_id") and column[:-3] in to_source and value is not None:
                        value = to_source[column[:-3]][value]
                    kept[column] = json.dumps(value, sort_keys=True, default=str)
                rows.add(tuple(sorted(kept.items())))
            state[entity] = rows
        held = connection.execute(sa.select(unapplied_records.c.entity, unapplied_records.c.source_id, unapplied_records.c.status, unapplied_records.c.reason))
        state["unapplied"] = {tuple(row) for row in held}
    return state


@pytest.mark.flow
def test_a_killed_delta_run_rerun_ends_like_an_uninterrupted_one(
    integration_env, sandbox, platform_engine, tmp_path, monkeypatch, caplog
):
    store = sandbox.store
    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    initial_sync()
    monkeypatch.setenv("PMSYNC_DATABASE_URL", reference_url)
    initial_sync()
    for unit in store.records("units")[:25]:
        store.update("units", unit["id"], name=f"{unit['name']} (renamed)")
    for lease in store.records("leases")[:25]:
        store.update("leases", lease["id"], baseRent=(lease.get("baseRent") or 1000) + 10)
    delta_sync()
    reference = platform_state(make_engine(reference_url))
    monkeypatch.setenv("PMSYNC_DATABASE_URL", integration_env["PMSYNC_DATABASE_URL"])

    store.inject(status_fault("/leases", 503, times=10_000))
    store.clear_requests_log()
    env = {**os.environ, "PMSYNC_PW_PAGE_SIZE": "5", "PMSYNC_PW_MAX_ATTEMPTS": "10000", "PREFECT_API_URL": PREFECT_API_URL.value()}
    process = subprocess.Popen([PMSYNC, "sync", "delta"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(path.endswith("/leases") for _, path, _ in store.requests_log):
        assert process.poll() is None and time.monotonic() < deadline, "delta run ended before reaching /leases"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    store.clear_faults()
    with platform_engine.connect() as connection:
        killed = connection.execute(sa.select(sync_runs).order_by(sync_runs.c.id.desc())).first()
    assert killed.flow == "delta" and killed.status == "running"
    assert platform_state(platform_engine) != reference

    with caplog.at_level(logging.INFO, logger="pmsync"):
        delta_sync()

    assert re.search(rf"held by \S+:{process.pid} flow run \S+ \(delta sync\) its process {process.pid} on this host is "
                     "gone; taken over", caplog.text), caplog.text
    assert "waiting:" not in caplog.text
    assert platform_state(platform_engine) == reference
    with platform_engine.connect() as connection:
        abandoned = connection.execute(sa.select(sync_runs).where(sync_runs.c.id == killed.id)).one()
    assert abandoned.status == "abandoned" and "stopped without finishing" in abandoned.error


def test_a_killed_direct_cli_sync_is_followed_at_once_by_one_that_lands_exactly_the_right_rows(
    integration_env, sandbox, platform_engine, tmp_path, monkeypatch, report_measurement
):
    store = sandbox.store
    monkeypatch.setenv("PMSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'reference.db'}")
    initial_sync()
    reference = platform_state(make_engine(f"sqlite:///{tmp_path / 'reference.db'}"))
    env = {**os.environ, **integration_env, "PREFECT_API_URL": "", "PMSYNC_PW_PAGE_SIZE": "5"}
    assert not any(name.startswith("PMSYNC_LOCK_") for name in env), "default lock settings"

    store.slowdowns.add(Slowdown(2, path="/leases"))
    store.clear_requests_log()
    killed = subprocess.Popen([PMSYNC, "sync", "initial"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(path == "/leases" for _, path, _ in store.requests_log):
        assert killed.poll() is None and time.monotonic() < deadline, "the run ended before reaching /leases"
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    killed_at = time.monotonic()
    store.slowdowns.clear()
    assert platform_state(platform_engine) != reference, "killed mid-run"

    rerun = subprocess.Popen([PMSYNC, "sync", "initial"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    lines = []
    try:
        for line in rerun.stderr:
            lines.append(line)
            assert "waiting:" not in line, f"the run waited for the dead one: {line}"
            if "taken over" in line:
                report_measurement(f"a killed direct run's lock taken over {time.monotonic() - killed_at:.1f} s after "
                                   "the kill (its successor's start included)")
        assert rerun.wait(timeout=300) == 0, "".join(lines[-20:])
    finally:
        rerun.kill()
        rerun.wait()

    log = "".join(lines)
    assert f":{killed.pid} direct run (initial sync) its process {killed.pid} on this host is gone; taken over" in log, log
    assert platform_state(platform_engine) == reference
    with platform_engine.connect() as connection:
        first, second = connection.execute(sa.select(sync_runs).order_by(sync_runs.c.id)).all()
    assert (first.status, second.status) == ("abandoned", "succeeded") and "stopped without finishing" in first.error
