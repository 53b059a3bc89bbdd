"""Writing the change journal: one record_changes row per record a run changed, in the transaction that changed it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, String, delete, literal, null, select, true
from sqlalchemy.engine import Connection

from pmsync.platform.database import among, id_rows, insert_on_conflict, upsert
from schemas.tables import Key, UtcDateTime, record_changes, sync_runs

CREATED, UPDATED, DEACTIVATED, REACTIVATED = "created", "updated", "deactivated", "reactivated"
ACTIONS = (CREATED, UPDATED, DEACTIVATED, REACTIVATED)
PAYLOAD = "source_data"
"""The column keeping the source's payload: its changes are journaled per top-level key, `source_data.KEY`."""
PRUNED_PER_RUN = 50_000
"""At most this many expired journal rows go at the end of each run (the next run takes the rest)."""


def jsonable(value: Any) -> Any:
    """A column value as the journal keeps it: moments as UTC ISO 8601 ending in Z, dates ISO, decimals as strings."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def update_entry(entity: str, source_id: int, old: Any, new: dict[str, Any], written: Iterable[str]) -> dict[str, Any]:
    """The journal entry of an update: the written columns whose value changed as {column: [old, new]} (`active`
    becomes the action), read from the row as it was (`old`, any object with the columns as attributes)."""
    changes: dict[str, list] = {}
    action = UPDATED
    for name in written:
        before, after = getattr(old, name), new[name]
        if before == after:
            continue
        if name == "active":
            action = REACTIVATED if after else DEACTIVATED
        elif name == PAYLOAD:
            changes.update(_payload_changes(before, after))
        else:
            changes[name] = [jsonable(before), jsonable(after)]
    for name in [name for name in changes if name.startswith(f"{PAYLOAD}.") and name[len(PAYLOAD) + 1:] in changes]:
        del changes[name]  # the payload key a column of the same name holds (an imported row's cells) says it once
    return {"entity": entity, "source_id": source_id, "action": action, "changes": changes or None}


def _payload_changes(before: Any, after: Any) -> dict[str, list]:
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    return {
        f"{PAYLOAD}.{key}": [before.get(key), after.get(key)]
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    }


def entry(entity: str, source_id: int, action: str) -> dict[str, Any]:
    """A journal entry with no field values: a creation, a deactivation or a reactivation."""
    return {"entity": entity, "source_id": source_id, "action": action, "changes": None}


def record(connection: Connection, run_id: int, integration_id: int, now: datetime, entries: list[dict[str, Any]]) -> None:
    """Journal the entries of one write, merged with what the run already journaled of the same records (a record
    changed twice in a run keeps one row: its first old and its last new values): one SELECT and one upsert."""
    if not entries:
        return
    merged: dict[tuple[str, int], dict[str, Any]] = {}
    for item in entries:
        key = (item["entity"], item["source_id"])
        merged[key] = _merge(merged[key], item) if key in merged else item
    table = record_changes
    earlier = connection.execute(
        select(table.c.entity, table.c.source_id, table.c.action, table.c.changes).where(
            table.c.run_id == run_id,
            table.c.entity.in_(sorted({entity for entity, _ in merged})),
            among(connection, table.c.source_id, sorted({source_id for _, source_id in merged})),
        )
    )
    for row in earlier:
        if (row.entity, row.source_id) in merged:
            key = (row.entity, row.source_id)
            merged[key] = _merge(row._asdict(), merged[key])
    rows = [
        {"run_id": run_id, "integration_id": integration_id, "entity": entity, "source_id": source_id,
         "action": item["action"], "changes": item["changes"], "changed_at": now}
        for (entity, source_id), item in merged.items()
    ]
    upsert(connection, table, rows, ["run_id", "entity", "source_id"], ["action", "changes", "changed_at"])


def record_created(
    connection: Connection, run_id: int, integration_id: int, now: datetime, entity: str, source_ids: list[int]
) -> None:
    """Journal the creation of these `entity` records in one statement, the ids one parameter: what `record` does
    with their `entry(..., CREATED)`s. A record the run journaled before becomes created, its earlier changes kept
    (as `_merge` keeps them: stored changes are already those whose old and new values differ)."""
    if not source_ids:
        return
    table = record_changes
    listed = id_rows(connection, source_ids)
    created = select(
        literal(run_id, Key), literal(integration_id, Key), literal(entity, String), listed.c.value,
        literal(CREATED, String), null(), literal(now, UtcDateTime()),
    ).where(true())  # SQLite reads `ON CONFLICT` after a bare FROM as a join's
    columns = ["run_id", "integration_id", "entity", "source_id", "action", "changes", "changed_at"]
    statement = insert_on_conflict(connection)(table).from_select(columns, created)
    statement = statement.on_conflict_do_update(
        index_elements=["run_id", "entity", "source_id"],
        set_={"action": statement.excluded.action, "changed_at": statement.excluded.changed_at},
    )
    connection.execute(statement)


def _merge(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Two changes of one record in one run as one: created stays created; a de- or reactivation outranks an update."""
    if earlier["action"] == CREATED:
        return {**later, "action": CREATED, "changes": None}
    action = earlier["action"] if later["action"] == UPDATED else later["action"]
    changes = dict(earlier["changes"] or {})
    for name, (before, after) in (later["changes"] or {}).items():
        changes[name] = [changes[name][0] if name in changes else before, after]
    changes = {name: values for name, values in changes.items() if values[0] != values[1]}
    return {**later, "action": action, "changes": changes or None}


def integration_of_run(connection: Connection, run_id: int) -> int:
    return connection.execute(select(sync_runs.c.integration_id).where(sync_runs.c.id == run_id)).scalar_one()


def prune(engine: Engine, retention_days: int, now: datetime, most: int = PRUNED_PER_RUN) -> int:
    """Delete journal rows older than `retention_days` (at most `most` of them, oldest first, found through the
    changed_at index: nothing expired costs one index probe); how many went."""
    table = record_changes
    expired = select(table.c.id).where(table.c.changed_at < now - timedelta(days=retention_days))
    with engine.begin() as connection:
        return connection.execute(
            delete(table).where(table.c.id.in_(expired.order_by(table.c.changed_at).limit(most).scalar_subquery()))
        ).rowcount
