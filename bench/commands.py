"""The benchmark's CLI measurements: read-only commands, and flow-running commands with no Prefect server configured."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bench.processes import BIN, CommandResult, run_measured
from pmsync.platform.database import make_engine
from schemas.tables import leases, sync_runs, work_orders

READ_ONLY_COMMANDS = (["--help"], ["runs"], ["state"], ["quality"])
"""Commands that only read the platform: the target is under a second each, wall, whole process."""
OWNERS_ROWS = 100
"""The small owners file `pmsync import owners` reads."""


@dataclass
class CliCommand:
    """One timed `pmsync` command: wall seconds, the work its own sync_runs row recorded, peak RSS of its tree."""

    label: str
    command: str
    prefect_server: bool
    seconds: float
    own_seconds: float | None
    peak_rss_mb: float
    note: str = ""

    @property
    def beyond_own_work(self) -> float:
        """Wall seconds not spent in the run's own work (all of them when the command recorded no run)."""
        return self.seconds - (self.own_seconds or 0.0)


def without_prefect_server(env: dict[str, str], prefect_home: Path) -> dict[str, str]:
    """The environment of a user with no Prefect server configured: no PREFECT_API_URL, a Prefect home of its own."""
    bare = {name: value for name, value in env.items() if name != "PREFECT_API_URL"}
    return {**bare, "PREFECT_HOME": str(prefect_home)}


def newest_run_id(database_url: str) -> int:
    """The newest sync_runs id (0 on a database not migrated yet)."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        newest = 0
        if sa.inspect(connection).has_table(sync_runs.name):
            newest = connection.execute(sa.select(sa.func.coalesce(sa.func.max(sync_runs.c.id), 0))).scalar_one()
    engine.dispose()
    return int(newest)


def own_work_seconds(database_url: str, after_run_id: int) -> float | None:
    """finished_at − started_at summed over the sync_runs rows newer than `after_run_id` (None if it wrote none)."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(sync_runs.c.started_at, sync_runs.c.finished_at).where(sync_runs.c.id > after_run_id)
        ).all()
    engine.dispose()
    if not rows:
        return None
    return sum((row.finished_at - row.started_at).total_seconds() for row in rows if row.finished_at)


def checked(result: CommandResult, args: list[str]) -> CommandResult:
    if result.returncode:
        raise RuntimeError(f"pmsync {' '.join(args)} failed ({result.returncode}):\n{result.output_tail}")
    return result


def measure_command(label: str, args: list[str], env: dict[str, str], database_url: str, note: str = "",
                    runs_flow: bool = False) -> CliCommand:
    """Runs `pmsync ARGS` to completion (it must succeed) and times it against the run it recorded."""
    before = newest_run_id(database_url)
    result = checked(run_measured([str(BIN / "pmsync"), *args], env), args)
    own = own_work_seconds(database_url, before)
    if runs_flow and own is None:
        note = "; ".join(filter(None, (note, "no sync_runs row: its whole wall time counts")))
    shown = " ".join(Path(arg).name if Path(arg).is_absolute() else arg for arg in args)
    return CliCommand(label, f"pmsync {shown}", "PREFECT_API_URL" in env, result.seconds, own,
                      result.peak_rss_bytes / 2**20, note)


def measure_read_only(env: dict[str, str], database_url: str, progress) -> list[CliCommand]:
    measured = []
    for args in READ_ONLY_COMMANDS:
        progress(f"  pmsync {' '.join(args)}")
        measured.append(measure_command(" ".join(args), args, env, database_url))
    return measured


def write_owners_file(path: Path, rows: int = OWNERS_ROWS) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("owner_id,first_name,last_name,company,email,phone,group\r\n")
        for n in range(1, rows + 1):
            out.write(f'{100_000 + n},First{n},Last{n},"Holdings {n}, LLC",owner{n}@example.com,+1 555 {n:04d},\r\n')


def synced_ids(database_url: str) -> tuple[int, int]:
    """A lease's and a work order's source ids, both synced from the source (the ids `balance` and `workorder` take)."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        lease = connection.execute(sa.select(sa.func.min(leases.c.source_id))).scalar_one()
        work_order = connection.execute(sa.select(sa.func.min(work_orders.c.source_id))).scalar_one()
    engine.dispose()
    if lease is None or work_order is None:
        raise RuntimeError("the initial sync left no lease or no work order to run `balance` and `sync-now` on")
    return int(lease), int(work_order)


def measure_flow_commands(env: dict[str, str], database_url: str, work: Path, progress) -> list[CliCommand]:
    """With no Prefect server configured (the source unchanged since the last delta): `pmsync sync delta`,
    `balance`, `import owners` and `workorder sync-now`. Their Prefect home is shared by every portfolio."""
    lease, work_order = synced_ids(database_url)
    env = without_prefect_server(env, work / "prefect-no-server")
    owners = work / f"owners-{OWNERS_ROWS}.csv"
    write_owners_file(owners)
    note_args = ["workorder", "update", str(work_order), "--note", "bench: a note to push", "--no-push"]
    checked(run_measured([str(BIN / "pmsync"), *note_args], env), note_args)
    commands = (
        ("sync delta, nothing changed", ["sync", "delta"], ""),
        ("balance <lease>", ["balance", str(lease)], ""),
        ("import owners <file>", ["import", "owners", str(owners)], f"{OWNERS_ROWS} rows"),
        ("workorder sync-now <id>", ["workorder", "sync-now", str(work_order)], "pushes one note"),
    )
    measured = []
    for label, args, note in commands:
        progress(f"  pmsync {' '.join(args)} (no Prefect server)")
        measured.append(measure_command(label, args, env, database_url, note, runs_flow=True))
    return measured
