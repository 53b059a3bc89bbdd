"""One sync at a time per integration, whoever starts it; different integrations run side by side."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta

import sqlalchemy as sa
from prefect.settings import PREFECT_API_URL

from flows.delta_sync import delta_sync
from pmsync.platform import migrate
from pmsync.runs import utc_now
from sandbox.faults import status_fault
from schemas.tables import integration_locks, integrations, sync_runs
from tests.flows.test_cli import PMSYNC, run_pmsync

STALL = {"PMSYNC_PW_MAX_ATTEMPTS": "6", "PMSYNC_PW_BACKOFF_SECONDS": "0.4"}


def start_sync(env: dict[str, str], name: str) -> subprocess.Popen:
    full = {**os.environ, **env, **STALL, "PMSYNC_INTEGRATION_NAME": name, "PREFECT_API_URL": PREFECT_API_URL.value()}
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
