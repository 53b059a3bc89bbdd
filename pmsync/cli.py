"""The `pmsync` command line: runs the same flows as the deployments, and shows what they did."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.console import Console
from rich.table import Table

from pmsync.runs import COUNTS

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
sync_app = typer.Typer(no_args_is_help=True, help="Run a sync flow now, in this process.")
sandbox_app = typer.Typer(no_args_is_help=True, help="The bundled Propertyware-dialect source.")
app.add_typer(sync_app, name="sync")
app.add_typer(sandbox_app, name="sandbox")
console = Console()


def _fail(reason: str) -> None:
    console.print(f"[red]error:[/red] {reason}", soft_wrap=True, highlight=False)
    raise typer.Exit(1)


def _run_flow(flow: Callable[[], dict]) -> dict:
    from pmsync.integrations import IntegrationNotConfigured
    from pmsync.source import SourceError

    try:
        return flow()
    except (SourceError, IntegrationNotConfigured) as failure:
        _fail(str(failure).splitlines()[0])
    except Exception as failure:  # a failed run must still end in one readable line and a non-zero exit
        _fail(f"{type(failure).__name__}: {str(failure).splitlines()[0] if str(failure) else ''}")
    raise AssertionError("unreachable")


def counts_table(title: str, counts: dict[str, dict[str, int]]) -> Table:
    table = Table(title=title)
    table.add_column("entity")
    for name in COUNTS:
        table.add_column(name, justify="right")
    for entity, numbers in counts.items():
        table.add_row(entity, *(str(numbers.get(name, 0)) for name in COUNTS))
    return table


def platform_totals(database_url: str) -> dict[str, int]:
    """Rows per public table, for the closing summary."""
    from sqlalchemy import func, select

    from pmsync.platform import make_engine
    from schemas.tables import SYNCED_TABLES

    engine = make_engine(database_url)
    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in SYNCED_TABLES.values()
        }


@sync_app.command("initial")
def sync_initial() -> None:
    """Full pull of properties, units, leases, residents and work orders into the platform."""
    from flows.initial_sync import initial_sync
    from pmsync.settings import PlatformSettings

    result = _run_flow(initial_sync)
    console.print(counts_table(f"initial sync — run {result['run_id']}", result["counts"]))
    totals = platform_totals(PlatformSettings().database_url)
    console.print("platform rows: " + ", ".join(f"{name} {count}" for name, count in totals.items()))


@app.command("runs")
def runs(limit: int = typer.Option(10, help="How many recent runs to show.")) -> None:
    """Recent runs, newest first, with their counts per entity."""
    from pmsync.platform import make_engine, migrate
    from pmsync.runs import recent_runs
    from pmsync.settings import PlatformSettings

    engine = make_engine(PlatformSettings().database_url)
    migrate(engine)
    found = recent_runs(engine, limit)
    if not found:
        console.print("no runs yet")
        return
    for run in found:
        took = ""
        if run["finished_at"]:
            took = f", {(run['finished_at'] - run['started_at']).total_seconds():.1f} s"
        title = (
            f"run {run['id']} · {run['flow']} · {run['integration']} · {run['status']}"
            f" · started {run['started_at']:%Y-%m-%d %H:%M:%S} UTC{took} · {run['source_requests']} requests"
        )
        console.print(counts_table(title, run["counts"]))
        if run["error"]:
            console.print(f"  [red]{run['error']}[/red]", soft_wrap=True, highlight=False)


@sandbox_app.command("serve")
def sandbox_serve(
    port: int = typer.Option(8765, help="Port on 127.0.0.1."),
    size: int = typer.Option(1000, help="Number of units in the generated portfolio."),
    seed: int = typer.Option(7, help="Seed of the deterministic data."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
) -> None:
    """Serve a deterministic Propertyware-dialect portfolio over HTTP until interrupted."""
    from sandbox.runner import serve

    serve(host=host, port=port, units=size, seed=seed)
