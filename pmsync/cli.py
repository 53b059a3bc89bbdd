"""The `pmsync` command line: runs the same flows as the deployments, and shows what they did."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pmsync.rules import PROPERTYWARE_RULES
from pmsync.runs import COUNTS

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
sync_app = typer.Typer(no_args_is_help=True, help="Run a sync flow now, in this process.")
sandbox_app = typer.Typer(no_args_is_help=True, help="The bundled Propertyware-dialect source.")
state_app = typer.Typer(invoke_without_command=True, help="Each stream's high-water mark; reset one to re-read it.")
app.add_typer(sync_app, name="sync")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(state_app, name="state")
console = Console(markup=False)
"""Markup off: names, messages and errors come from the source and users, and print as they are (`[/b]` too)."""
FORCED_SYNC = "delta-sync/now"


def _fail(reason: str) -> None:
    console.print(Text.assemble(("error:", "red"), f" {reason}"), soft_wrap=True, highlight=False)
    raise typer.Exit(1)


def preflight(integration: str | None, *, needs_source: bool = True) -> None:
    """Fail in a second on missing or malformed settings, before Prefect is imported or a server started."""
    from pmsync.preflight import ConfigurationError, check_configuration

    try:
        check_configuration(integration, needs_source=needs_source)
    except ConfigurationError as problem:
        _fail(str(problem))


def _run_flow(flow: Callable[[], dict]) -> dict:
    from pmsync.integrations import IntegrationNotConfigured
    from pmsync.preflight import prefect_ready
    from pmsync.source import SourceError

    try:
        with prefect_ready():
            return flow()
    except (SourceError, IntegrationNotConfigured) as failure:
        _fail(str(failure).splitlines()[0])
    except Exception as failure:  # a failed run must still end in one readable line and a non-zero exit
        _fail(f"{type(failure).__name__}: {str(failure).splitlines()[0] if str(failure) else ''}")
    raise AssertionError("unreachable")


def counts_table(title: str, counts: dict[str, dict[str, int]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("entity")
    for name in COUNTS:
        table.add_column(name, justify="right")
    order = {entity: index for index, entity in enumerate(PROPERTYWARE_RULES.entities())}
    for entity in sorted(counts, key=lambda e: order.get(e, len(order))):
        table.add_row(entity, *(str(counts[entity].get(name, 0)) for name in COUNTS))
    return table


def print_reasons(engine, run_id: int) -> None:
    from pmsync.runs import unapplied_reasons

    reasons = unapplied_reasons(engine, run_id)
    if reasons:
        console.print("not applied: " + "; ".join(
            f"{r['entity']} {r['status']} {r['reason']} {r['records']}" for r in reasons
        ), highlight=False)


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


INTEGRATION = typer.Option(None, "--integration", help="Integration block name (default: the PMSYNC_* environment).")


@sync_app.command("initial")
def sync_initial(integration: str | None = INTEGRATION) -> None:
    """Full pull of properties, units, leases, residents and work orders into the platform."""
    preflight(integration)
    from flows.initial_sync import initial_sync

    _print_result("initial sync", _run_flow(lambda: initial_sync(integration=integration)))


@sync_app.command("delta")
def sync_delta(
    integration: str | None = INTEGRATION,
    overlap_hours: float = typer.Option(72.0, help="How far before the last complete pass to re-read."),
) -> None:
    """Everything created or updated since the last complete pass (minus the overlap)."""
    preflight(integration)
    from flows.delta_sync import delta_sync

    _print_result("delta sync", _run_flow(lambda: delta_sync(integration=integration, overlap_hours=overlap_hours)))


@sync_app.command("now")
def sync_now(
    integration: str | None = INTEGRATION,
    local: bool = typer.Option(False, "--local", help="Run the delta sync in this process instead of on a worker."),
) -> None:
    """A forced delta sync now: triggers the `delta-sync/now` deployment (queued behind a running sync)."""
    if local:
        sync_delta(integration=integration, overlap_hours=72.0)
        return
    import httpx
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
    from prefect.settings import PREFECT_UI_URL

    try:
        run = run_deployment(FORCED_SYNC, parameters={"integration": integration} if integration else {}, timeout=0)
    except (ObjectNotFound, PrefectHTTPStatusError, httpx.HTTPError) as failure:
        _fail(f"could not trigger {FORCED_SYNC} ({type(failure).__name__}: {failure}); deploy first or use --local")
    watch = f"{PREFECT_UI_URL.value()}/runs/flow-run/{run.id}" if PREFECT_UI_URL.value() else f"prefect flow-run inspect {run.id}"
    console.print(f"forced sync queued as flow run {run.name} ({run.id}); watch it at {watch}", highlight=False)


@sync_app.command("leases")
def sync_leases(integration: str | None = INTEGRATION) -> None:
    """All leases; existing leases are overwritten with the source's values."""
    preflight(integration)
    from flows.lease_sync import lease_sync

    _print_result("lease sync", _run_flow(lambda: lease_sync(integration=integration)))


