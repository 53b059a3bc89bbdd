"""`pmsync workorder …`: create and change work orders on the platform, push them to the source, show their status."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Optional

import typer
from rich.table import Table
from rich.text import Text

from pmsync.cli.bounded import bounded
from pmsync.cli.common import (
    EXIT_CONFIGURATION, EXIT_OTHER, EXIT_REFUSED, EXIT_SOURCE_UNAVAILABLE, INTEGRATION, console, fail, integration_name,
    open_platform, preflight, run_flow, short_lived, shown_integration,
)
from pmsync.cli.json_output import JSON_OPTION, print_json

if TYPE_CHECKING:
    from sqlalchemy import Engine

PUSHED_WORK_ORDER = typer.Argument(..., callback=bounded("WorkOrderId"), help="Platform id of the work order.")
NO_PUSH = typer.Option(False, "--no-push", help="Only save on the platform and announce the change (event "
                       "pmsync.work-order.changed): the work-order-push/changed deployment pushes it.")
STATUS_COLOURS = {"synced": "green", "pending": "yellow", "failed": "red", "busy": "yellow"}
UNSYNCED_EXIT_CODES = {"failed": EXIT_REFUSED, "pending": EXIT_SOURCE_UNAVAILABLE, "busy": EXIT_SOURCE_UNAVAILABLE}
"""`workorder sync-now`'s exit code when the work order does not end synced: the source refused a change (fix the
work order, then sync it again) 4; the source was unavailable or another push is sending it (sync it again later) 3."""


def register(app: typer.Typer) -> None:
    """Add the work-order commands to the `pmsync` app."""
    workorder_app = typer.Typer(no_args_is_help=True, help="Work orders made on the platform and pushed to the source.")
    workorder_app.command("create")(workorder_create)
    workorder_app.command("update")(workorder_update)
    workorder_app.command("sync-now")(workorder_sync_now)
    workorder_app.command("show")(workorder_show)
    workorder_app.command("list")(workorder_list)
    workorder_app.command("push-pending")(workorder_push_pending)
    app.add_typer(workorder_app, name="workorder")


def workorder_create(
    property_id: int = typer.Option(..., "--property", help="Platform id of the property."),
    description: str = typer.Option(..., help="What needs doing."),
    unit_id: Optional[int] = typer.Option(None, "--unit", help="Platform id of the unit."),
    resident_id: Optional[int] = typer.Option(None, "--resident", help="Platform id of the resident who reported it."),
    priority: str = typer.Option("MEDIUM", help="HIGH, MEDIUM or LOW."),
    category: Optional[str] = typer.Option(None),
    type_: Optional[str] = typer.Option(None, "--type"),
    no_push: bool = NO_PUSH,
    integration: Optional[str] = INTEGRATION,
) -> None:
    """Create a work order on the platform and push it to the source."""
    from pmsync.integrations import IntegrationNotConfigured, resolve_integration
    from pmsync.workorders import InvalidWorkOrder, create_work_order

    engine = open_platform()
    try:
        name = resolve_integration(integration).name
        work_order_id = create_work_order(
            engine, name, property_id=property_id, description=description, unit_id=unit_id,
            resident_id=resident_id, priority=priority, category=category, type=type_,
        )
    except (InvalidWorkOrder, IntegrationNotConfigured) as invalid:
        fail(str(invalid))
    console.print(f"work order {work_order_id} saved on the platform", highlight=False)
    _announce(work_order_id, integration) if no_push else _push(work_order_id, integration, retry_failed=False)


def workorder_update(
    work_order_id: int = PUSHED_WORK_ORDER,
    note: Optional[str] = typer.Option(None, help="A note (sent as a task on the work order)."),
    complete: bool = typer.Option(False, "--complete", help="Mark it completed (closes it in the source)."),
    completed_on: Optional[datetime] = typer.Option(None, formats=["%Y-%m-%d"], help="Completion date (default today)."),
    comment: Optional[str] = typer.Option(None, help="Comment sent with the completion."),
    field: list[str] = typer.Option([], "--field", help="Custom field NAME=VALUE (repeatable)."),
    description: Optional[str] = typer.Option(None),
    priority: Optional[str] = typer.Option(None),
    category: Optional[str] = typer.Option(None),
    type_: Optional[str] = typer.Option(None, "--type"),
    no_push: bool = NO_PUSH,
    integration: Optional[str] = INTEGRATION,
) -> None:
    """Change a work order on the platform and push the change to the source."""
    from pmsync.workorders import InvalidWorkOrder, WorkOrderNotFound, update_work_order

    custom = {}
    for pair in field:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            fail(f"--field {pair!r} is not NAME=VALUE")
        custom[name.strip()] = value
    engine = open_platform()
    try:
        queued = update_work_order(
            engine, work_order_id, integration=integration_name(integration), note=note, complete=complete,
            completed_on=completed_on.date() if completed_on else None, completion_comment=comment,
            custom_fields=custom or None, description=description, priority=priority, category=category, type=type_,
        )
    except (InvalidWorkOrder, WorkOrderNotFound) as invalid:
        fail(str(invalid))
    console.print(f"work order {work_order_id}: {queued} change(s) queued for the source", highlight=False)
    _announce(work_order_id, integration) if no_push else _push(work_order_id, integration, retry_failed=False)


def workorder_sync_now(
    work_order_id: int = PUSHED_WORK_ORDER,
    integration: Optional[str] = INTEGRATION,
) -> None:
    """Push one work order now, including changes the source refused before; exits 4 when the source refuses a
    change, 3 when it ends pending or busy (sync it again later)."""
    outcome = _push(work_order_id, integration, retry_failed=True)
    status = outcome["sync_status"]
    if status == "failed":
        fail(f"work order {work_order_id} was refused by the source; fix it (`pmsync workorder update {work_order_id} …`) "
             f"and run `pmsync workorder sync-now {work_order_id}` again", UNSYNCED_EXIT_CODES[status])
    if status != "synced":
        fail(f"work order {work_order_id} is still {status}: run `pmsync workorder sync-now {work_order_id}` again later "
             "(the daily sweep also retries it)", UNSYNCED_EXIT_CODES.get(status, EXIT_OTHER))


def workorder_push_pending(integration: Optional[str] = INTEGRATION) -> None:
    """What the scheduled sweep does: push every work order with pending changes."""
    preflight(integration)
    result = run_flow("work-order-push", integration=integration)
    for outcome in result["work_orders"]:
        _print_outcome(outcome)
    console.print(f"{len(result['work_orders'])} work order(s) pushed", highlight=False)


@short_lived
def workorder_show(
    work_order_id: int = typer.Argument(..., help="Platform id of the work order."),
    integration: Optional[str] = INTEGRATION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Sync status, last attempt and error of a work order, and each change sent (or not) to the source."""
    from pmsync.workorders import WorkOrderNotFound, work_order_status

    engine = open_platform()
    name, _ = shown_integration(engine, integration)
    try:
        status = work_order_status(engine, work_order_id)
    except WorkOrderNotFound as missing:
        fail(str(missing))
    if status.integration != name:
        fail(f"work order {work_order_id} belongs to integration {status.integration!r}, not {name!r}; "
             f"add --integration {status.integration}", EXIT_CONFIGURATION)
    if as_json:
        print_json(status)
        return
    colour = STATUS_COLOURS.get(status.sync_status or "", "white")
    console.print(f"work order {status.id} ({status.integration}): {status.description}", highlight=False)
    console.print(f"  source id:    {status.source_id or '(not in the source yet)'}", highlight=False)
    console.print(f"  status:       {status.status}, priority {status.priority}", highlight=False)
    console.print(Text.assemble("  sync status:  ", (status.sync_status or "not pushed (came from the source)", colour)), highlight=False)
    console.print(f"  last attempt: {_when(status.last_push_attempt_at)}", highlight=False)
    console.print(f"  last error:   {status.sync_error or '-'}", highlight=False, soft_wrap=True)
    if status.changes:
        table = Table(title="changes", title_justify="left")
        for column in ("id", "kind", "status", "attempts", "last attempt", "error"):
            table.add_column(column)
        for change in status.changes:
            table.add_row(str(change.id), change.kind, change.status, str(change.attempts), _when(change.last_attempt_at),
                          change.last_error or "")
        console.print(table)


