"""Where each platform entity's rows live: its table and, in a table that several kinds of record share, its kind."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, Table, and_

from schemas.records import Candidate
from schemas.tables import (
    lease_charges,
    lease_payments,
    leases,
    owners,
    ownership_accounts,
    properties,
    residents,
    service_providers,
    units,
    work_orders,
)


@dataclass(frozen=True)
class EntityRows:
    """The rows of one platform entity: `table`, narrowed to `kind` when the table holds several kinds (a rental and
    an association are both properties, and a source may give both the same id: the kind is part of the key)."""

    entity: str
    table: Table
    kind: str | None = None

    @property
    def key(self) -> list[str]:
        """The columns a row is unique by: the upsert's conflict target."""
        return ["integration_id", "kind", "source_id"] if self.kind is not None else ["integration_id", "source_id"]

    @property
    def hashed(self) -> bool:
        return "source_hash" in self.table.c

    def of_kind(self) -> list[ColumnElement[bool]]:
        """The condition that keeps other kinds' rows out (none for a table of one kind)."""
        return [self.table.c.kind == self.kind] if self.kind is not None else []

    def mine(self, integration_id: int) -> ColumnElement[bool]:
        """This entity's rows of one integration."""
        return and_(self.table.c.integration_id == integration_id, *self.of_kind())

    def stamp(self) -> dict[str, str]:
        """What a row written for this entity carries besides its own columns: its kind."""
        return {"kind": self.kind} if self.kind is not None else {}


ENTITY_ROWS: dict[str, EntityRows] = {
    rows.entity: rows
    for rows in (
        EntityRows("property", properties, "rental"),
        EntityRows("association", properties, "association"),
        EntityRows("unit", units, "rental"),
        EntityRows("association_unit", units, "association"),
        EntityRows("lease", leases),
        EntityRows("ownership_account", ownership_accounts),
        EntityRows("resident", residents),
        EntityRows("association_owner", residents),
        EntityRows("work_order", work_orders),
        EntityRows("owner", owners),
        EntityRows("service_provider", service_providers),
        EntityRows("charge", lease_charges),
        EntityRows("payment", lease_payments),
    )
}
"""Platform entity → its rows. Every lookup, parent link, upsert and hash check of the engine goes through it, so a
kind never reads or writes another kind's rows. 'rental' is the kind of every Propertyware property and unit.
An association owner is a resident (group 'Owners'): tenants and owners share one id space at the source."""


def rows_of(entity: str) -> EntityRows:
    """The rows of `entity`; an entity no table holds is a rule table's mistake."""
    try:
        return ENTITY_ROWS[entity]
    except KeyError:
        raise KeyError(f"no platform table holds entity {entity!r}: add it to schemas.entity_rows.ENTITY_ROWS "
                       f"(known: {', '.join(ENTITY_ROWS)})") from None


def platform_tables() -> list[Table]:
    """Each table some entity's rows live in, once."""
    return list(dict.fromkeys(rows.table for rows in ENTITY_ROWS.values()))


def _entity_for(named: str, kind: object) -> str:
    """The entity a record names as `named` (a table's entity) with its source kind: the kind's own entity when its
    rows live in the same table (an association's unit is an association_unit), else `named` (a rental's is a unit)."""
    if isinstance(kind, str) and kind in ENTITY_ROWS and named in ENTITY_ROWS:
        if ENTITY_ROWS[kind].table is ENTITY_ROWS[named].table:
            return kind
    return named


def addressed(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The candidates with their entity and parents named as the platform's entities: a record model names the table
    ("property") and says its kind in facts["source_kind"], its parents' in facts["parent_kinds"]."""
    found = []
    for candidate in candidates:
        kinds = candidate.facts.get("parent_kinds") or {}
        entity = _entity_for(candidate.entity, candidate.facts.get("source_kind"))
        parents = {_entity_for(parent, kinds.get(parent)): source_id for parent, source_id in candidate.parents.items()}
        if entity == candidate.entity and parents == candidate.parents and list(parents) == list(candidate.parents):
            found.append(candidate)
        else:
            found.append(replace(candidate, entity=entity, parents=parents))
    return found
