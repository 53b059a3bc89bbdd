"""Reading the change journal: a run's changes, a record's history, a filtered listing, export rows and short lines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection

from schemas.tables import integrations, record_changes, sync_runs

SHOWN_VALUE_CHARACTERS = 60
EXPORT_COLUMNS = ("Run", "Changed at (UTC)", "Record type", "Source id", "Action", "Field", "Before", "After")
"""The header of a run's changes as CSV or Excel: one row per changed field (a creation, deactivation or
reactivation is one row with no field)."""


def _listing(integration: str | None):
    table = record_changes
    query = select(
        table.c.id, table.c.run_id, integrations.c.name.label("integration"), sync_runs.c.flow, table.c.entity,
        table.c.source_id, table.c.action, table.c.changes, table.c.changed_at,
    ).join(integrations, integrations.c.id == table.c.integration_id).join(sync_runs, sync_runs.c.id == table.c.run_id)
    return query.where(integrations.c.name == integration) if integration is not None else query


def find_changes(
    engine: Engine, integration: str | None, *, run_id: int | None = None, entity: str | None = None,
    source_id: int | None = None, since: datetime | None = None, limit: int = 100, offset: int = 0,
) -> list[dict[str, Any]]:
    """Journal rows of the integration (or all) matching every filter given: one run's in the order they were
    written, else newest first."""
    table = record_changes
    query = _listing(integration)
    if run_id is not None:
        query = query.where(table.c.run_id == run_id)
    if entity is not None:
        query = query.where(table.c.entity == entity)
    if source_id is not None:
        query = query.where(table.c.source_id == source_id)
    if since is not None:
        query = query.where(table.c.changed_at >= since)
    query = query.order_by(table.c.id if run_id is not None else table.c.id.desc()).limit(limit).offset(offset)
    with engine.connect() as connection:
        return [row._asdict() for row in connection.execute(query)]


def changes_of_run(engine: Engine, integration: str, run_id: int, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """One page of a run's changes, in the order the run made them (what a per-run Changes view pages through)."""
    return find_changes(engine, integration, run_id=run_id, limit=limit, offset=offset)


def first_changes(connection: Connection, run_id: int, limit: int) -> list[dict[str, Any]]:
    """The first `limit` changes a run made (entity, source id, action, changes)."""
    table = record_changes
    rows = connection.execute(
        select(table.c.entity, table.c.source_id, table.c.action, table.c.changes)
        .where(table.c.run_id == run_id).order_by(table.c.id).limit(limit)
    )
    return [row._asdict() for row in rows]


def change_counts(connection: Connection, run_id: int) -> dict[str, dict[str, int]]:
    """{entity: {action: records}} of a run's journal."""
    table = record_changes
    rows = connection.execute(
        select(table.c.entity, table.c.action, func.count().label("records"))
        .where(table.c.run_id == run_id).group_by(table.c.entity, table.c.action).order_by(table.c.entity, table.c.action)
    )
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row.entity, {})[row.action] = row.records
    return counts


def record_history(connection: Connection, integration_id: int, entity: str, source_id: int, limit: int = 5) -> list[dict]:
    """A record's newest journal rows, with the flow of the run that made each."""
    table = record_changes
    rows = connection.execute(
        select(table.c.run_id, sync_runs.c.flow, table.c.action, table.c.changes, table.c.changed_at)
        .join(sync_runs, sync_runs.c.id == table.c.run_id)
        .where(table.c.integration_id == integration_id, table.c.entity == entity, table.c.source_id == source_id)
        .order_by(table.c.id.desc()).limit(limit)
    )
    return [row._asdict() for row in rows]


def export_rows(engine: Engine, integration: str, run_id: int, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """A run's changes as rows for CSV or Excel (EXPORT_COLUMNS), one per changed field, read `batch` at a time."""
    offset = 0
    while page := changes_of_run(engine, integration, run_id, batch, offset):
        for change in page:
            common = {"Run": change["run_id"], "Changed at (UTC)": change["changed_at"],
                      "Record type": change["entity"], "Source id": change["source_id"], "Action": change["action"]}
            fields = (change["changes"] or {}).items() or [(None, (None, None))]
            for name, (before, after) in fields:
                yield {**common, "Field": name, "Before": before, "After": after}
        offset += len(page)


def _shown(value: Any) -> str:
    text = "empty" if value is None else repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= SHOWN_VALUE_CHARACTERS else text[: SHOWN_VALUE_CHARACTERS - 1] + "…"


def change_line(change: dict[str, Any], fields: int = 4) -> str:
    """`unit 1001 updated: name 'A' → 'B'; rent 100 → 120` (the first `fields` fields, then how many more)."""
    line = f"{change['entity']} {change['source_id']} {change['action']}"
    changes = list((change.get("changes") or {}).items())
    if not changes:
        return line
    shown = "; ".join(f"{name} {_shown(before)} → {_shown(after)}" for name, (before, after) in changes[:fields])
    more = f"; {len(changes) - fields} more field(s)" if len(changes) > fields else ""
    return f"{line}: {shown}{more}"


def counts_line(counts: dict[str, dict[str, int]]) -> str:
    """`unit updated 2, created 1; lease created 1` — a run's journal counts in one line."""
    return "; ".join(
        f"{entity} " + ", ".join(f"{action} {n}" for action, n in actions.items()) for entity, actions in counts.items()
    )


def run_change_lines(engine: Engine, run_id: int, integration: str, shown: int = 10) -> list[str]:
    """What a run changed, for a terminal: its counts, its first `shown` changes and where to see them all."""
    with engine.connect() as connection:
        counts = change_counts(connection, run_id)
        first = first_changes(connection, run_id, shown)
    total = sum(n for actions in counts.values() for n in actions.values())
    if not total:
        return [f"run {run_id} changed no record"]
    lines = [f"run {run_id} changed {total} record(s): {counts_line(counts)}"]
    lines += [f"  {change_line(change)}" for change in first]
    more = f"… {total - len(first)} more; all" if total > len(first) else "all"
    lines.append(f"  {more} with their old and new values: `pmsync changes --run {run_id} --integration {integration}`")
    return lines
