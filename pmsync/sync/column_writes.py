"""Records that set columns on another entity's rows (a lease's outstanding balance): written, parked until that row
is on the platform, and the rows a complete listing left out settled to the rule's `absent` values."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection

from pmsync.journal import record as journal
from pmsync.platform.database import among, upsert
from pmsync.sync.rule_types import EntityRule, RuleTable, Stream
from pmsync.runs.bookkeeping import add_counts, utc_now
from schemas.entity_rows import rows_of
from schemas.records import Candidate
from schemas.tables import unapplied_records

if TYPE_CHECKING:
    from pmsync.sync.policy import LoadContext, PageOutcome
    from pmsync.sync.scope import SyncSession

log = logging.getLogger("pmsync.sync")


def apply_column_writes(connection: Connection, context: LoadContext, rule: EntityRule,
                        candidates: Iterable[Candidate], outcome: PageOutcome) -> list[int]:
    """Set each candidate's columns on its target row (the row of `rule.sets_columns_of.entity` with the candidate's
    source id): updated where a value differs (journaled on the target), unchanged otherwise; a candidate whose target
    is not on the platform parks, waiting for it (applied when that row is). The source ids applied."""
    assert rule.sets_columns_of is not None
    target = rule.sets_columns_of.entity
    latest = {candidate.source_id: candidate for candidate in candidates}
    if not latest:
        return []
    rows = rows_of(target)
    table = rows.table
    columns = sorted({name for candidate in latest.values() for name in candidate.columns})
    existing = {row.source_id: row for row in connection.execute(
        select(table.c.id, table.c.source_id, *(table.c[name] for name in columns)).where(
            rows.mine(context.integration_id), among(connection, table.c.source_id, sorted(latest))))}
    updates, journaled, parked, unchanged = [], [], [], 0
    for source_id, candidate in latest.items():
        current = existing.get(source_id)
        if current is None:
            parked.append(_parked(context, rule.entity, target, candidate))
            continue
        wanted = {name: candidate.columns.get(name) for name in columns}
        if all(getattr(current, name) == value for name, value in wanted.items()):
            unchanged += 1
            continue
        journaled.append(journal.update_entry(target, source_id, current, wanted, columns))
        updates.append({"b_id": current.id, **{f"b_{name}": value for name, value in wanted.items()}})
    _update_rows(connection, context, table, columns, updates)
    journal.record(connection, context.run_id, context.integration_id, context.now, journaled)
    changing = ["status", "reason", "detail", "parent_entity", "parent_source_id", "payload", "run_id", "last_seen_at"]
    upsert(connection, unapplied_records, parked, ["integration_id", "entity", "source_id"], changing)
    applied = [source_id for source_id in latest if source_id in existing]
    if applied:
        connection.execute(delete(unapplied_records).where(
            unapplied_records.c.integration_id == context.integration_id, unapplied_records.c.entity == rule.entity,
            among(connection, unapplied_records.c.source_id, applied)))
    outcome.add(rule.entity, updated=len(updates), unchanged=unchanged, parked=len(parked))
    return applied


def settles_absent(rules: RuleTable, stream: Stream) -> EntityRule | None:
    """The rule of `stream`'s entity when its records set columns of another entity's rows and a complete listing
    settles the rows it left out; None otherwise."""
    rule = rules.rules.get(stream.entities[0])
    return rule if rule is not None and rule.sets_columns_of is not None and rule.sets_columns_of.absent else None


def settle_absent(session: SyncSession, stream: Stream, listed: set[int]) -> int:
    """After a complete listing of `stream`: every row of the target entity the listing did not name gets the rule's
    `absent` values (a balance missing from a list that leaves out zero balances is zero). A row that held another
    value, or none since an earlier run, changed: journaled, counted as an update of the stream's entity in the run.
    A row this run created, still without a value, gets its first one: no update (its creation is journaled and
    counted). How many rows changed."""
    rule = settles_absent(session.integration.rules, stream)
    if rule is None or rule.sets_columns_of is None:
        return 0
    target, absent = rule.sets_columns_of.entity, rule.sets_columns_of.absent
    rows = rows_of(target)
    table = rows.table
    columns = sorted(absent)
    now = utc_now()
    with session.engine.begin() as connection:
        current = connection.execute(select(
            table.c.id, table.c.source_id, table.c.created_at, *(table.c[name] for name in columns),
        ).where(rows.mine(session.integration_id), table.c.source_id.is_not(None))).all()
        stale = [row for row in current if row.source_id not in listed and _differs(row, absent)]
        changed = [row for row in stale
                   if row.created_at < session.started_at or any(getattr(row, name) is not None for name in columns)]
        context = _Stamp(session.integration_id, session.run_id, now)
        _update_rows(connection, context, table, columns,
                     [{"b_id": row.id, **{f"b_{name}": absent[name] for name in columns}} for row in stale])
        journal.record(connection, session.run_id, session.integration_id, now,
                       [journal.update_entry(target, row.source_id, row, dict(absent), columns) for row in changed])
        if changed:
            add_counts(connection, session.run_id, {rule.entity: Counter(updated=len(changed))})
    if stale:
        log.info("%s: %d %s row(s) the listing left out set to %s (%d of them created by this run)", stream.name,
                 len(stale), target, dict(absent), len(stale) - len(changed))
    return len(changed)


class _Stamp:
    """What a row update is stamped with: the run and the moment."""

    def __init__(self, integration_id: int, run_id: int, now: Any) -> None:
        self.integration_id, self.run_id, self.now = integration_id, run_id, now


def _differs(row: Any, values: Mapping[str, Any]) -> bool:
    return any(getattr(row, name) != value for name, value in values.items())


def _update_rows(connection: Connection, context: Any, table: Any, columns: list[str], updates: list[dict]) -> None:
    if not updates:
        return
    statement = update(table).where(table.c.id == bindparam("b_id")).values(
        last_sync_run_id=context.run_id, updated_at=context.now,
        **{name: bindparam(f"b_{name}") for name in columns})
    connection.execute(statement, updates)


def _parked(context: LoadContext, entity: str, target: str, candidate: Candidate) -> dict[str, Any]:
    return {
        "integration_id": context.integration_id, "entity": entity, "source_id": candidate.source_id,
        "status": "parked", "reason": "parent_missing",
        "detail": f"{target} {candidate.source_id} is not on the platform yet",
        "parent_entity": target, "parent_source_id": candidate.source_id, "payload": candidate.payload,
        "run_id": context.run_id, "first_seen_at": context.now, "last_seen_at": context.now,
    }
