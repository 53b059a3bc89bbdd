"""End to end: a real Prefect server and two workers on loopback, `prefect deploy --all`, forced syncs that queue."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa

from sandbox.faults import status_fault
from schemas.tables import sync_runs, units
from tests.conftest import _postgres_database

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def prefect_server(platform_url: str, tmp_path: Path, report_measurement) -> Iterator[dict[str, str]]:
    """`prefect server start` on its own database (SQLite, or PostgreSQL when the platform is) and a home of its own."""
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PMSYNC_PROJECT_DIR": str(REPO),
    }
    databases = _postgres_database() if platform_url.startswith("postgresql") else None
    if databases is not None:
        url = sa.engine.make_url(next(databases)).set(drivername="postgresql+asyncpg")
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = url.render_as_string(hide_password=False)
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    started = time.monotonic()
    try:
        while not _healthy(port):
            assert server.poll() is None and time.monotonic() - started < 120, (tmp_path / "server.log").read_text()[-3000:]
            time.sleep(0.5)
        report_measurement(f"prefect server ({'PostgreSQL' if databases else 'SQLite'}) healthy after {time.monotonic() - started:.1f} s")
        yield env
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        if databases is not None:
            next(databases, None)


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/api/health", timeout=1).ok
    except requests.ConnectionError:
        return False


def prefect(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(BIN / "prefect"), "--no-prompt", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_deploy_forced_syncs_queue_and_the_reconciliation_and_push_schedules(prefect_server, integration_env, sandbox, platform_engine, report_measurement):
    begun = time.monotonic()
    env = {**prefect_server, **integration_env, "PMSYNC_PW_MAX_ATTEMPTS": "6", "PMSYNC_PW_BACKOFF_SECONDS": "0.4"}
    prefect(env, "work-pool", "create", "pmsync", "--type", "process")
    prefect(env, "deploy", "--all")
    workers = [
        subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "pmsync", "--name", f"e2e-{n}"], env=env,
                         cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for n in (1, 2)
    ]
    try:
        sandbox.store.inject(status_fault("/leases", 503, times=4))
        triggered = [subprocess.run([str(BIN / "pmsync"), "sync", "now"], env=env, capture_output=True, text=True, timeout=120) for _ in range(2)]
        for done in triggered:
            assert done.returncode == 0 and "forced sync queued as flow run" in done.stdout, done.stdout + done.stderr
        states = wait_for_flow_runs(env, "delta-sync", count=2, timeout=240)
        assert states == ["COMPLETED", "COMPLETED"]
        next_runs = scheduled_runs(env, "property-reconciliation", timeout=60)
        sweeps = scheduled_runs(env, "work-order-push", timeout=60)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
    with platform_engine.connect() as connection:
        runs = connection.execute(sa.select(sync_runs).where(sync_runs.c.flow == "delta").order_by(sync_runs.c.started_at)).all()
        landed = connection.execute(sa.select(sa.func.count()).select_from(units)).scalar_one()
    assert [run.status for run in runs] == ["succeeded", "succeeded"]
    assert runs[1].started_at >= runs[0].finished_at
    assert landed == sum(1 for u in sandbox.store.records("units") if u["active"] and sandbox.store.get("buildings", u["buildingID"])["active"])
    assert next_runs
    assert sweeps and all(moment.minute % 5 == 0 for moment in sweeps)
    for moment in next_runs:
        local = moment.astimezone(LOS_ANGELES)
        assert (local.day, local.hour, local.minute) == (27, 3, 0)
        assert moment.astimezone(ZoneInfo("UTC")).hour in (10, 11)
    report_measurement(f"end-to-end deploy + 2 forced syncs: {time.monotonic() - begun:.1f} s after the server was up")


def wait_for_flow_runs(env: dict[str, str], flow_name: str, count: int, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        runs = flow_runs(env, flow_name, states=None)
        finals = [run["state_type"] for run in runs if run["state_type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}]
        if len(finals) >= count or time.monotonic() > deadline:
            return finals
        time.sleep(1)


def scheduled_runs(env: dict[str, str], flow_name: str, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while not (runs := flow_runs(env, flow_name, states=["SCHEDULED"])) and time.monotonic() < deadline:
        time.sleep(1)
    from datetime import datetime

    return [datetime.fromisoformat(run["expected_start_time"]) for run in runs]


def flow_runs(env: dict[str, str], flow_name: str, states: list[str] | None) -> list[dict]:
    body: dict = {"flows": {"name": {"any_": [flow_name]}}, "sort": "EXPECTED_START_TIME_ASC", "limit": 20}
    if states:
        body["flow_runs"] = {"state": {"type": {"any_": states}}}
    response = requests.post(f"{env['PREFECT_API_URL']}/flow_runs/filter", json=body, timeout=10)
    response.raise_for_status()
    return response.json()