@short_lived
def workorder_list(
    status: Optional[str] = typer.Option(None, help="Only this sync status: pending, failed or synced."),
    limit: int = typer.Option(20, help="How many, newest first."),
    integration: Optional[str] = INTEGRATION,
    as_json: bool = JSON_OPTION,
) -> None:
    """An integration's work orders made or changed on the platform, with their sync status."""
    engine = open_platform()
    name, found = shown_integration(engine, integration)
    rows = pushed_work_orders(engine, found, status, limit) if found is not None else []
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"work orders of {name!r} pushed from the platform", title_justify="left")
    for column in ("id", "source id", "description", "sync status", "last attempt", "error"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["id"]), str(row["source_id"] or ""), (row["description"] or "")[:40], row["sync_status"],
                      _when(row["last_push_attempt_at"]), (row["sync_error"] or "")[:80])
    console.print(table)


def pushed_work_orders(engine: Engine, integration_id: int, status: Optional[str], limit: int) -> list[dict]:
    """What `pmsync workorder list` shows, table or JSON: an integration's work orders made or changed on the platform,
    newest first."""
    from sqlalchemy import select

    from schemas.tables import work_orders

    shown = ("id", "integration_id", "source_id", "description", "sync_status", "last_push_attempt_at", "sync_error")
    query = (
        select(*(work_orders.c[name] for name in shown))
        .where(work_orders.c.sync_status.is_not(None), work_orders.c.integration_id == integration_id)
        .order_by(work_orders.c.id.desc()).limit(limit)
    )
    if status:
        query = query.where(work_orders.c.sync_status == status)
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def _push(work_order_id: int, integration: Optional[str], retry_failed: bool) -> dict:
    preflight(integration)
    result = run_flow("work-order-push", work_order_id=work_order_id, retry_failed=retry_failed, integration=integration)
    outcome = result["work_orders"][0]
    _print_outcome(outcome)
    return outcome


def _announce(work_order_id: int, integration: Optional[str]) -> None:
    from pmsync.cli.prefect_config import configured_api_url

    if configured_api_url() is not None:
        from tasks.work_order_events import announce_work_order_change

        if announce_work_order_change(work_order_id, integration):
            console.print(f"work order {work_order_id}: change announced; work-order-push/changed pushes it", highlight=False)
            return
    console.print(f"work order {work_order_id}: no Prefect server to announce it to; `pmsync workorder push-pending` "
                  "pushes it now, else the next delta sync or the daily sweep", highlight=False)


def _print_outcome(outcome: dict) -> None:
    colour = STATUS_COLOURS.get(outcome["sync_status"], "white")
    where = f" (source id {outcome['source_id']})" if outcome["source_id"] else ""
    error = f": {outcome['error']}" if outcome["error"] else ""
    console.print(Text.assemble(f"work order {outcome['id']}: ", (outcome["sync_status"], colour), where, error),
                  highlight=False, soft_wrap=True)


def _when(moment: date | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "-"