def _print_result(title: str, result: dict) -> None:
    from pmsync.platform import make_engine
    from pmsync.settings import PlatformSettings

    database_url = PlatformSettings().database_url
    console.print(counts_table(f"{title} — run {result['run_id']}", result["counts"]))
    print_reasons(make_engine(database_url), result["run_id"])
    totals = platform_totals(database_url)
    console.print("platform rows: " + ", ".join(f"{name} {count}" for name, count in totals.items()), highlight=False)
    if result.get("stale_parked"):
        console.print(f"{result['stale_parked']} parked records are still waiting for their parent", style="yellow")


@app.command("runs")
def runs(limit: int = typer.Option(10, help="How many recent runs to show.")) -> None:
    """Recent runs, newest first, with their counts per entity."""
    from pmsync.runs import recent_runs
    from pmsync.settings import PlatformSettings

    engine = _open_platform()
    found = recent_runs(engine, limit)
    if not found:
        console.print("no runs yet")
        return
    _print_stale_parked(engine, PlatformSettings().parked_alert_hours)
    for run in found:
        took = ""
        if run["finished_at"]:
            took = f", {(run['finished_at'] - run['started_at']).total_seconds():.1f} s"
        title = (
            f"run {run['id']} · {run['flow']} · {run['integration']} · {run['status']}"
            f" · started {run['started_at']:%Y-%m-%d %H:%M:%S} UTC{took} · {run['source_requests']} requests"
        )
        console.print(counts_table(title, run["counts"]))
        print_reasons(engine, run["id"])
        if run["error"]:
            console.print(f"  {run['error']}", style="red", soft_wrap=True, highlight=False)


def _open_platform():
    from pmsync.platform import make_engine, migrate
    from pmsync.settings import PlatformSettings

    engine = make_engine(PlatformSettings().database_url)
    migrate(engine)
    return engine


def _integration_id(engine, name: str) -> int:
    from sqlalchemy import select

    from schemas.tables import integrations

    with engine.connect() as connection:
        found = connection.execute(select(integrations.c.id).where(integrations.c.name == name)).scalar_one_or_none()
    if found is None:
        _fail(f"no sync has run for integration {name!r} yet")
    return found


@state_app.callback()
def state(context: typer.Context, integration: str = typer.Option("default", help="Integration name.")) -> None:
    """Show each stream's high-water mark and the run that set it."""
    if context.invoked_subcommand:
        context.obj = integration
        return
    from pmsync.state import state_rows

    engine = _open_platform()
    rows = state_rows(engine, _integration_id(engine, integration))
    table = Table(title=f"sync state of {integration!r}", title_justify="left")
    for column in ("stream", "entities", "high-water mark (UTC)", "set by run", "flow"):
        table.add_column(column)
    for row in rows:
        entities = ", ".join(PROPERTYWARE_RULES.stream(row["stream"]).entities)
        table.add_row(row["stream"], entities, f"{row['high_water_mark']:%Y-%m-%d %H:%M:%S}", str(row["run_id"]), row["flow"])
    console.print(table if rows else "no stream has completed a pass yet: the next run reads everything")


