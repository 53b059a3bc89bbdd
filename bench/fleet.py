"""`pmsync bench --integrations`: many integrations, each its own sandbox account, synced through a Prefect server on
PostgreSQL by 1, then 2, process workers; initial syncs, then one round of hourly deltas, measured."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa

from bench.fleet_buildium import (buildium_block_names, deploy_buildium, landed_buildium_units, save_buildium_blocks,
                                  start_buildium_sandboxes)
from bench.fleet_report import write_fleet_report
from bench.fleet_sampling import Sampler, cpu_by_group
from bench.fleet_traffic import settled_traffic
from bench.portfolio import drop_postgres_database, fresh_database
from bench.processes import BIN, Service, run_measured, start_prefect_server, start_sandbox
from pmsync.platform.database import make_engine
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER, SANDBOX_SYSTEM_ID, SandboxStore
from sandbox.constants import BASE_PATH
from schemas.tables import integrations as integrations_table
from schemas.tables import units as units_table

REPO = Path(__file__).resolve().parents[1]
POOL = "pmsync"
"""The work pool prefect.yaml's deployments name."""
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
PREFECT_SETTINGS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",  # no cron runs beside the measured ones
    "PREFECT_WORKER_QUERY_SECONDS": "2",
    "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "5",
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem",
}
PHASES = (("initial", "initial-sync", "initial"), ("delta", "delta-sync", "delta"))
"""(phase, flow, deployment prefix): every integration's initial sync, then one round of its hourly delta."""
BATCH_PHASE = ("delta batch", "delta-batch", "hourly")
"""With --batch-size: one more no-change delta round, the integrations in batches of that many, one `delta-batch/hourly`
flow run (one flow-run process) each."""


@dataclass
class RunOutcome:
    integration: str
    state: str
    state_name: str
    message: str
    seconds: float | None


@dataclass
class Phase:
    """One phase (all initial syncs, or one delta round) at one worker count."""

    name: str
    workers: int
    seconds: float
    syncs_per_minute: float
    units_per_second: float
    peak_rss_mb: list[float]
    peak_connections: int
    cpu_seconds: dict[str, float]
    runs: list[RunOutcome] = field(default_factory=list)
    connection_timeline: list[tuple[float, int]] = field(default_factory=list)
    syncs: int = 0
    """Integrations synced in the phase (a batch flow run syncs several)."""
    traffic: dict[str, int] = field(default_factory=dict)
    """What the phase sent the Prefect server (bench/fleet_traffic.py)."""
    idle_cpu_per_second: dict[str, float] = field(default_factory=dict)
    """CPU seconds per wall second of each group just before the phase, with no run going (what it costs anyway)."""

    @property
    def failed(self) -> list[RunOutcome]:
        return [run for run in self.runs if run.state != "COMPLETED"]


@dataclass
class FleetResult:
    integrations: int
    units: int
    runs_per_worker: int
    command: str
    sandboxes_seconds: float = 0.0
    deploy_seconds: float = 0.0
    deployments: int = 0
    phases: list[Phase] = field(default_factory=list)
    platform_units: dict[str, dict[str, int]] = field(default_factory=dict)
    """Worker count → integration → its units on the platform afterwards."""
    expected_units: dict[str, int] = field(default_factory=dict)
    """Integration → active units of active buildings in its sandbox (what an initial sync lands)."""
    load: tuple[float, float] = (0.0, 0.0)
    buildium: int = 0
    """How many of the integrations are Buildium accounts (the rest Propertyware)."""
    batch_size: int = 0
    """Integrations per `delta-batch` flow run in the batch round (0: no batch round)."""
    batch_concurrency: int = 2

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FleetResult:
        """Back from fleet.json (to rewrite the report without measuring again)."""
        phases = [Phase(**{**p, "runs": [RunOutcome(**r) for r in p["runs"]]}) for p in data["phases"]]
        return cls(**{**data, "phases": phases, "load": tuple(data["load"])})


def block_names(count: int) -> list[str]:
    return [f"fleet-{n:0{len(str(count))}d}" for n in range(1, count + 1)]


def landed_units(units: int, seed: int) -> int:
    """What an initial sync of that sandbox lands: its active units of active buildings."""
    store = SandboxStore(units=units, seed=seed)
    buildings = {b["id"] for b in store.records("buildings") if b["active"]}
    return sum(1 for u in store.records("units") if u["active"] and u["buildingID"] in buildings)


