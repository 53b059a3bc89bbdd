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
    source: str = typer.Option(
        "propertyware,buildium", "--source",
        help="Source systems to measure, comma-separated. Buildium alone (`--source buildium --units 10000`) rewrites "
             "only REPORT.md's Buildium section."),
    buildium_units: str = typer.Option(
        None, "--buildium-units", help="Buildium's portfolio sizes when both sources run (default 10000, issue 26's "
                                       "size); with --source buildium alone, --units."),
    buildium_rate: int = typer.Option(
        10, "--buildium-rate", min=0, help="Requests a second the Buildium sandbox enforces, pmsync's budget and the "
                                           "floor's pace (0: no limit, the floor unpaced)."),
    integrations: int = typer.Option(
        None, "--integrations", help="Fleet benchmark: this many integrations (each its own sandbox account of --units "
                                     "units) through a Prefect server on PostgreSQL and process workers."),
    buildium_integrations: int = typer.Option(
        0, "--buildium-integrations", min=0, help="Fleet benchmark: how many of the --integrations are Buildium "
                                                  "accounts (`pmsync sandbox serve --source buildium`); the rest "
                                                  "Propertyware."),
    workers: str = typer.Option("1,2", help="Fleet benchmark: worker counts to measure, comma-separated."),
    runs_per_worker: int = typer.Option(
        2, "--runs-per-worker", help="Fleet benchmark: flow runs each worker takes at once (`prefect worker start "
                                     "--limit`); syncs at once = workers × this."),
    batch_size: int = typer.Option(
        0, "--batch-size", min=0, help="Fleet benchmark: also a delta round in `delta-batch` flow runs of this many "
                                       "integrations each (0: none)."),
    batch_concurrency: int = typer.Option(
        2, "--batch-concurrency", min=1, max=8, help="Fleet benchmark: syncs at once inside each batch flow run."),
) -> None:
    """Floor, initial sync, deltas (nothing and 1 % changed) and reconciliation (0.5 % removed) per size and database;
    with --integrations, the fleet benchmark instead (bench/FLEET.md)."""
    from bench.run import run_bench

    sizes = whole_numbers("--units", units)
    sources = tuple(name.strip().lower() for name in source.split(",") if name.strip())
    buildium_sizes = whole_numbers("--buildium-units", buildium_units) if buildium_units else None
    if buildium_sizes is None and sources != ("buildium",):
        from bench.run import BUILDIUM_UNITS

        buildium_sizes = list(BUILDIUM_UNITS)
    command = "pmsync " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])
    if integrations is not None:
        fleet(integrations, sizes, workers, runs_per_worker, out, postgres_url, command, buildium_integrations,
              (batch_size, batch_concurrency))
        return
    try:
        run_bench(sizes, [d.strip() for d in databases.split(",") if d.strip()], out, postgres_url, ledger, command,
                  progress=lambda line: console.print(line, style="dim", highlight=False), sources=sources,
                  buildium_units=buildium_sizes, buildium_rate=buildium_rate)
    except (ValueError, RuntimeError) as failure:
        fail(str(failure))
    print((out / "REPORT.md").read_text())
    console.print(f"written: {out / 'REPORT.md'}, {out / 'scaling.png'}, {out / 'results.json'} (cwd {os.getcwd()})")


def whole_numbers(option: str, value: str) -> list[int]:
    try:
        return [int(size.replace("_", "")) for size in value.split(",") if size.strip()]
    except ValueError:
        fail(f"{option} must be whole numbers separated by commas, not {value!r}", EXIT_CONFIGURATION)


def fleet(integrations: int, sizes: list[int], workers: str, runs_per_worker: int, out: Path, postgres_url: str,
          command: str, buildium: int = 0, batch: tuple[int, int] = (0, 2)) -> None:
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
                  progress=lambda line: console.print(line, style="dim", highlight=False), buildium=buildium,
                  batch_size=batch[0], batch_concurrency=batch[1])
    except (ValueError, RuntimeError) as failure:
        fail(str(failure))
    print((out / "FLEET.md").read_text())
    console.print(f"written: {out / 'FLEET.md'}, {out / 'fleet.png'}, {out / 'fleet.json'} (cwd {os.getcwd()})")
