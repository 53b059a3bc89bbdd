"""Where each platform entity's rows live: its table and, in a table that several kinds of record share, its kind."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

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


@lru_cache(maxsize=None)
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
        facts = candidate.facts
        kinds = facts.get("parent_kinds") or {}
        kind = facts.get("source_kind")
        entity = _entity_for(candidate.entity, kind) if isinstance(kind, str) else candidate.entity
        renamed = _renamed_parents(tuple(candidate.parents), tuple(kinds.items()) if kinds else ()) if kinds else None
        if entity == candidate.entity and renamed is None:
            found.append(candidate)
        else:
            parents = candidate.parents if renamed is None else dict(zip(renamed, candidate.parents.values()))
            found.append(replace(candidate, entity=entity, parents=parents))
    return found


def _renamed_parents(names: tuple[str, ...], kinds: tuple[tuple[str, object], ...]) -> tuple[str, ...] | None:
    """The platform entities a candidate's parents (`names`, in order) are, given their kinds; None when each is its
    own name (the candidate keeps its parents as they are). Two parents naming one entity keep the later's id."""
    try:
        return _renamed_cached(names, kinds)
    except TypeError:  # a kind that cannot be hashed (a record model's odd fact): the same answer, uncached
        return _renamed_uncached(names, dict(kinds))


@lru_cache(maxsize=4096)
def _renamed_cached(names: tuple[str, ...], kinds: tuple[tuple[str, object], ...]) -> tuple[str, ...] | None:
    return _renamed_uncached(names, dict(kinds))


def _renamed_uncached(names: tuple[str, ...], kinds: dict[str, object]) -> tuple[str, ...] | None:
    renamed = tuple(_entity_for_any(name, kinds.get(name)) for name in names)
    return None if renamed == names else renamed


def _entity_for_any(named: str, kind: object) -> str:
    return _entity_for(named, kind) if isinstance(kind, str) else named
