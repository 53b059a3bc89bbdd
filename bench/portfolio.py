"""One benchmark portfolio on one database: floor, initial sync, two deltas, a reconciliation and CLI commands, measured."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa

from bench.commands import CliCommand, measure_flow_commands, measure_read_only, newest_run_id
from bench.floor import measure_floor
from bench.processes import BIN, CommandResult, run_measured, start_sandbox
from pmsync.platform.database import make_engine, normalise_url
from pmsync.sync.rules import PROPERTYWARE_STREAMS
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER, SANDBOX_SYSTEM_ID
from sandbox.constants import BASE_PATH, CONTROL_PATH
from schemas.tables import sync_run_entities, sync_runs

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
"""The default PostgreSQL server the bench creates and drops its databases on."""
CHANGED_ENTITIES = ("buildings", "units", "leases", "workorders")
"""What a 1 % change touches in the source: the records users edit (charges and payments are only ever added)."""
LISTED_ENTITIES = tuple(stream.entities[0] for stream in PROPERTYWARE_STREAMS)
"""One entity per listing, so that a record is counted once (a lease also yields a resident)."""


@dataclass
class Operation:
    """One measured operation of one run."""

    name: str
    seconds: float
    requests: int
    records: int
    peak_rss_mb: float = 0.0
    floor_ratio: float | None = None
    note: str = ""


@dataclass
class PortfolioResult:
    """Everything measured for one portfolio size on one database."""

    units: int
    database: str
    source_records: int
    operations: list[Operation] = field(default_factory=list)
    commands: list[CliCommand] = field(default_factory=list)
    journal: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)
    """The change journal's A/B (bench.journal_cost.Samples): 1 % deltas with and without journaling."""
    source: str = "propertyware"
    """The source system the portfolio is of (its sandbox's dialect)."""
    rate: int | None = None
    """Buildium: the requests a second the sandbox enforced, the sync's budget and the floor's pace (0: limit lifted)."""

    def as_dict(self) -> dict:
        return asdict(self)


