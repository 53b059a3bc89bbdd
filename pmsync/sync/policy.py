"""Policy: apply an entity's sync rule to candidate rows (include, link parents, create or update, park)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection

from pmsync.journal import record as journal
from pmsync.platform.database import among, insert_ignoring_existing, upsert
from pmsync.reconcile.parts import reactivate_listed_units
from pmsync.sync.parents import Held, link_parents
from pmsync.sync.rule_types import EntityRule, Exclusion, RuleTable
from pmsync.sync.inactive import deactivate_inactive_at_source
from pmsync.sync.column_writes import apply_column_writes
from schemas.records import Candidate
from schemas.entity_rows import addressed, rows_of
from schemas.tables import unapplied_records


@dataclass(frozen=True)
class LoadContext:
    """What the policy needs to know about the run it is part of."""

    integration_id: int
    integration_user: str
    run_id: int
    now: datetime
    rules: RuleTable


@dataclass
class PageOutcome:
    """What one page did, per entity (the counts of pmsync.runs.bookkeeping.COUNTS), and per hashed entity the records whose
    payload did not apply cleanly here (parked or excluded, or with a derived row parked): their hash must go."""

    counts: dict[str, Counter] = field(default_factory=dict)
    unclean: dict[str, set[int]] = field(default_factory=dict)

    def add(self, entity: str, **numbers: int) -> None:
        self.counts.setdefault(entity, Counter()).update(numbers)


def apply_candidates(
    connection: Connection,
    context: LoadContext,
    rule: EntityRule,
    candidates: Iterable[Candidate],
    outcome: PageOutcome,
    hashes: dict[int, str | None] | None = None,
) -> None:
    """Apply one entity's candidates; then apply any parked children this makes possible.

    A record seen twice (a contact on an old and a current lease) counts once: an included copy wins. Rows of a
    hashed table get `hashes[source_id]` as their source_hash (None without one: parked children applied from
    their stored payload are checked again when next listed).
    """
    candidates = list(candidates)
    if not candidates:
        return
    if rule.sets_columns_of is not None:
        apply_column_writes(connection, context, rule, candidates, outcome)
        return
    verdicts: dict[int, tuple[Candidate, Exclusion | None]] = {}
    for candidate in candidates:
        exclusion = rule.include.exclusion(candidate, context.integration_user)
        earlier = verdicts.get(candidate.source_id)
        if earlier is None or exclusion is None or earlier[1] is not None:
            verdicts[candidate.source_id] = (candidate, exclusion)
    if rule.goes_when_inactive is not None:
        deactivate_inactive_at_source(connection, context.integration_id, context.rules, rule, candidates,
                                      context.run_id, context.now)
    held = [Held(candidate, "excluded", exclusion) for candidate, exclusion in verdicts.values() if exclusion]
    included = [candidate for candidate, exclusion in verdicts.values() if exclusion is None]
    if rule.adopt is not None:
        _adopt_platform_rows(connection, context, rule, included)
    unlinked: set[int] = set()
    ready = link_parents(connection, context, rule, included, held, unlinked)
    hashes = {source_id: None if source_id in unlinked else digest for source_id, digest in (hashes or {}).items()}
    created, updated, unchanged = _write(connection, context, rule, ready, hashes)
    _record_held(connection, context, rule.entity, held, hashes)
    _note_unclean(context, rule.entity, held, outcome)
    applied = [row["source_id"] for row in ready]
    if rule.comes_back_when_listed:
        reactivate_listed_units(connection, context.integration_id, applied, context.run_id, context.now, rule.entity)
    _forget_held(connection, context, rule.entity, applied)
    parked = sum(h.status == "parked" for h in held)
    outcome.add(rule.entity, created=created, updated=updated, unchanged=unchanged, excluded=len(held) - parked, parked=parked)
    _release_parked_children(connection, context, rule.entity, applied, outcome)


def _note_unclean(context: LoadContext, entity: str, held: list[Held], outcome: PageOutcome) -> None:
    """A held record's own row (a hashed table's) loses its hash: excluded or parked, its payload did not apply; so
    does the record a parked derived row comes from (a lease whose resident waits for its unit)."""
    hashed = rows_of(entity).hashed
    stream = context.rules.stream_of(entity) if context.rules.streams else None
    own = stream.entities[0] if stream is not None else entity
    for h in held:
        if hashed or h.status == "parked":
            record_id = stream.record.raw_id(h.candidate.payload) if stream is not None else None
            outcome.unclean.setdefault(own, set()).add(record_id if record_id is not None else h.candidate.source_id)


def _adopt_platform_rows(connection: Connection, context: LoadContext, rule: EntityRule, included: list[Candidate]) -> None:
    """Platform-made rows without a source id whose marker a source record carries get that record's source id."""
    rows, fact, column = rows_of(rule.entity), rule.adopt.fact, rule.adopt.column
    table = rows.table
    marked = {c.facts[fact]: c.source_id for c in included if c.facts.get(fact)}
    if not marked:
        return
    query = select(table.c.id, table.c[column].label("marker")).where(
        rows.mine(context.integration_id), table.c.source_id.is_(None),
        among(connection, table.c[column], sorted(marked)),
    )
    adopted = [{"b_id": row.id, "b_source_id": marked[row.marker]} for row in connection.execute(query)]
    if adopted:
        statement = update(table).where(table.c.id == bindparam("b_id")).values(source_id=bindparam("b_source_id"))
        connection.execute(statement, adopted)


