"""Records held back unchanged: an excluded or parked record whose payload hash is the one it was held with is skipped,
unless what its verdict also depends on may have changed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from pmsync.platform.database import among
from pmsync.sync.rule_types import RuleTable
from schemas.entity_rows import addressed, rows_of
from schemas.source_values import storable
from schemas.tables import quarantine, unapplied_records

HELD_UNCHANGED = "held_unchanged"
"""`SourcePage.extra` key: {entity: {source id: status}} of the page's records drop_unchanged took off because they
are held ("excluded" or "parked") with the payload they have now; apply_page marks them seen by its run."""
HELD = ("excluded", "parked")


def still_held(connection: Connection, integration_id: int, entity: str, wanted: dict[int, str]) -> dict[int, str]:
    """{source id: status} of the `entity` records of `wanted` ({source id: payload hash}) the latest sync to see them
    held with that very payload hash, whose verdict checking them again would keep: an inclusion rule reads only the
    payload and the integration user (both in the hash), and a parked record's named parent is still absent (when it
    arrives, applying it releases the parked record from its stored payload). A record with a platform row of its own
    (applying the record again may change it: a deactivation undone) or an open quarantine item is checked again."""
    if not wanted:
        return {}
    table = unapplied_records
    held = [
        row for row in connection.execute(
            select(table.c.source_id, table.c.status, table.c.source_hash, table.c.parent_entity,
                   table.c.parent_source_id).where(
                table.c.integration_id == integration_id, table.c.entity == entity,
                among(connection, table.c.source_id, sorted(wanted)), table.c.source_hash.is_not(None),
                table.c.status.in_(HELD),
            )
        )
        if row.source_hash == wanted[row.source_id]
    ]
    if not held:
        return {}
    ids = sorted(row.source_id for row in held)
    own = rows_of(entity)
    recheck = set(connection.scalars(select(own.table.c.source_id).where(
        own.mine(integration_id), among(connection, own.table.c.source_id, ids))))
    recheck.update(int(source_id) for source_id in connection.scalars(select(quarantine.c.source_id).where(
        quarantine.c.integration_id == integration_id, quarantine.c.entity == entity,
        quarantine.c.released_at.is_(None), among(connection, quarantine.c.source_id, [str(i) for i in ids]),
    )) if source_id.isdigit())
    arrived = _arrived_parents(connection, integration_id, held)
    return {
        row.source_id: row.status for row in held
        if row.source_id not in recheck and (row.parent_entity, row.parent_source_id) not in arrived
    }


def derived_still_held(
    connection: Connection, integration_id: int, rules: RuleTable, integration_user: str, derived: tuple[str, ...],
    records: dict[int, tuple[Any, dict]], hash_of: Callable[[dict], str],
) -> dict[int, dict[str, dict[int, str]]]:
    """For records held unchanged as their own entity, of a stream whose records make rows of `derived` entities too
    (a lease's residents): {record id: {entity: {source id: status}}} of those whose every derived row checking them
    again would hold as it is: excluded by its rule (which reads the payload only), or parked with this very payload
    (`hash_of` its stored payload is the record's) while its parent is absent; and none with a platform row or an
    open quarantine item. A record missing from the answer is checked again."""
    verdicts: dict[int, dict[tuple[str, int], bool]] = {}
    for record_id, (record, raw) in records.items():
        mine: dict[tuple[str, int], bool] = {}
        for candidate in addressed(record.rows(raw)):  # as _skipped_counts reads them
            if candidate.entity in derived:
                candidate.facts = storable(candidate.facts)
                key = (candidate.entity, candidate.source_id)
                included = rules.rules[candidate.entity].include.exclusion(candidate, integration_user) is None
                mine[key] = mine.get(key, False) or included
        verdicts[record_id] = mine
    wanted: dict[str, set[int]] = {}
    for mine in verdicts.values():
        for entity, source_id in mine:
            wanted.setdefault(entity, set()).add(source_id)
    recheck: set[tuple[str, int]] = set()
    parked: dict[tuple[str, int], Any] = {}
    for entity, source_ids in wanted.items():
        ids = sorted(source_ids)
        rows = rows_of(entity)
        recheck.update((entity, i) for i in connection.scalars(select(rows.table.c.source_id).where(
            rows.mine(integration_id), among(connection, rows.table.c.source_id, ids))))
        recheck.update((entity, int(i)) for i in connection.scalars(select(quarantine.c.source_id).where(
            quarantine.c.integration_id == integration_id, quarantine.c.entity == entity,
            quarantine.c.released_at.is_(None), among(connection, quarantine.c.source_id, [str(i) for i in ids]),
        )) if i.isdigit())
        table = unapplied_records
        parked.update(((entity, row.source_id), row) for row in connection.execute(
            select(table.c.source_id, table.c.status, table.c.payload, table.c.parent_entity,
                   table.c.parent_source_id).where(
                table.c.integration_id == integration_id, table.c.entity == entity,
                among(connection, table.c.source_id, ids), table.c.status == "parked",
            )))
    arrived = _arrived_parents(connection, integration_id, parked.values())
    found: dict[int, dict[str, dict[int, str]]] = {}
    for record_id, mine in verdicts.items():
        record_hash = hash_of(records[record_id][1])
        statuses: dict[str, dict[int, str]] = {}
        for (entity, source_id), included in mine.items():
            row = parked.get((entity, source_id))
            if (entity, source_id) in recheck or (included and (
                    row is None or row.payload is None or hash_of(row.payload) != record_hash
                    or (row.parent_entity, row.parent_source_id) in arrived)):
                break
            statuses.setdefault(entity, {})[source_id] = "parked" if included else "excluded"
        else:
            found[record_id] = statuses
    return found


def _arrived_parents(connection: Connection, integration_id: int, held: Iterable) -> set[tuple[str, int]]:
    """(entity, source id) of the parents parked records wait for that are on the platform now (a link resolves
    against every row of the parent's entity, active or not)."""
    waited: dict[str, set[int]] = {}
    for row in held:
        if row.status == "parked" and row.parent_entity is not None and row.parent_source_id is not None:
            waited.setdefault(row.parent_entity, set()).add(row.parent_source_id)
    arrived: set[tuple[str, int]] = set()
    for entity, source_ids in waited.items():
        rows = rows_of(entity)
        arrived.update((entity, source_id) for source_id in connection.scalars(select(rows.table.c.source_id).where(
            rows.mine(integration_id), among(connection, rows.table.c.source_id, sorted(source_ids)))))
    return arrived


def mark_held_seen(connection: Connection, integration_id: int, run_id: int, now: datetime,
                   held: dict[str, dict[int, str]]) -> None:
    """The held records skipped unchanged are still held, now by this run (as checking them again would record them):
    what the run left unapplied lists them. One UPDATE per entity, none if none."""
    for entity, statuses in held.items():
        if statuses:
            connection.execute(update(unapplied_records).where(
                unapplied_records.c.integration_id == integration_id, unapplied_records.c.entity == entity,
                among(connection, unapplied_records.c.source_id, sorted(statuses)),
            ).values(run_id=run_id, last_seen_at=now))