def fleet_names(integrations: int, buildium: int) -> tuple[list[str], list[str]]:
    """The Propertyware integrations' block names and the Buildium ones' (`buildium` of the `integrations`)."""
    return block_names(integrations - buildium) if integrations > buildium else [], buildium_block_names(buildium)


def run_fleet(integrations: int, units: int, workers: list[int], runs_per_worker: int, out_dir: Path,
              postgres_url: str, command: str = "pmsync bench --integrations", progress=print,
              buildium: int = 0, batch_size: int = 0, batch_concurrency: int = 2) -> FleetResult:
    """Runs the whole fleet bench, `buildium` of the integrations Buildium accounts and the rest Propertyware ones;
    writes FLEET.md, fleet.png and fleet.json into `out_dir`."""
    if integrations < 1 or units < 1 or runs_per_worker < 1 or not workers or min(workers) < 1:
        raise ValueError("--integrations, --units, --runs-per-worker and every worker count must be at least 1")
    if not 0 <= buildium <= integrations:
        raise ValueError(f"--buildium-integrations must be from 0 to --integrations ({integrations}), not {buildium}")
    out_dir.mkdir(parents=True, exist_ok=True)
    pw_names, buildium_names = fleet_names(integrations, buildium)
    names = pw_names + buildium_names
    if batch_size < 0 or not 1 <= batch_concurrency <= 8:
        raise ValueError("--batch-size must be 0 (no batch round) or more, --batch-concurrency from 1 to 8")
    result = FleetResult(integrations, units, runs_per_worker, command, load=(os.getloadavg()[0], 0.0),
                         buildium=buildium, batch_size=batch_size, batch_concurrency=batch_concurrency)
    prefix = f"pmsync_fleet_{os.getpid()}"  # two benches at once (CI, a user) never share a database
    prefect_database = f"{prefix}_prefect"
    with tempfile.TemporaryDirectory(prefix="pmsync-fleet-") as scratch, ExitStack() as stack:
        work = Path(scratch)
        progress(f"starting {integrations} sandboxes of {units:,} units ({buildium} of them Buildium)")
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            sandboxes = list(pool.map(lambda n: start_sandbox(units, True, work, seed=n, log_name=f"sandbox-{n}.log"),
                                      range(1, len(pw_names) + 1)))
        sandboxes += start_buildium_sandboxes(buildium, units, work)
        for service, _ in sandboxes:
            stack.callback(service.stop)
        result.sandboxes_seconds = time.perf_counter() - started
        result.expected_units = {name: landed_units(units, seed) for seed, name in enumerate(pw_names, start=1)}
        result.expected_units |= {name: landed_buildium_units(units, seed)
                                  for seed, name in enumerate(buildium_names, start=1)}
        prefect_url = fresh_database("postgresql", prefect_database, work, postgres_url)
        stack.callback(drop_postgres_database, prefect_database, postgres_url)
        asyncpg_url = sa.engine.make_url(prefect_url).set(drivername="postgresql+asyncpg")
        server, api = start_prefect_server(work, database_url=asyncpg_url.render_as_string(hide_password=False),
                                           settings=PREFECT_SETTINGS)
        stack.callback(server.stop)
        env = {**os.environ, **PREFECT_SETTINGS, "PREFECT_API_URL": api, "PREFECT_HOME": str(work / "client-home"),
               "PMSYNC_PROJECT_DIR": str(REPO), **source_env(sandboxes[0][1] if pw_names else "http://127.0.0.1:9")}
        progress(f"registering {integrations} integration blocks and deploying")
        roots = [root for _, root in sandboxes]
        result.deploy_seconds, result.deployments = register_and_deploy(env, pw_names, roots[:len(pw_names)],
                                                                        buildium_names, roots[len(pw_names):])
        progress(f"`pmsync deploy`: {result.deployments} deployments in {result.deploy_seconds:.1f} s")
        for count in workers:
            database = f"{prefix}_platform_w{count}"
            platform_url = fresh_database("postgresql", database, work, postgres_url)
            try:
                worker_env = {**env, "PMSYNC_DATABASE_URL": platform_url}
                result.phases += measure_worker_count(count, runs_per_worker, worker_env, api, names, units, work,
                                                      [s.process.pid for s, _ in sandboxes], server.process.pid,
                                                      postgres_url, database, progress,
                                                      (batch_size, batch_concurrency))
                result.platform_units[str(count)] = units_per_integration(platform_url)
            finally:
                drop_postgres_database(database, postgres_url)
            (out_dir / "fleet.json").write_text(json.dumps(result.as_dict(), indent=1))
    result.load = (result.load[0], os.getloadavg()[0])
    (out_dir / "fleet.json").write_text(json.dumps(result.as_dict(), indent=1))
    write_fleet_report(result, out_dir / "FLEET.md", out_dir / "fleet.png")
    return result


