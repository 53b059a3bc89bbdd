"""`pmsync changes`: what runs created, updated, deactivated or reactivated, read from the change journal."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Optional

import typer

from pmsync.cli.common import EXIT_CONFIGURATION, INTEGRATION, console, fail, open_platform, short_lived, shown_integration
from pmsync.cli.json_output import JSON_OPTION, print_json

RELATIVE = re.compile(r"(\d+)\s*([hd])")
FORCED_SYNC_SHOWN = 10
"""How many changes a sync run from the command line prints when it ends."""


def parse_since(text: str, now: datetime) -> datetime:
    """`24h`, `7d`, or an ISO 8601 date or moment (UTC when it names no zone); ValueError saying what is accepted."""
    relative = RELATIVE.fullmatch(text.strip().lower())
    if relative:
        amount, unit = int(relative[1]), relative[2]
        return now - (timedelta(hours=amount) if unit == "h" else timedelta(days=amount))
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r} is not a time: give 24h, 7d, 2026-12-01 or 2026-12-01T08:00Z") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


@short_lived
def changes(
    run: Optional[int] = typer.Option(None, "--run", metavar="N", help="Only the changes of run N (`pmsync runs`)."),
    entity: Optional[str] = typer.Option(None, "--entity", metavar="E", help="Only records of this kind, e.g. unit."),
    source_id: Optional[int] = typer.Option(None, "--source-id", metavar="ID", help="Only the record with this source id."),
    since: Optional[str] = typer.Option(None, "--since", metavar="T", help="Only changes at or after T: 24h, 7d or an ISO date/time (UTC)."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many changes (a run's in order, else newest first)."),
    integration: Optional[str] = INTEGRATION,
    as_json: bool = JSON_OPTION,
) -> None:
    """What runs changed on the platform: each record created, updated (each field's old and new value), deactivated
    or reactivated, kept PMSYNC_CHANGES_RETENTION_DAYS days."""
    from pmsync.journal.read import change_line, find_changes
    from schemas.entity_rows import ENTITY_ROWS

    kind = entity.replace("-", "_") if entity is not None else None
    if kind is not None and kind not in ENTITY_ROWS:
        fail(f"unknown entity {entity!r}; use one of: {', '.join(ENTITY_ROWS)}", EXIT_CONFIGURATION)
    try:
        start = parse_since(since, datetime.now(timezone.utc)) if since is not None else None
    except ValueError as wrong:
        fail(str(wrong), EXIT_CONFIGURATION)
    _settings_checked()
    engine = open_platform()
    name, _ = shown_integration(engine, integration)
    found = find_changes(engine, name, run_id=run, entity=kind, source_id=source_id, since=start, limit=limit)
    if as_json:
        print_json([{key: value for key, value in change.items() if key != "id"} for change in found])
        return
    if not found:
        console.print(f"no change of integration {name!r} matches", highlight=False)
        return
    for change in found:
        console.print(f"run {change['run_id']} ({change['flow']}) · {change['changed_at']:%Y-%m-%d %H:%M:%S} UTC · "
                      f"{change_line(change, fields=50)}", highlight=False, soft_wrap=True)
    if len(found) == limit:
        console.print(f"the first {limit} shown; --limit N for more", style="yellow", highlight=False)


def _settings_checked() -> None:
    """Malformed platform settings (a retention under a day) end the command with exit 2, naming the variable."""
    from pydantic import ValidationError

    from pmsync.platform.settings import PlatformSettings

    try:
        PlatformSettings()
    except ValidationError as invalid:
        from pmsync.settings import invalid_settings

        fail(invalid_settings(invalid), EXIT_CONFIGURATION)


def print_run_changes(run_id: int) -> None:
    """What a run just made from the command line changed: its counts and first changes, and where to see them all."""
    from pmsync.cli.common import integration_of_run
    from pmsync.journal.read import run_change_lines
    from pmsync.platform.database import make_engine
    from pmsync.platform.settings import PlatformSettings

    engine = make_engine(PlatformSettings().database_url)
    integration, _ = integration_of_run(engine, run_id)
    for line in run_change_lines(engine, run_id, integration, FORCED_SYNC_SHOWN):
        console.print(line, highlight=False, soft_wrap=True)


def run_of_flow_run(flow_run_id: str) -> int | None:
    """The pmsync run a Prefect flow run made, in the platform database this command is configured with."""
    from sqlalchemy import select

    from pmsync.platform.database import make_engine
    from pmsync.platform.settings import PlatformSettings
    from schemas.tables import sync_runs

    with make_engine(PlatformSettings().database_url).connect() as connection:
        return connection.execute(select(sync_runs.c.id).where(sync_runs.c.prefect_flow_run_id == flow_run_id)
                                  .order_by(sync_runs.c.id.desc()).limit(1)).scalar()
