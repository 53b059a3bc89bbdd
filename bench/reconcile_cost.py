"""Measure reconciling a large integration: wall time and peak memory (RSS) of `pmsync reconcile`.

Starts the bundled sandbox and a Prefect server in subprocesses, runs the initial sync, deletes a share of the units
in the source, then runs `pmsync reconcile` in a child process whose peak RSS comes from os.wait4.

    python bench/reconcile_cost.py --units 100000 --share 0.005 [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from pmsync.platform import make_engine
from schemas.tables import sync_runs, units

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def measured(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Run a child to completion: (wall seconds, peak RSS in MiB, exit status)."""
    started = time.monotonic()
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        print(child.stderr.read().decode()[-2000:], file=sys.stderr)
    return time.monotonic() - started, usage.ru_maxrss / 1024, child.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--share", type=float, default=0.005, help="share of units deleted in the source")
    parser.add_argument("--database-url", default=None, help="platform database (default: a fresh SQLite file)")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pmsync-bench-"))
    source_port, prefect_port = free_port(), free_port()
    env = {
        **os.environ,
        "PMSYNC_DATABASE_URL": options.database_url or f"sqlite:///{work / 'platform.db'}",
        "PMSYNC_PW_BASE_URL": f"http://127.0.0.1:{source_port}/pw/api/rest/v1",
        "PMSYNC_PW_CLIENT_ID": "sandbox-client", "PMSYNC_PW_CLIENT_SECRET": "sandbox-secret-do-not-log",
        "PMSYNC_PW_SYSTEM_ID": "1001", "PMSYNC_INTEGRATION_USER": "pmsync@sandbox.example",
        "PREFECT_HOME": str(work / "prefect"), "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    servers = [
        subprocess.Popen([BIN / "pmsync", "sandbox", "serve", "--port", str(source_port), "--size", str(options.units)],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([BIN / "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        wait_for(f"http://127.0.0.1:{source_port}/_sandbox/health", 600)
        wait_for(f"http://127.0.0.1:{prefect_port}/api/health", 120)
        took, rss, status = measured([str(BIN / "pmsync"), "sync", "initial"], env)
        print(f"initial sync of {options.units} units: {took:.1f} s, peak RSS {rss:.0f} MiB (exit {status})")
        engine = make_engine(env["PMSYNC_DATABASE_URL"])
        with engine.connect() as connection:
            synced = sorted(connection.execute(sa.select(units.c.source_id).where(units.c.active.is_(True))).scalars())
        doomed = synced[:: max(1, round(1 / options.share))]
        with requests.Session() as http:
            for unit_id in doomed:
                http.delete(f"http://127.0.0.1:{source_port}/_sandbox/records/units/{unit_id}").raise_for_status()
        for label in (f"reconcile, {len(doomed)} of {len(synced)} units deleted", "reconcile again, nothing to change"):
            took, rss, status = measured([str(BIN / "pmsync"), "reconcile"], env)
            print(f"{label}: {took:.1f} s wall, peak RSS {rss:.0f} MiB (exit {status})")
        with engine.connect() as connection:
            runs = connection.execute(
                sa.select(sync_runs).where(sync_runs.c.flow == "reconcile").order_by(sync_runs.c.id)
            ).all()
            inactive = connection.execute(sa.select(sa.func.count()).where(units.c.active.is_(False))).scalar_one()
        for run in runs:
            print(f"  run {run.id}: {(run.finished_at - run.started_at).total_seconds():.1f} s inside the flow, "
                  f"{run.source_requests} source requests")
        print(f"units inactive on the platform afterwards: {inactive}")
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