def source_env(root_url: str) -> dict[str, str]:
    """The workers' default integration (the flows are given a block; the environment must still be complete)."""
    return {"PMSYNC_PW_BASE_URL": root_url + BASE_PATH, "PMSYNC_PW_CLIENT_ID": SANDBOX_CLIENT_ID,
            "PMSYNC_PW_CLIENT_SECRET": SANDBOX_CLIENT_SECRET, "PMSYNC_PW_SYSTEM_ID": SANDBOX_SYSTEM_ID,
            "PMSYNC_INTEGRATION_USER": SANDBOX_INTEGRATION_USER}


def checked(args: list[str], env: dict[str, str], what: str, timeout: float = 600) -> None:
    done = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"{what} failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")


def register_and_deploy(env: dict[str, str], names: list[str], roots: list[str], buildium_names: list[str] = (),
                        buildium_roots: list[str] = ()) -> tuple[float, int]:
    """Blocks (one per sandbox account), the process work pool, then `pmsync deploy` (timed) and the Buildium
    blocks' deployments (timed with it); (seconds, deployments)."""
    checked([str(BIN / "prefect"), "--no-prompt", "block", "register", "-m", "pmsync.integrations.blocks"], env, "block register")
    script = "from pmsync.integrations.blocks import PropertywareIntegration as P\n" + "".join(
        f"P(base_url={root + BASE_PATH!r}, client_id={SANDBOX_CLIENT_ID!r}, client_secret={SANDBOX_CLIENT_SECRET!r}, "
        f"system_id={SANDBOX_SYSTEM_ID!r}, integration_user={SANDBOX_INTEGRATION_USER!r}).save({name!r}, overwrite=True)\n"
        for name, root in zip(names, roots))
    checked([str(BIN / "python"), "-c", script], env, "saving the integration blocks")
    if buildium_names:
        save_buildium_blocks(env, list(buildium_names), list(buildium_roots))
    checked([str(BIN / "prefect"), "--no-prompt", "work-pool", "create", POOL, "--type", "process"], env, "work-pool create")
    deploy_env = {**env, "PMSYNC_REPORTS_URL": "http://reports.bench.invalid"}
    deployed = run_measured([str(BIN / "pmsync"), "deploy"], deploy_env)
    if deployed.returncode:
        raise RuntimeError(f"pmsync deploy failed after {deployed.seconds:.0f} s: {deployed.output_tail}")
    seconds = deployed.seconds
    if buildium_names:
        started = time.perf_counter()
        deploy_buildium(deploy_env, list(buildium_names))
        seconds += time.perf_counter() - started
    count = len(requests.post(f"{env['PREFECT_API_URL']}/deployments/filter", json={"limit": 200}, timeout=60).json())
    total, offset = count, count
    while count == 200:
        count = len(requests.post(f"{env['PREFECT_API_URL']}/deployments/filter", json={"limit": 200, "offset": offset},
                                  timeout=60).json())
        total, offset = total + count, offset + count
    return seconds, total


def start_workers(count: int, runs_per_worker: int, env: dict[str, str], work: Path, api: str) -> list[Service]:
    workers = []
    for n in range(1, count + 1):
        args = [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", f"fleet-{count}-{n}",
                "--limit", str(runs_per_worker), "--type", "process"]
        workers.append(Service(args, f"{api}/health", env, work / f"worker-{count}-{n}.log", 60))
    return workers


