"""`pmsync runs` (one line per run) and `pmsync runs show ID` (one run's counts per entity, reasons and error)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import typer

from pmsync.cli.bounded import stored_id
from pmsync.cli.common import (
    EXIT_CONFIGURATION, INTEGRATION, console, counts_table, error_console, fail, open_platform, print_unapplied,
    short_lived, shown_integration,
)
from pmsync.cli.json_output import JSON_OPTION, print_json

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine

runs_app = typer.Typer(invoke_without_command=True, help="An integration's recent runs, one line each; `show ID` for one.")
TOTALS = ("fetched", "created", "updated", "quarantined")
"""The counts `pmsync runs` sums over a run's entities, one column each."""


@runs_app.callback()
@short_lived
def runs(
    context: typer.Context,
    limit: int = typer.Option(10, help="How many recent runs to show."),
    integration: Optional[str] = INTEGRATION,
    as_json: bool = JSON_OPTION,
) -> None:
    """An integration's recent runs, newest first, one line each: flow, start, duration, state and the totals fetched,
    created, updated and quarantined over its entities. `pmsync runs show ID` gives one run's counts per entity."""
    if context.invoked_subcommand:
        context.obj = integration
        return
    from pmsync.platform.settings import PlatformSettings
    from pmsync.runs.bookkeeping import recent_runs

    engine = open_platform()
    name, _ = shown_integration(engine, integration)
    found = recent_runs(engine, limit, name)
    if as_json:
        if found:
            _print_stale_parked(engine, PlatformSettings().parked_alert_hours, name, error_console)
        print_json(found)
        return
    if not found:
        console.print(f"no runs yet of integration {name!r}", highlight=False)
        return
    _print_stale_parked(engine, PlatformSettings().parked_alert_hours, name, console)
    for line in runs_table(found):
        console.print(line, soft_wrap=True, highlight=False)
    console.print("a run's counts per entity, reasons and error: pmsync runs show ID",
                  highlight=False)


def runs_table(found: list[dict[str, Any]]) -> list[str]:
    """A header and one line per run, columns aligned to their widest value; a line is never wrapped or cut (a narrow
    terminal wraps it as it wraps any long line)."""
    columns = ("run", "flow", "integration", "started (UTC)", "took", "state", *TOTALS)
    rows = [
        (str(run["id"]), run["flow"], run["integration"], f"{run['started_at']:%Y-%m-%d %H:%M:%S}", _took(run),
         run["status"], *(str(sum(entity.get(total, 0) for entity in run["counts"].values())) for total in TOTALS))
        for run in found
    ]
    widths = [max(len(row[index]) for row in (columns, *rows)) for index in range(len(columns))]
    numeric = {0, 4, *range(6, len(columns))}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(width) if index in numeric else cell.ljust(width) for index, (cell, width) in enumerate(zip(cells, widths))
        ).rstrip()

    return [line(columns), *(line(row) for row in rows)]


def _took(run: dict[str, Any]) -> str:
    if not run["finished_at"]:
        return "-"
    seconds = (run["finished_at"] - run["started_at"]).total_seconds()
    return f"{seconds:.1f} s" if seconds < 600 else f"{seconds / 60:.0f} min"


@runs_app.command("show")
@short_lived
def runs_show(
    context: typer.Context,
    run_id: int = typer.Argument(..., metavar="ID", callback=stored_id("run id"), help="The run's id, as `pmsync runs` prints it."),
    integration: Optional[str] = INTEGRATION,
    as_json: bool = JSON_OPTION,
) -> None:
    """One run in full: its counts per entity, why records were not applied, its source requests and error.

    `--integration` goes here or before `show` (`pmsync runs --integration NAME show ID`)."""
    if integration and context.obj and integration != context.obj:
        fail(f"two integrations named: {context.obj!r} before `show` and {integration!r} after it; name one",
             EXIT_CONFIGURATION)
    engine = open_platform()
    name, _ = shown_integration(engine, integration or context.obj)
    run = one_run(engine, run_id)
    if run is None:
        fail(f"no run {run_id} on the platform; `pmsync runs` lists the run ids of integration {name!r}")
    if run["integration"] != name:
        fail(f"run {run_id} belongs to integration {run['integration']!r}, not {name!r}; "
             f"add --integration {run['integration']}", EXIT_CONFIGURATION)
    if as_json:
        print_json(run)
        return
    took = f", {_took(run)}" if run["finished_at"] else ""
    title = (
        f"run {run['id']} · {run['flow']} · {run['integration']} · {run['status']}"
        f" · started {run['started_at']:%Y-%m-%d %H:%M:%S} UTC{took} · {run['source_requests']} requests"
    )
    console.print(counts_table(title, run["counts"]))
    print_unapplied(run["reasons"])
    if run["error"]:
        console.print(f"  {run['error']}", style="red", soft_wrap=True, highlight=False)


def one_run(engine: Engine, run_id: int) -> dict[str, Any] | None:
    """A run as `pmsync.runs.bookkeeping.recent_runs` gives each (its row, integration, counts and reasons); None when none has
    that id."""
    from sqlalchemy import select

    from pmsync.runs.bookkeeping import runs_counts, runs_unapplied_reasons
    from schemas.tables import integrations, sync_runs

    with engine.connect() as connection:
        run = connection.execute(
            select(sync_runs, integrations.c.name.label("integration"))
            .join(integrations, integrations.c.id == sync_runs.c.integration_id).where(sync_runs.c.id == run_id)
        ).first()
        if run is None:
            return None
        counts = runs_counts(connection, [run_id])
        reasons = runs_unapplied_reasons(connection, [run_id])
    return {**run._asdict(), "counts": counts.get(run_id, {}), "reasons": reasons.get(run_id, [])}


def _print_stale_parked(engine: Engine, hours: float, integration: str, out: Console) -> None:
    from datetime import timedelta

    from pmsync.runs.bookkeeping import stale_parked_by_entity, utc_now

    for row in stale_parked_by_entity(engine, utc_now() - timedelta(hours=hours), integration):
        out.print(
            f"{row['integration']}: {row['records']} {row['entity']} record(s) parked longer than {hours:g} h "
            f"(oldest since {row['oldest']:%Y-%m-%d %H:%M} UTC) — see `pmsync explain {row['entity']} ID`",
            style="yellow",
            highlight=False,
        )
