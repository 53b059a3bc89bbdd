"""Measures initial and delta sync cost on a large sandbox portfolio, per stage (a report, never a test)."""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import requests
import sqlalchemy as sa

from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER, SANDBOX_SYSTEM_ID

STAGES = ("extract_page", "validate_page", "load_page", "open_quality_gate", "open_run", "close_run", "plan_windows")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_sandbox(units: int, port: int) -> subprocess.Popen:
    pmsync = str(Path(sys.executable).with_name("pmsync"))
    process = subprocess.Popen([pmsync, "sandbox", "serve", "--port", str(port), "--size", str(units)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=1).ok:
                return process
        except requests.ConnectionError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("sandbox did not start")


def stage_seconds(flow_run_id) -> dict[str, float]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    totals: dict[str, float] = defaultdict(float)
    with get_client(sync_client=True) as client:
        offset = 0
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), limit=200, offset=offset
            )
            for run in runs:
                totals[run.name.rsplit("-", 1)[0]] += run.total_run_time.total_seconds()
            if len(runs) < 200:
                return dict(totals)
            offset += 200


def timed(flow, **parameters) -> tuple[float, dict, dict[str, float]]:
    started = time.perf_counter()
    state = flow(return_state=True, **parameters)
    took = time.perf_counter() - started
    return took, state.result(), stage_seconds(state.state_details.flow_run_id)


def change_share(port: int, engine: sa.Engine, share: float) -> int:
    """Touch `share` of units and leases in the source through the sandbox's control API."""
    from schemas.tables import leases, units

    changed = 0
    with engine.connect() as connection, requests.Session() as http:
        for table, entity, field in ((units, "units", "name"), (leases, "leases", "comments")):
            ids = [row[0] for row in connection.execute(sa.select(table.c.source_id))]
            for source_id in random.Random(5).sample(ids, max(1, int(len(ids) * share))):
                http.patch(f"http://127.0.0.1:{port}/_sandbox/records/{entity}/{source_id}", json={field: f"bench {source_id}"}).raise_for_status()
                changed += 1
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.01, help="share of units and leases changed before the delta")
    parser.add_argument("--database-url", default=None, help="platform database (default: a fresh SQLite file)")
    parser.add_argument("--out", type=Path, default=Path("bench/out/sync_cost.md"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    database_url = args.database_url or f"sqlite:///{args.out.parent.resolve() / f'sync-cost-{args.units}.db'}"
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    port = free_port()
    sandbox = start_sandbox(args.units, port)
    os.environ.update({
        "PMSYNC_DATABASE_URL": database_url,
        "PMSYNC_PW_BASE_URL": f"http://127.0.0.1:{port}/pw/api/rest/v1",
        "PMSYNC_PW_CLIENT_ID": SANDBOX_CLIENT_ID,
        "PMSYNC_PW_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "PMSYNC_PW_SYSTEM_ID": SANDBOX_SYSTEM_ID,
        "PMSYNC_INTEGRATION_USER": SANDBOX_INTEGRATION_USER,
    })
    from prefect.settings import PREFECT_LOGGING_LEVEL, PREFECT_SERVER_LOGGING_LEVEL, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    from flows.delta_sync import delta_sync
    from flows.initial_sync import initial_sync
    from pmsync.platform import make_engine
    from schemas.tables import sync_runs

    rows = []
    try:
        with temporary_settings({PREFECT_SERVER_LOGGING_LEVEL: "CRITICAL", PREFECT_LOGGING_LEVEL: "WARNING"}):
            with prefect_test_harness(server_startup_timeout=120):
                engine = make_engine(database_url)
                initial = timed(initial_sync)
                rows.append(("initial sync", *initial))
                changed = change_share(port, engine, args.changed)
                rows.append((f"delta, {changed} records changed", *timed(delta_sync)))
                rows.append(("delta, nothing changed", *timed(delta_sync)))
                with engine.connect() as connection:
                    requests_made = dict(connection.execute(sa.select(sync_runs.c.id, sync_runs.c.source_requests)).all())
    finally:
        sandbox.terminate()
    report(args, database_url, rows, requests_made)


def report(args, database_url: str, rows: list, requests_made: dict[int, int]) -> None:
    lines = [
        f"# Sync cost, {args.units:,} units ({database_url.split(':')[0]})",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}. "
        f"Command: `python bench/sync_cost.py --units {args.units} --changed {args.changed}`. Peak RSS of the sync process: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (sandbox runs in its own process).",
        "",
        "| run | wall s | source requests | records fetched | " + " | ".join(f"{s} s" for s in STAGES[:3]) + " | validation per 10k rows |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for title, took, result, stages in rows:
        fetched = sum(numbers["fetched"] for numbers in result["counts"].values())
        per_10k = f"{stages.get('validate_page', 0) / fetched * 10_000:.2f} s" if fetched else "—"
        lines.append(
            f"| {title} | {took:.1f} | {requests_made.get(result['run_id'], '?')} | {fetched:,} | "
            + " | ".join(f"{stages.get(stage, 0):.1f}" for stage in STAGES[:3])
            + f" | {per_10k} |"
        )
    initial_took, initial_stages = rows[0][1], rows[0][3]
    gate = initial_stages.get("validate_page", 0) + initial_stages.get("open_quality_gate", 0)
    lines += ["", f"Validation share of the initial sync: {gate:.1f} s of {initial_took:.1f} s ({gate / initial_took:.0%})."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
