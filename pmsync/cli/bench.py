"""`pmsync bench`: measure syncs against the floor on sandbox portfolios of given sizes (a report, not a test)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import typer

from pmsync.cli.common import EXIT_CONFIGURATION, console, fail

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def register(app: typer.Typer) -> None:
    """Add `pmsync bench` to the `pmsync` app."""
    app.command("bench")(bench)


def bench(
    units: str = typer.Option("10000", help="Portfolio sizes, comma-separated (e.g. 10000,100000,1000000)."),
    databases: str = typer.Option("sqlite,postgresql", help="Platform databases to measure, comma-separated."),
    postgres_url: str = typer.Option(POSTGRES_URL, envvar="PMSYNC_BENCH_POSTGRES_URL",
                                     help="A PostgreSQL server the bench may create and drop databases on."),
    out: Path = typer.Option(Path("bench"), help="Folder for REPORT.md, scaling.png and results.json."),
    ledger: bool = typer.Option(True, "--ledger/--no-ledger", help="Include lease charges and payments."),
    integrations: int = typer.Option(
        None, "--integrations", help="Fleet benchmark: this many integrations (each its own sandbox account of --units "
                                     "units) through a Prefect server on PostgreSQL and process workers."),
    workers: str = typer.Option("1,2", help="Fleet benchmark: worker counts to measure, comma-separated."),
    runs_per_worker: int = typer.Option(
        2, "--runs-per-worker", help="Fleet benchmark: flow runs each worker takes at once (`prefect worker start "
                                     "--limit`); syncs at once = workers × this."),
) -> None:
    """Floor, initial sync, deltas (nothing and 1 % changed) and reconciliation (0.5 % removed) per size and database;
    with --integrations, the fleet benchmark instead (bench/FLEET.md)."""
    from bench.run import run_bench

    try:
        sizes = [int(size.replace("_", "")) for size in units.split(",") if size.strip()]
    except ValueError:
        fail(f"--units must be whole numbers separated by commas, not {units!r}", EXIT_CONFIGURATION)
    command = "pmsync " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])
    if integrations is not None:
        fleet(integrations, sizes, workers, runs_per_worker, out, postgres_url, command)
        return
    try:
        run_bench(sizes, [d.strip() for d in databases.split(",") if d.strip()], out, postgres_url, ledger, command,
                  progress=lambda line: console.print(line, style="dim", highlight=False))
    except (ValueError, RuntimeError) as failure:
        fail(str(failure))
    print((out / "REPORT.md").read_text())
    console.print(f"written: {out / 'REPORT.md'}, {out / 'scaling.png'}, {out / 'results.json'} (cwd {os.getcwd()})")


def fleet(integrations: int, sizes: list[int], workers: str, runs_per_worker: int, out: Path, postgres_url: str,
          command: str) -> None:
    """`pmsync bench --integrations N --units M`: the many-integrations benchmark."""
    from bench.fleet import run_fleet

    if len(sizes) != 1:
        fail(f"with --integrations, --units is the size of each integration's portfolio (one number), not {sizes}", EXIT_CONFIGURATION)
    try:
        counts = [int(count) for count in workers.split(",") if count.strip()]
    except ValueError:
        fail(f"--workers must be whole numbers separated by commas, not {workers!r}", EXIT_CONFIGURATION)
    try:
        run_fleet(integrations, sizes[0], counts, runs_per_worker, out, postgres_url, command,
                  progress=lambda line: console.print(line, style="dim", highlight=False))
    except (ValueError, RuntimeError) as failure:
        fail(str(failure))
    print((out / "FLEET.md").read_text())
    console.print(f"written: {out / 'FLEET.md'}, {out / 'fleet.png'}, {out / 'fleet.json'} (cwd {os.getcwd()})")