@state_app.command("reset")
def state_reset(context: typer.Context, entity: str = typer.Argument(..., help="Entity or stream, e.g. unit or units.")) -> None:
    """Forget one stream's high-water mark: the next delta re-reads it fully. Nothing else changes."""
    from pmsync.state import reset_stream

    streams = {s.name: s for s in PROPERTYWARE_RULES.streams}
    stream = streams.get(entity) or next((s for s in streams.values() if entity in s.entities), None)
    if stream is None:
        _fail(f"unknown entity {entity!r}; use one of: {', '.join(PROPERTYWARE_RULES.entities())}")
    engine = _open_platform()
    removed = reset_stream(engine, _integration_id(engine, context.obj or "default"), stream.name)
    shared = f" (shared by {', '.join(stream.entities)})" if len(stream.entities) > 1 else ""
    verb = "reset" if removed else "had no mark to reset"
    console.print(f"stream {stream.name}{shared} {verb}: the next delta sync re-reads it fully")


@app.command("unlock")
def unlock(integration: str = typer.Argument("default", help="Integration name.")) -> None:
    """Clear an integration's sync lock by hand (after a crash), saying who held it."""
    from pmsync.locks import force_unlock

    held = force_unlock(_open_platform(), integration)
    if held is None:
        console.print(f"integration {integration!r} was not locked")
    else:
        console.print(
            f"unlocked {integration!r}: it was held by {held.holder} ({held.flow} sync) since "
            f"{held.acquired_at:%Y-%m-%d %H:%M:%S} UTC",
            highlight=False,
        )


@app.command("quality")
def quality(limit: int = typer.Option(20, help="How many of the newest items to list.")) -> None:
    """Quarantine: records kept out (open) and records loaded with a warning, counted per entity and expectation,
    then the newest items."""
    from pmsync.quality import open_items

    summary, items = open_items(_open_platform(), limit)
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


@app.command("explain")
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
        lines = explain(_open_platform(), integration, entity.replace("-", "_"), source_id, client)
    except (SourceError, IntegrationNotConfigured) as failure:
        _fail(str(failure))
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)


def _print_stale_parked(engine, hours: float) -> None:
    from datetime import timedelta

    from pmsync.runs import stale_parked_by_entity, utc_now

    for row in stale_parked_by_entity(engine, utc_now() - timedelta(hours=hours)):
        console.print(
            f"{row['integration']}: {row['records']} {row['entity']} record(s) parked longer than {hours:g} h "
            f"(oldest since {row['oldest']:%Y-%m-%d %H:%M} UTC) — see `pmsync explain {row['entity']} ID`",
            style="yellow",
            highlight=False,
        )


@sandbox_app.command("serve")
def sandbox_serve(
    port: int = typer.Option(8765, help="Port on 127.0.0.1."),
    size: int = typer.Option(1000, help="Number of units in the generated portfolio."),
    seed: int = typer.Option(7, help="Seed of the deterministic data."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    ledger: bool = typer.Option(True, "--ledger/--no-ledger", help="Generate lease charges and payments."),
) -> None:
    """Serve a deterministic Propertyware-dialect portfolio over HTTP until interrupted."""
    from sandbox.runner import serve

    serve(host=host, port=port, units=size, seed=seed, ledger=ledger)


from pmsync.cli_reconcile import register as _register_reconcile  # noqa: E402
from pmsync.cli_workorders import register as _register_workorders  # noqa: E402
from pmsync.cli_commerce import register as _register_commerce  # noqa: E402
from pmsync.cli_bench import register as _register_bench  # noqa: E402

_register_reconcile(app)
_register_workorders(app)
_register_commerce(app)
_register_bench(app)