def fresh_database(kind: str, name: str, work: Path, postgres_url: str) -> str:
    """An empty database: a new SQLite file under `work`, or a re-created PostgreSQL database."""
    if kind == "sqlite":
        return f"sqlite:///{work / f'{name}.db'}"
    drop_postgres_database(name, postgres_url, create_again=True)
    return sa.engine.make_url(normalise_url(postgres_url)).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(name: str, postgres_url: str, create_again: bool = False) -> None:
    admin = sa.create_engine(normalise_url(postgres_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create_again:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def last_run(database_url: str, after_run_id: int,
             listed: tuple[str, ...] = LISTED_ENTITIES) -> tuple[int, int, str]:
    """(source requests, records fetched, status) of the newest run, which must be newer than `after_run_id`."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        run = connection.execute(
            sa.select(sync_runs.c.id, sync_runs.c.source_requests, sync_runs.c.status)
            .where(sync_runs.c.id > after_run_id).order_by(sync_runs.c.id.desc()).limit(1)
        ).one_or_none()
        if run is None:
            raise RuntimeError("the command wrote no sync_runs row")
        fetched = connection.execute(
            sa.select(sa.func.coalesce(sa.func.sum(sync_run_entities.c.fetched), 0)).where(
                sync_run_entities.c.run_id == run.id, sync_run_entities.c.entity.in_(listed))
        ).scalar_one()
    engine.dispose()
    return run.source_requests, int(fetched), run.status


def change_source(root_url: str, action: str, entities: tuple[str, ...], share: float, seed: int = 5) -> int:
    """Touch or delete a share of each entity's records through the sandbox's control API (the same share for the
    same seed); how many changed."""
    changed = 0
    for entity in entities:
        response = requests.post(f"{root_url}{CONTROL_PATH}/records/{entity}/sample/{action}",
                                 json={"share": share, "seed": seed}, timeout=600)
        response.raise_for_status()
        changed += response.json()["count"]
    return changed


def sync_environment(platform_url: str, root_url: str, prefect_api: str) -> dict[str, str]:
    """What a user's `pmsync` sees: the platform, the sandbox as the source, a running Prefect server."""
    return {
        **os.environ, "PMSYNC_DATABASE_URL": platform_url, "PMSYNC_PW_BASE_URL": root_url + BASE_PATH,
        "PMSYNC_PW_CLIENT_ID": SANDBOX_CLIENT_ID, "PMSYNC_PW_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "PMSYNC_PW_SYSTEM_ID": SANDBOX_SYSTEM_ID, "PMSYNC_INTEGRATION_USER": SANDBOX_INTEGRATION_USER,
        "PREFECT_API_URL": prefect_api, "PREFECT_LOGGING_LEVEL": "WARNING",
    }


def run_command(args: list[str], env: dict[str, str]) -> CommandResult:
    result = run_measured([str(BIN / "pmsync"), *args], env)
    if result.returncode:
        raise RuntimeError(f"pmsync {' '.join(args)} failed ({result.returncode}):\n{result.output_tail}")
    return result


def measure_portfolio(units: int, database: str, work: Path, prefect_api: str, postgres_url: str,
                      ledger: bool = True, changed_share: float = 0.01, removed_share: float = 0.005,
                      progress=print) -> PortfolioResult:
    """Floor, initial sync, delta with nothing changed, delta after `changed_share`, flow-running commands with no
    Prefect server, reconcile after `removed_share`, read-only commands, then the change journal's A/B."""
    names = (f"pmsync_bench_floor_{units}", f"pmsync_bench_{units}")
    floor_url, platform_url = (fresh_database(database, name, work, postgres_url) for name in names)
    sandbox, root_url = start_sandbox(units, ledger, work)
    try:
        progress(f"{units:,} units, {database}: floor")
        floor = measure_floor(root_url, floor_url)
        result = PortfolioResult(units, database, floor.records)
        result.operations.append(Operation("floor", floor.seconds, floor.requests, floor.records, floor_ratio=1.0,
                                           note=f"fetch {floor.fetch_seconds:.1f} s + insert {floor.insert_seconds:.1f} s"))
        env = sync_environment(platform_url, root_url, prefect_api)

        def measured(name: str, args: list[str], note: str = "") -> None:
            progress(f"{units:,} units, {database}: {name}")
            before = newest_run_id(platform_url)
            command = run_command(args, env)
            requests_made, fetched, status = last_run(platform_url, before)
            if status != "succeeded":
                raise RuntimeError(f"{name} ended {status}:\n{command.output_tail}")
            result.operations.append(Operation(name, command.seconds, requests_made, fetched,
                                               command.peak_rss_bytes / 2**20, command.seconds / floor.seconds, note))

        measured("initial sync", ["sync", "initial"])
        measured("delta, nothing changed", ["sync", "delta"])
        touched = change_source(root_url, "touch", CHANGED_ENTITIES, changed_share)
        measured(f"delta, {changed_share:.0%} changed", ["sync", "delta"],
                 f"{touched:,} records touched in {', '.join(CHANGED_ENTITIES)}")
        progress(f"{units:,} units, {database}: commands with no Prefect server")
        result.commands += measure_flow_commands(env, platform_url, work, progress)
        removed = change_source(root_url, "delete", ("units",), removed_share)
        measured(f"reconcile, {removed_share:.1%} of units removed", ["reconcile"],
                 f"{removed:,} units removed")
        progress(f"{units:,} units, {database}: read-only commands")
        result.commands += measure_read_only(env, platform_url, progress)
        progress(f"{units:,} units, {database}: the change journal's cost, A/B in process")
        from bench.journal_cost import measure_synced

        result.journal = measure_synced(root_url, platform_url, share=changed_share, progress=progress)
    finally:
        sandbox.stop()
        if database == "postgresql":
            for name in names:
                drop_postgres_database(name, postgres_url)
    return result