def measure_worker_count(count: int, runs_per_worker: int, env: dict[str, str], api: str, names: list[str],
                         units: int, work: Path, sandbox_pids: list[int], server_pid: int, postgres_url: str,
                         database: str, progress, batch: tuple[int, int] = (0, 2)) -> list[Phase]:
    """The phases with `count` workers, each taking `runs_per_worker` flow runs at once; `batch` (size, concurrency)
    adds the batch round when its size is not 0."""
    workers = start_workers(count, runs_per_worker, env, work, api)
    phases = []
    try:
        for phase, flow, prefix in PHASES + ((BATCH_PHASE,) if batch[0] else ()):
            requests_to_create = flow_runs_to_create(api, flow, prefix, names, batch)
            worker_pids = [w.process.pid for w in workers]
            groups = {"sandboxes": sandbox_pids, "workers": worker_pids, "prefect server": [server_pid]}
            progress(f"{count} worker(s): {len(names)} {phase} syncs in {len(requests_to_create)} flow runs")
            idle = idle_cpu(groups, {"worker processes": worker_pids})
            cpu_before, own_before = cpu_by_group(groups, {"worker processes": worker_pids}), sum(os.times()[:2])
            since = datetime.now(timezone.utc)
            with Sampler(worker_pids, postgres_url, database) as sampler:
                started = time.perf_counter()
                created = {requests.post(f"{api}/deployments/{deployment_id}/create_flow_run", json=body,
                                         timeout=60).json()["id"]: label for deployment_id, body, label in requests_to_create}
                runs = wait_until_final(api, created, timeout=max(1800.0, 10.0 * len(names)))
                seconds = time.perf_counter() - started
            cpu_after = cpu_by_group(groups, {"worker processes": worker_pids})
            cpu = {group: cpu_after[group] - cpu_before[group] for group in cpu_after}
            cpu["bench (this process)"] = sum(os.times()[:2]) - own_before
            outcomes = [RunOutcome(created[run["id"]], run["state_type"], run["state_name"],
                                   (run.get("state") or {}).get("message") or "", run.get("total_run_time"))
                        for run in runs]
            traffic = settled_traffic(api, since, datetime.now(timezone.utc))
            phases.append(Phase(phase, count, seconds, len(names) / seconds * 60, len(names) * units / seconds,
                                [peak / 2**20 for peak in sampler.samples.peak_rss_bytes],
                                sampler.samples.peak_connections, cpu,
                                sorted(outcomes, key=lambda o: o.integration), sampler.samples.connection_timeline,
                                syncs=len(names), traffic=traffic, idle_cpu_per_second=idle))
            done = phases[-1]
            progress(f"{count} worker(s): {phase} in {seconds:.1f} s, {len(done.failed)} not completed, "
                     f"peak connections {done.peak_connections}, peak RSS {', '.join(f'{m:.0f}' for m in done.peak_rss_mb)} MB")
    finally:
        for worker in workers:
            worker.stop()
    return phases


IDLE_SECONDS = 10.0


def idle_cpu(groups: dict[str, list[int]], alone: dict[str, list[int]]) -> dict[str, float]:
    """Each group's CPU seconds per wall second over IDLE_SECONDS with no run going: the Prefect server's services
    and the workers' polls cost this whatever runs."""
    before, started = cpu_by_group(groups, alone), time.perf_counter()
    time.sleep(IDLE_SECONDS)
    after, seconds = cpu_by_group(groups, alone), time.perf_counter() - started
    return {group: (after[group] - before[group]) / seconds for group in after}


def flow_runs_to_create(api: str, flow: str, prefix: str, names: list[str],
                        batch: tuple[int, int]) -> list[tuple[str, dict, str]]:
    """(deployment id, create_flow_run body, label) of each flow run of a phase: one per integration on its own
    deployment, or for the batch round one `delta-batch/hourly` run per `batch[0]` integrations."""
    if flow != BATCH_PHASE[1]:
        return [(requests.get(f"{api}/deployments/name/{flow}/{prefix}-{name}", timeout=60).json()["id"], {}, name)
                for name in names]
    deployment_id = requests.get(f"{api}/deployments/name/{flow}/{prefix}", timeout=60).json()["id"]
    size, concurrency = batch
    chunks = [names[first:first + size] for first in range(0, len(names), size)]
    return [(deployment_id, {"parameters": {"integrations": chunk, "concurrency": concurrency}},
             f"batch of {chunk[0]}…{chunk[-1]}") for chunk in chunks]


def wait_until_final(api: str, created: dict[str, str], timeout: float) -> list[dict]:
    """The runs, read twice a second until every one is final (or, past `timeout`, as they are then)."""
    deadline = time.monotonic() + timeout
    body = {"flow_runs": {"id": {"any_": list(created)}}, "limit": 200}
    while True:
        runs = requests.post(f"{api}/flow_runs/filter", json=body, timeout=60).json()
        if len(runs) == len(created) and all(run["state_type"] in FINAL_STATES for run in runs):
            return runs
        if time.monotonic() > deadline:
            return runs
        time.sleep(0.5)


def units_per_integration(platform_url: str) -> dict[str, int]:
    engine = make_engine(platform_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(integrations_table.c.name, sa.func.count(units_table.c.id))
                .select_from(integrations_table.outerjoin(units_table, units_table.c.integration_id == integrations_table.c.id))
                .group_by(integrations_table.c.name)).all()
    finally:
        engine.dispose()
    return {name: count for name, count in rows}
