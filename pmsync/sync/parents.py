"""Parent links: each candidate's parents found among the platform's rows (a missing required one parks it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from pmsync.platform.database import among
from pmsync.sync.rule_types import EntityRule, Exclusion, ParentLink
from schemas.entity_rows import rows_of
from schemas.records import Candidate
from schemas.tables import leases, residents

if TYPE_CHECKING:
    from pmsync.sync.policy import LoadContext


@dataclass
class Held:
    """A record not applied here: excluded by its rule, or parked (`parent`: the entity and source id it waits for)."""

    candidate: Candidate
    status: str
    exclusion: Exclusion
    parent: tuple[str, int | None] | None = None


def link_parents(
    connection: Connection, context: LoadContext, rule: EntityRule, included: list[Candidate], held: list[Held],
    unlinked: set[int],
) -> list[dict[str, Any]]:
    """Rows with their parents' ids; a missing required parent parks the record (into `held`), a missing optional
    one it names leaves the link empty and the record in `unlinked` (its next listing may link it: no hash)."""
    rows = {c.source_id: {**c.columns, "source_id": c.source_id} for c in included}
    waiting = {c.source_id: c for c in included}
    for link in rule.parents:
        named = {source_id: link.named_by(candidate) for source_id, candidate in waiting.items()}
        found = _resolve(connection, context, link, list(waiting.values()), rows, named)
        inherit = list(link.inherit.items())
        for source_id, candidate in list(waiting.items()):
            parent = found.get(source_id)
            if parent is None:
                parent_entity, parent_source_id = named[source_id]
                if link.required:
                    detail = (
                        f"{parent_entity} {parent_source_id} is not on the platform yet"
                        if parent_source_id is not None
                        else f"the record names no {parent_entity}"
                    )
                    held.append(Held(candidate, "parked", Exclusion("parent_missing", detail),
                                      (parent_entity, parent_source_id)))
                    del waiting[source_id], rows[source_id]
                    continue
                if parent_source_id is not None:
                    unlinked.add(source_id)
            row = rows[source_id]
            row[link.column] = parent["id"] if parent else None
            for column, parent_column in inherit:
                row[column] = parent[parent_column] if parent else None
    return list(rows.values())


def _resolve(
    connection: Connection, context: LoadContext, link: ParentLink, candidates: list[Candidate], rows: dict,
    named: dict[int, tuple[str, int | None]],
) -> dict[int, dict[str, Any]]:
    """Platform parent row (id and inherited columns) per candidate source id, each looked up among the rows of the
    entity (kind) the candidate names for the link (`named`: link.named_by of each)."""
    if link.resolve == "primary_resident_of_named_lease":
        return _primary_resident_of_named_lease(connection, context, candidates, rows)
    found: dict[int, dict[str, Any]] = {}
    for entity in link.entities:
        wanted = {parent_id for parent_entity, parent_id in named.values() if parent_entity == entity} - {None}
        if not wanted:
            continue
        parents = _parent_rows(connection, context, entity, link, wanted)
        found.update((source_id, parents[parent_id]) for source_id, (parent_entity, parent_id) in named.items()
                     if parent_entity == entity and parent_id in parents)
    return found


def _parent_rows(
    connection: Connection, context: LoadContext, entity: str, link: ParentLink, wanted: set[int]
) -> dict[int, dict[str, Any]]:
    """The integration's `entity` rows of the wanted source ids (id and the link's inherited columns), by source id."""
    parent_rows = rows_of(entity)
    table = parent_rows.table
    columns = [table.c.id, table.c.source_id, *(table.c[name] for name in link.inherit.values())]
    query = select(*columns).where(
        parent_rows.mine(context.integration_id), among(connection, table.c.source_id, sorted(wanted))
    )
    result = connection.execute(query)
    names = list(result.keys())
    return {row[1]: dict(zip(names, row)) for row in result}


def _primary_resident_of_named_lease(
    connection: Connection, context: LoadContext, candidates: list[Candidate], rows: dict
) -> dict[int, dict[str, Any]]:
    named: dict[tuple, list[int]] = {}
    for c in candidates:
        key = (rows[c.source_id].get("unit_id"), c.columns.get("lease_name"))
        if None not in key:
            named.setdefault(key, []).append(c.source_id)
    if not named:
        return {}
    found: dict[int, dict[str, Any]] = {}
    unit_ids = sorted({unit_id for unit_id, _ in named})
    if unit_ids:
        query = (
            select(leases.c.unit_id, leases.c.name, residents.c.id)
            .join(
                residents,
                and_(
                    residents.c.integration_id == leases.c.integration_id,
                    residents.c.source_id == leases.c.primary_contact_source_id,
                ),
            )
            .where(leases.c.integration_id == context.integration_id, among(connection, leases.c.unit_id, unit_ids))
        )
        for row in connection.execute(query):
            for source_id in named.get((row.unit_id, row.name), ()):
                found[source_id] = {"id": row.id}
    return found