def _write(
    connection: Connection, context: LoadContext, rule: EntityRule, ready: list[dict[str, Any]], hashes: dict[int, str | None]
) -> tuple[int, int, int]:
    """Insert new rows, update changed ones (their updatable columns), leave the rest; a hashed table's rows get their
    record's hash (a hash alone that differs is written without touching the row's stamps: the row is unchanged).
    Each row created or updated is journaled (its old values are the ones just read to compare)."""
    if not ready:
        return 0, 0, 0
    rows = rows_of(rule.entity)
    table, hashed = rows.table, rows.hashed
    kind = rows.stamp()
    if kind:
        for row in ready:  # the rows _link_parents made for this write alone
            row.update(kind)
    compared = [name for name in ready[0] if name != "source_id"]
    query = select(
        table.c.id, table.c.source_id, *(table.c[name] for name in compared), *([table.c.source_hash] if hashed else [])
    ).where(
        rows.mine(context.integration_id),
        among(connection, table.c.source_id, [row["source_id"] for row in ready]),
    )
    existing = {row.source_id: row for row in connection.execute(query)}
    stamp = {"integration_id": context.integration_id, "last_sync_run_id": context.run_id}
    inserts, updates, rehashed, unchanged, journaled = [], [], [], 0, []
    updatable = [name for name in compared if rule.updatable(name)]
    created = {**stamp, "created_at": context.now, "updated_at": context.now}
    for row in ready:
        current = existing.get(row["source_id"])
        wanted = {"source_hash": hashes.get(row["source_id"])} if hashed else {}
        if current is None:
            inserted = {"active": True, **row}
            inserted.update(created)
            inserted.update(wanted)
            inserts.append(inserted)
        elif any(getattr(current, name) != row[name] for name in updatable):
            journaled.append(journal.update_entry(rule.entity, row["source_id"], current, row, updatable))
            changed = {f"b_{name}": row[name] for name in updatable}
            updates.append({"b_id": current.id, "b_run": context.run_id, "b_now": context.now, **changed,
                            **{f"b_{name}": value for name, value in wanted.items()}})
        else:
            unchanged += 1
            if hashed and current.source_hash != wanted["source_hash"]:
                rehashed.append({"b_id": current.id, "b_source_hash": wanted["source_hash"]})
    insert_ignoring_existing(connection, table, inserts, rows.key)
    if updates:
        changing = [*updatable, *(["source_hash"] if hashed else [])]
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                last_sync_run_id=bindparam("b_run"),
                updated_at=bindparam("b_now"),
                **{name: bindparam(f"b_{name}") for name in changing},
            )
        )
        connection.execute(statement, updates)
    if rehashed:
        statement = update(table).where(table.c.id == bindparam("b_id")).values(source_hash=bindparam("b_source_hash"))
        connection.execute(statement, rehashed)
    journal.record(connection, context.run_id, context.integration_id, context.now, journaled)
    journal.record_created(connection, context.run_id, context.integration_id, context.now, rule.entity,
                           [row["source_id"] for row in inserts])
    return len(inserts), len(updates), unchanged


