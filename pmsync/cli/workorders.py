"""`pmsync workorder …`: create and change work orders on the platform, push them to the source, show their status."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Optional

import typer
from rich.table import Table
from rich.text import Text

from pmsync.cli.bounded import stored_id
from pmsync.cli.common import (
    EXIT_CONFIGURATION, EXIT_OTHER, EXIT_REFUSED, EXIT_SOURCE_UNAVAILABLE, INTEGRATION, console, fail,
    integration_name, open_platform, preflight, run_flow, short_lived, shown_integration,
)
from pmsync.cli.json_output import JSON_OPTION, print_json
from pmsync.cli.known_integrations import check_integration_known

if TYPE_CHECKING:
    from sqlalchemy import Engine

STATUS_COLOURS = {"synced": "green", "pending": "yellow", "failed": "red", "busy": "yellow"}
UNSYNCED_EXIT_CODES = {"failed": EXIT_REFUSED, "pending": EXIT_SOURCE_UNAVAILABLE, "busy": EXIT_SOURCE_UNAVAILABLE}
"""A pushing command's exit code (`create`, `update`, `sync-now`) when the work order does not end synced: the source
refused a change (fix the work order, then sync it again) 4; the source was unavailable or another push is sending it
(sync it again later) 3."""
SYNC_STATUSES = ("pending", "failed", "synced")
NO_PUSH = typer.Option(False, "--no-push", help="Only save on the platform and announce the change (event "
                       "pmsync.work-order.changed): the work-order-push/changed deployment pushes it.")


def _reference(value: str) -> str:
    from pmsync.push.workorders import is_reference

    if not is_reference(value):
        raise typer.BadParameter(
            f"{value!r} names no work order: give its Propertyware id (digits, as `pmsync workorder list` prints it) "
            "or WO-<n>, its platform number"
        )
    return value.strip()


def _sync_status(value: Optional[str]) -> Optional[str]:
    if value is not None and value not in SYNC_STATUSES:
        raise typer.BadParameter(f"{value!r} is no sync status: use one of {', '.join(SYNC_STATUSES)}")
    return value


WORK_ORDER = typer.Argument(
    ..., metavar="ID", callback=_reference,
    help="The work order's Propertyware id (as `pmsync workorder list` prints it), or WO-<n>, its platform number, "
         "for one not in the source yet.",
)
SOURCE_ID = "Propertyware id of the {}: the id the source uses, as `pmsync explain {} ID` takes it."


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
    property_id: int = typer.Option(..., "--property", callback=stored_id("property id"), help=SOURCE_ID.format("property", "property")),
    description: str = typer.Option(..., help="What needs doing."),
    unit_id: Optional[int] = typer.Option(None, "--unit", callback=stored_id("unit id"), help=SOURCE_ID.format("unit", "unit")),
    resident_id: Optional[int] = typer.Option(
        None, "--resident", callback=stored_id("resident id"), help=SOURCE_ID.format("resident who reported it", "resident"),
    ),
    priority: str = typer.Option("MEDIUM", help="HIGH, MEDIUM or LOW."),
    category: Optional[str] = typer.Option(None),
    type_: Optional[str] = typer.Option(None, "--type"),
    no_push: bool = NO_PUSH,
    integration: Optional[str] = INTEGRATION,
) -> None:
    """Create a work order on the platform and push it to the source; exits 4 when the source refuses it, 3 when it
    stays pending (the sweep pushes it later). Its platform number WO-<n> names it until the source gives it an id."""
    from pmsync.push.workorders import InvalidWorkOrder, create_work_order, platform_number, platform_places

    if not no_push:
        preflight(integration)
    else:
        check_integration_known(integration, needs_block=False)
    engine = open_platform()
    name = integration_name(integration)
    try:
        places = platform_places(engine, name, property_source_id=property_id, unit_source_id=unit_id,
                                 resident_source_id=resident_id)
        work_order_id = create_work_order(
            engine, name, property_id=places["property_id"], description=description, unit_id=places["unit_id"],
            resident_id=places["resident_id"], priority=priority, category=category, type=type_,
        )
    except InvalidWorkOrder as invalid:
        fail(str(invalid), EXIT_CONFIGURATION)
    console.print(f"work order {platform_number(work_order_id)} saved on the platform", highlight=False)
    if no_push:
        _announce(work_order_id, platform_number(work_order_id), integration)
    else:
        _end_synced(_push(work_order_id, integration, retry_failed=False))


def workorder_update(
    reference: str = WORK_ORDER,
    note: Optional[str] = typer.Option(None, help="A note (sent as a task on the work order)."),
    complete: bool = typer.Option(False, "--complete", help="Mark it completed (closes it in the source)."),
    completed_on: Optional[datetime] = typer.Option(None, formats=["%Y-%m-%d"], help="Completion date (default today)."),
    comment: Optional[str] = typer.Option(None, help="Comment sent with the completion."),
    field: list[str] = typer.Option([], "--field", help="Custom field NAME=VALUE (repeatable)."),
    title: Optional[str] = typer.Option(None, help="Its title (where the source has one: Buildium's task title)."),
    description: Optional[str] = typer.Option(None),
    priority: Optional[str] = typer.Option(None),
    status: Optional[str] = typer.Option(None, help="Its status (Buildium: New, InProgress, Completed, Deferred, Closed)."),
    category: Optional[str] = typer.Option(None),
    type_: Optional[str] = typer.Option(None, "--type"),
    no_push: bool = NO_PUSH,
    integration: Optional[str] = INTEGRATION,
) -> None:
    """Change a work order on the platform and push the change to the source; exits 4 when the source refuses it, 3
    when it stays pending or busy."""
    from pmsync.push.workorders import InvalidWorkOrder, update_work_order

    custom = {}
    for pair in field:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            fail(f"--field {pair!r} is not NAME=VALUE", EXIT_CONFIGURATION)
        custom[name.strip()] = value
    if not no_push:
        preflight(integration)
    else:
        check_integration_known(integration, needs_block=False)
    engine = open_platform()
    work_order_id = _found(engine, integration, reference)
    try:
        queued = update_work_order(
            engine, work_order_id, integration=integration_name(integration), note=note, complete=complete,
            completed_on=completed_on.date() if completed_on else None, completion_comment=comment,
            custom_fields=custom or None, title=title, description=description, priority=priority, status=status,
            category=category, type=type_,
        )
    except InvalidWorkOrder as invalid:
        fail(str(invalid), EXIT_CONFIGURATION)
    console.print(f"work order {reference}: {queued} change(s) queued for the source", highlight=False)
    if no_push:
        _announce(work_order_id, reference, integration)
    else:
        _end_synced(_push(work_order_id, integration, retry_failed=False))


def workorder_sync_now(
    reference: str = WORK_ORDER,
    integration: Optional[str] = INTEGRATION,
) -> None:
    """Push one work order now, including changes the source refused before; exits 4 when the source refuses a
    change, 3 when it ends pending or busy (sync it again later)."""
    preflight(integration)
    _end_synced(_push(_found(open_platform(), integration, reference), integration, retry_failed=True))


def _found(engine: Engine, integration: Optional[str], reference: str) -> int:
    """The platform id of the work order `reference` names in the integration; ends the command when there is none."""
    from pmsync.push.workorders import WorkOrderElsewhere, WorkOrderNotFound, find_work_order

    try:
        return find_work_order(engine, integration_name(integration), reference)
    except WorkOrderElsewhere as elsewhere:
        fail(str(elsewhere), EXIT_CONFIGURATION)
    except WorkOrderNotFound as missing:
        fail(str(missing), EXIT_OTHER)


def _end_synced(outcome: dict) -> None:
    """End a pushing command with its `error:` line and exit code unless the work order ended synced."""
    from pmsync.push.workorders import work_order_reference

    status, named = outcome["sync_status"], work_order_reference(outcome["id"], outcome["source_id"])
    if status == "failed":
        fail(f"work order {named} was refused by the source; fix it (`pmsync workorder update {named} …`) "
             f"and run `pmsync workorder sync-now {named}` again", UNSYNCED_EXIT_CODES[status])
    if status != "synced":
        fail(f"work order {named} is still {status}: run `pmsync workorder sync-now {named}` again later "
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
    reference: str = WORK_ORDER,
    integration: Optional[str] = INTEGRATION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Sync status, last attempt and error of a work order, and each change sent (or not) to the source."""
    from pmsync.push.workorders import platform_number, work_order_reference, work_order_status

    engine = open_platform()
    shown_integration(engine, integration)
    status = work_order_status(engine, _found(engine, integration, reference))
    if as_json:
        print_json(status)
        return
    colour = STATUS_COLOURS.get(status.sync_status or "", "white")
    named = work_order_reference(status.id, status.source_id)
    console.print(f"work order {named} ({status.integration}): {status.description}", highlight=False)
    console.print(f"  Propertyware id: {status.source_id or '(not in the source yet)'}", highlight=False)
    console.print(f"  platform no.:    {platform_number(status.id)}", highlight=False)
    console.print(f"  status:          {status.status}, priority {status.priority}", highlight=False)
    console.print(Text.assemble("  sync status:     ", (status.sync_status or "not pushed (came from the source)", colour)), highlight=False)
    console.print(f"  last attempt:    {_when(status.last_push_attempt_at)}", highlight=False)
    console.print(f"  last error:      {status.sync_error or '-'}", highlight=False, soft_wrap=True)
    if status.changes:
        table = Table(title="changes", title_justify="left")
        for column in ("change", "kind", "status", "attempts", "last attempt", "error"):
            table.add_column(column)
        for number, change in enumerate(status.changes, 1):
            table.add_row(str(number), change.kind, change.status, str(change.attempts), _when(change.last_attempt_at),
                          change.last_error or "")
        console.print(table)


