"""`pmsync state`, `unlock`, `quality`, `explain`: what the runs left and why, read from the platform."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer

from pmsync.cli.common import (
    EXIT_CONFIGURATION, INTEGRATION, complete_integration, console, error_console, fail, integration_name,
    open_platform, short_lived, shown_integration,
)
from pmsync.cli.json_output import JSON_OPTION, print_json

if TYPE_CHECKING:
    from pmsync.integrations.integration import Integration

state_app = typer.Typer(invoke_without_command=True, help="Each stream's high-water mark; reset one to re-read it.")


@state_app.callback()
@short_lived
def state(
    context: typer.Context,
    integration: Optional[str] = INTEGRATION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show each stream's high-water mark and the run that set it."""
    if context.invoked_subcommand:
        context.obj = integration
        return
    from rich.table import Table

    engine = open_platform()
    name, found = shown_integration(engine, integration)
    rows = stream_marks(engine, found)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"sync state of {name!r}", title_justify="left")
    for column in ("stream", "entities", "high-water mark (UTC)", "set by run", "flow"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["stream"], ", ".join(row["entities"]), f"{row['high_water_mark']:%Y-%m-%d %H:%M:%S}",
                      str(row["run_id"]), row["flow"])
    console.print(table if rows else "no stream has completed a pass yet: the next run reads everything")


def stream_marks(engine, integration_id: int | None) -> list[dict]:
    """What `pmsync state` shows, table or JSON: each stream, its entities, its mark and the run (and flow) that set it;
    none for an integration not registered yet (None)."""
    from pmsync.source.registry import known_streams
    from pmsync.sync.state import state_rows

    if integration_id is None:
        return []
    streams = known_streams()
    return [
        {"stream": row["stream"], "entities": list(streams.get(row["stream"], ())),
         "high_water_mark": row["high_water_mark"], "run_id": row["run_id"], "flow": row["flow"]}
        for row in state_rows(engine, integration_id)
    ]


def _stream_of(entity: str) -> str:
    """The name of the stream `entity` names (itself, or the stream holding that entity); a usage error else."""
    from pmsync.source.registry import known_entities, known_streams

    streams = known_streams()
    name = entity if entity in streams else next((s for s, entities in streams.items() if entity in entities), None)
    if name is None:
        raise typer.BadParameter(f"unknown entity {entity!r}; use one of: {', '.join(known_entities())}")
    return name


@state_app.command("reset")
def state_reset(
    context: typer.Context,
    entity: str = typer.Argument(..., callback=_stream_of, help="Entity or stream, e.g. unit or units."),
    integration: Optional[str] = INTEGRATION,
) -> None:
    """Forget one stream's high-water mark: the next delta re-reads it fully. Nothing else changes.

    `--integration` goes here or before `reset` (`pmsync state --integration NAME reset unit`)."""
    from pmsync.source.registry import known_streams
    from pmsync.sync.state import reset_stream

    stream_name, entities = entity, known_streams()[entity]
    if integration and context.obj and integration != context.obj:
        fail(f"two integrations named: {context.obj!r} before `reset` and {integration!r} after it; name one",
             EXIT_CONFIGURATION)
    engine = open_platform()
    _, found = shown_integration(engine, integration or context.obj)
    removed = reset_stream(engine, found, stream_name) if found is not None else 0
    shared = f" (shared by {', '.join(entities)})" if len(entities) > 1 else ""
    verb = "reset" if removed else "had no mark to reset"
    console.print(f"stream {stream_name}{shared} {verb}: the next delta sync re-reads it fully")


def unlock(
    deprecated_name: Optional[str] = typer.Argument(
        None, metavar="NAME", help="Deprecated: use --integration NAME.", show_default=False,
        autocompletion=complete_integration,
    ),
    integration: Optional[str] = INTEGRATION,
) -> None:
    """Clear an integration's sync lock by hand (after a crash), saying who held it."""
    from pmsync.runs.locks import force_unlock

    if deprecated_name is not None:
        if integration is not None and integration != deprecated_name:
            fail(f"two integrations named: {deprecated_name!r} and --integration {integration!r}; name one",
                 EXIT_CONFIGURATION)
        error_console.print(
            f"warning: `pmsync unlock {deprecated_name}` is deprecated; use `pmsync unlock --integration {deprecated_name}`",
            style="yellow", highlight=False, soft_wrap=True,
        )
    integration = integration_name(integration or deprecated_name)
    engine = open_platform()
    held = force_unlock(engine, integration)
    if held is None:
        shown_integration(engine, integration)  # a name the platform does not know is a mistyped one, not "unlocked"
        console.print(f"integration {integration!r} was not locked", highlight=False)
    else:
        console.print(
            f"unlocked {integration!r}: it was held by {held.holder} ({held.flow} sync) since "
            f"{held.acquired_at:%Y-%m-%d %H:%M:%S} UTC",
            highlight=False,
        )


@short_lived
def quality(
    limit: int = typer.Option(20, help="How many of the newest items to list."),
    integration: Optional[str] = INTEGRATION,
    as_json: bool = JSON_OPTION,
) -> None:
    """An integration's quarantine: records kept out (open) and records loaded with a warning, counted per entity and
    expectation, then the newest items."""
    from rich.table import Table

    from pmsync.sync.quality import open_items

    engine = open_platform()
    name, _ = shown_integration(engine, integration)
    summary, items = open_items(engine, limit, name)
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


def _entity(value: str) -> str:
    from pmsync.source.registry import known_entities

    entity = value.replace("-", "_")
    if entity not in known_entities():
        raise typer.BadParameter(f"unknown entity {value!r}; use one of: {', '.join(known_entities())}")
    return entity


def explain_record(
    entity: str = typer.Argument(..., callback=_entity, help="property, unit, lease, resident, work_order, or another entity of a rule table (association, …)"),
    source_id: str = typer.Argument(
        ..., help="The record's id in the source (its Propertyware id), as it sent it; a work order's too, not WO-<n>."
    ),
    compare_source: bool = typer.Option(True, "--compare-source/--no-source", help="Also fetch the record from the source now."),
    integration: Optional[str] = INTEGRATION,
) -> None:
    """Why is this record (not) on the platform, and why didn't it change?"""
    from pmsync.sync.explain import explain
    from pmsync.integrations.integration import IntegrationNotConfigured
    from pmsync.source import SourceError

    engine = open_platform()
    shown_integration(engine, integration)
    if compare_source and integration:
        from pmsync.cli.known_integrations import check_integration_known

        check_integration_known(integration)
    try:
        chosen = _integration_of(integration)
        client = chosen.open_source() if compare_source else None
        lines = explain(engine, chosen, entity, source_id, client)
    except (SourceError, IntegrationNotConfigured) as failure:
        fail(str(failure))
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)


def _integration_of(block_name: str | None) -> Integration:
    """The integration `explain` compares with: the block named (read through Prefect, as a job command does), else the
    PMSYNC_* environment's."""
    from pmsync.integrations.integration import integration_from_block, integration_from_environment

    if not block_name:
        return integration_from_environment()
    from pmsync.cli.running import prefect_ready

    with prefect_ready():
        return integration_from_block(block_name)