def _record_held(
    connection: Connection, context: LoadContext, entity: str, held: list[Held], hashes: dict[int, str | None]
) -> None:
    rows = [
        {
            "integration_id": context.integration_id,
            "entity": entity,
            "source_id": h.candidate.source_id,
            "status": h.status,
            "reason": h.exclusion.reason,
            "detail": h.exclusion.detail,
            "parent_entity": h.parent[0] if h.parent else None,
            "parent_source_id": h.parent[1] if h.parent else None,
            "payload": h.candidate.payload if h.status == "parked" else None,
            "source_hash": hashes.get(h.candidate.source_id),
            "run_id": context.run_id,
            "first_seen_at": context.now,
            "last_seen_at": context.now,
        }
        for h in held
    ]
    changing = ["status", "reason", "detail", "parent_entity", "parent_source_id", "payload", "source_hash", "run_id",
                "last_seen_at"]
    upsert(connection, unapplied_records, rows, ["integration_id", "entity", "source_id"], changing)


def _forget_held(connection: Connection, context: LoadContext, entity: str, applied: list[int]) -> None:
    if not applied:
        return
    connection.execute(
        delete(unapplied_records).where(
            unapplied_records.c.integration_id == context.integration_id,
            unapplied_records.c.entity == entity,
            among(connection, unapplied_records.c.source_id, applied),
        )
    )


def _release_parked_children(
    connection: Connection, context: LoadContext, parent_entity: str, applied: list[int], outcome: PageOutcome
) -> None:
    if not applied:
        return
    query = select(unapplied_records.c.entity, unapplied_records.c.source_id, unapplied_records.c.payload).where(
        unapplied_records.c.integration_id == context.integration_id,
        unapplied_records.c.parent_entity == parent_entity,
        among(connection, unapplied_records.c.parent_source_id, applied),
        unapplied_records.c.status == "parked",
    )
    parked = connection.execute(query).all()
    order = context.rules.entities()
    for entity in sorted({row.entity for row in parked}, key=order.index):
        stream = context.rules.stream_of(entity)
        wanted = {row.source_id for row in parked if row.entity == entity}
        records = [(stream.record.model_validate(row.payload), row.payload) for row in parked if row.entity == entity]
        candidates = [
            candidate
            for record, raw in records
            for candidate in addressed(record.candidates(raw))
            if candidate.entity == entity and candidate.source_id in wanted
        ]
        apply_candidates(connection, context, context.rules.rules[entity], candidates, outcome)



def unchanged_by_apply(connection: Connection, context: LoadContext, rule: EntityRule, candidates: list[Candidate]) -> set[int]:
    """Source ids of `candidates` that applying would leave as their platform row is (what `_write` counts
    unchanged): included by the rule, every parent linked, no updatable column different. Reads only."""
    included = [candidate for candidate in candidates if rule.include.exclusion(candidate, context.integration_user) is None]
    if not included:
        return set()
    unlinked: set[int] = set()
    ready = [row for row in link_parents(connection, context, rule, included, [], unlinked) if row["source_id"] not in unlinked]
    if not ready:
        return set()
    rows = rows_of(rule.entity)
    table = rows.table
    ready = [{**row, **rows.stamp()} for row in ready]
    updatable = [name for name in ready[0] if name != "source_id" and rule.updatable(name)]
    query = select(table.c.source_id, *(table.c[name] for name in updatable)).where(
        rows.mine(context.integration_id),
        among(connection, table.c.source_id, [row["source_id"] for row in ready]),
    )
    existing = {row.source_id: row for row in connection.execute(query)}
    return {
        row["source_id"] for row in ready
        if (current := existing.get(row["source_id"])) is not None
        and not any(getattr(current, name) != row[name] for name in updatable)
    }