@short_lived
def workorder_list(
    status: Optional[str] = typer.Option(None, callback=_sync_status, help="Only this sync status: pending, failed or synced."),
    limit: int = typer.Option(20, help="How many, newest first."),
    integration: Optional[str] = INTEGRATION,
    as_json: bool = JSON_OPTION,
) -> None:
    """An integration's work orders made or changed on the platform, with their sync status: each named by its
    Propertyware id, and by its platform number WO-<n> until the source has it."""
    from pmsync.push.workorders import platform_number

    engine = open_platform()
    name, found = shown_integration(engine, integration)
    rows = pushed_work_orders(engine, found, status, limit) if found is not None else []
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"work orders of {name!r} pushed from the platform", title_justify="left")
    for column in ("Propertyware id", "platform no.", "description", "sync status", "last attempt", "error"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["source_id"] or "-"), platform_number(row["id"]), (row["description"] or "")[:40],
                      row["sync_status"], _when(row["last_push_attempt_at"]), (row["sync_error"] or "")[:80])
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
    """Push one work order (its platform id) as a `work-order-push` run, after `preflight`; its outcome, printed."""
    result = run_flow("work-order-push", work_order_id=work_order_id, retry_failed=retry_failed, integration=integration)
    outcome = result["work_orders"][0]
    _print_outcome(outcome)
    return outcome


def _announce(work_order_id: int, named: str, integration: Optional[str]) -> None:
    from pmsync.cli.prefect_config import configured_api_url

    if configured_api_url() is not None:
        from tasks.work_order_events import announce_work_order_change

        if announce_work_order_change(work_order_id, integration):
            console.print(f"work order {named}: change announced; work-order-push/changed pushes it", highlight=False)
            return
    console.print(f"work order {named}: no Prefect server to announce it to; `pmsync workorder push-pending` "
                  "pushes it now, else the next delta sync or the daily sweep", highlight=False)


def _print_outcome(outcome: dict) -> None:
    from pmsync.push.workorders import platform_number

    colour = STATUS_COLOURS.get(outcome["sync_status"], "white")
    named = f"{outcome['source_id']} ({platform_number(outcome['id'])})" if outcome["source_id"] else platform_number(outcome["id"])
    error = f": {outcome['error']}" if outcome["error"] else ""
    console.print(Text.assemble(f"work order {named}: ", (outcome["sync_status"], colour), error),
                  highlight=False, soft_wrap=True)


def _when(moment: date | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "-"
