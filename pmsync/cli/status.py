"""`pmsync runs`, `state`, `unlock`, `quality`, `explain`: what the runs did and why, read from the platform."""

from __future__ import annotations

import typer

from pmsync.cli.common import (
    console, counts_table, error_console, fail, integration_id, open_platform, print_unapplied, short_lived,
)
from pmsync.cli.json_output import JSON_OPTION, print_json

state_app = typer.Typer(invoke_without_command=True, help="Each stream's high-water mark; reset one to re-read it.")


@short_lived
def runs(limit: int = typer.Option(10, help="How many recent runs to show."), as_json: bool = JSON_OPTION) -> None:
    """Recent runs, newest first, with their counts per entity."""
    from pmsync.runs import recent_runs
    from pmsync.platform_settings import PlatformSettings

    engine = open_platform()
    found = recent_runs(engine, limit)
    if as_json:
        if found:
            _print_stale_parked(engine, PlatformSettings().parked_alert_hours, error_console)
        print_json(found)
        return
    if not found:
        console.print("no runs yet")
        return
    _print_stale_parked(engine, PlatformSettings().parked_alert_hours, console)
    for run in found:
        took = ""
        if run["finished_at"]:
            took = f", {(run['finished_at'] - run['started_at']).total_seconds():.1f} s"
        title = (
            f"run {run['id']} · {run['flow']} · {run['integration']} · {run['status']}"
            f" · started {run['started_at']:%Y-%m-%d %H:%M:%S} UTC{took} · {run['source_requests']} requests"
        )
        console.print(counts_table(title, run["counts"]))
        print_unapplied(run["reasons"])
        if run["error"]:
            console.print(f"  {run['error']}", style="red", soft_wrap=True, highlight=False)


def _print_stale_parked(engine, hours: float, out) -> None:
    from datetime import timedelta

    from pmsync.runs import stale_parked_by_entity, utc_now

    for row in stale_parked_by_entity(engine, utc_now() - timedelta(hours=hours)):
        out.print(
            f"{row['integration']}: {row['records']} {row['entity']} record(s) parked longer than {hours:g} h "
            f"(oldest since {row['oldest']:%Y-%m-%d %H:%M} UTC) — see `pmsync explain {row['entity']} ID`",
            style="yellow",
            highlight=False,
        )


@state_app.callback()
@short_lived
def state(
    context: typer.Context,
    integration: str = typer.Option("default", help="Integration name."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show each stream's high-water mark and the run that set it."""
    if context.invoked_subcommand:
        context.obj = integration
        return
    from rich.table import Table

    engine = open_platform()
    rows = stream_marks(engine, integration)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"sync state of {integration!r}", title_justify="left")
    for column in ("stream", "entities", "high-water mark (UTC)", "set by run", "flow"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["stream"], ", ".join(row["entities"]), f"{row['high_water_mark']:%Y-%m-%d %H:%M:%S}",
                      str(row["run_id"]), row["flow"])
    console.print(table if rows else "no stream has completed a pass yet: the next run reads everything")


def stream_marks(engine, integration: str) -> list[dict]:
    """What `pmsync state` shows, table or JSON: each stream, its entities, its mark and the run (and flow) that set it."""
    from pmsync.rules import PROPERTYWARE_RULES
    from pmsync.state import state_rows

    return [
        {"stream": row["stream"], "entities": list(PROPERTYWARE_RULES.stream(row["stream"]).entities),
         "high_water_mark": row["high_water_mark"], "run_id": row["run_id"], "flow": row["flow"]}
        for row in state_rows(engine, integration_id(engine, integration))
    ]


@state_app.command("reset")
def state_reset(context: typer.Context, entity: str = typer.Argument(..., help="Entity or stream, e.g. unit or units.")) -> None:
    """Forget one stream's high-water mark: the next delta re-reads it fully. Nothing else changes."""
    from pmsync.rules import PROPERTYWARE_RULES
    from pmsync.state import reset_stream

    streams = {s.name: s for s in PROPERTYWARE_RULES.streams}
    stream = streams.get(entity) or next((s for s in streams.values() if entity in s.entities), None)
    if stream is None:
        fail(f"unknown entity {entity!r}; use one of: {', '.join(PROPERTYWARE_RULES.entities())}")
    engine = open_platform()
    removed = reset_stream(engine, integration_id(engine, context.obj or "default"), stream.name)
    shared = f" (shared by {', '.join(stream.entities)})" if len(stream.entities) > 1 else ""
    verb = "reset" if removed else "had no mark to reset"
    console.print(f"stream {stream.name}{shared} {verb}: the next delta sync re-reads it fully")


def unlock(integration: str = typer.Argument("default", help="Integration name.")) -> None:
    """Clear an integration's sync lock by hand (after a crash), saying who held it."""
    from pmsync.locks import force_unlock

    held = force_unlock(open_platform(), integration)
    if held is None:
        console.print(f"integration {integration!r} was not locked")
    else:
        console.print(
            f"unlocked {integration!r}: it was held by {held.holder} ({held.flow} sync) since "
            f"{held.acquired_at:%Y-%m-%d %H:%M:%S} UTC",
            highlight=False,
        )


@short_lived
def quality(limit: int = typer.Option(20, help="How many of the newest items to list."), as_json: bool = JSON_OPTION) -> None:
    """Quarantine: records kept out (open) and records loaded with a warning, counted per entity and expectation,
    then the newest items."""
    from rich.table import Table

    from pmsync.quality import open_items

    summary, items = open_items(open_platform(), limit)
    if as_json:
        print_json({"summary": summary, "items": items})
        return
    if not summary:
        console.print("quarantine is empty: every record seen passed its expectations")
        return
    table = Table(title="open quarantine (kept out) and warnings (loaded)", title_justify="left")
    for column in ("integration", "entity", "status", "expectation", "records"):
        table.add_column(column, justify="right" if column == "records" else "left")
    for row in summary:
        table.add_row(row["integration"], row["entity"], row["status"], row["expectation"], str(row["records"]))
    console.print(table)
    for item in items:
        state = "loaded with a warning" if item["status"] == "warning" else "kept out"
        console.print(
            f"{item['entity']} {item['source_id']} {state} (run {item['run_id']}, since {item['first_seen_at']:%Y-%m-%d %H:%M} UTC): "
            + "; ".join(item["expectations"]),
            highlight=False,
            soft_wrap=True,
        )


def explain_record(
    entity: str = typer.Argument(..., help="property, unit, lease, resident or work_order"),
    source_id: int = typer.Argument(..., help="The record's id in the source."),
    compare_source: bool = typer.Option(True, "--compare-source/--no-source", help="Also fetch the record from the source now."),
) -> None:
    """Why is this record (not) on the platform, and why didn't it change?"""
    from pmsync.explain import explain
    from pmsync.integrations import IntegrationNotConfigured, integration_from_environment
    from pmsync.source import SourceError

    try:
        integration = integration_from_environment()
        client = integration.open_client() if compare_source else None
        lines = explain(open_platform(), integration, entity.replace("-", "_"), source_id, client)
    except (SourceError, IntegrationNotConfigured) as failure:
        fail(str(failure))
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)

