"""Sync rules as data, the types: what each entity syncs from, when it applies, what it may change (a source package
fills them in for its source system)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from schemas.records import Candidate, SourceRecord

ALL_FIELDS: frozenset[str] = frozenset({"*"})


@dataclass(frozen=True)
class Exclusion:
    """Why a sync looked at a record and did not apply it."""

    reason: str
    detail: str


class Inclusion(Protocol):
    def exclusion(self, candidate: Candidate, integration_user: str) -> Exclusion | None: ...


@dataclass(frozen=True)
class Always:
    """Every record of the entity applies."""

    def exclusion(self, candidate: Candidate, integration_user: str) -> Exclusion | None:
        return None


@dataclass(frozen=True)
class LivesOnActiveLease:
    """A lease contact is a resident when its role lives in the unit and the lease is active."""

    roles: frozenset[str] = frozenset({"tenant", "occupant"})

    def exclusion(self, candidate: Candidate, integration_user: str) -> Exclusion | None:
        role = (candidate.facts.get("role") or "").strip()
        lease = candidate.facts.get("lease_source_id")
        if role.lower() not in self.roles:
            return Exclusion("role_not_resident", f"role {role or '(none)'!r} on lease {lease} does not live in the unit")
        if candidate.facts.get("lease_active") is not True:
            return Exclusion("no_active_lease", f"lease {lease} is not active")
        return None


@dataclass(frozen=True)
class ManagedByIntegrationUser:
    """A work order syncs only when its managedBy is the integration user (case-insensitive, trimmed)."""

    def exclusion(self, candidate: Candidate, integration_user: str) -> Exclusion | None:
        managed_by = (candidate.facts.get("managed_by") or "").strip().lower()
        if managed_by == integration_user.strip().lower():
            return None
        if not managed_by:
            return Exclusion("managed_by_nobody", "managedBy is empty; assign it to the integration user")
        return Exclusion("managed_by_other_user", "managedBy is another user, not the integration user")


@dataclass(frozen=True)
class ParentLink:
    """A foreign key filled from a parent already on the platform; a missing required parent parks the record.

    `or_kinds`: other entities whose rows share the parent's table (an association beside a property) that the record
    may name instead; the record's own parent kind chooses (schemas.entity_rows.addressed names its parent by it), so
    one link fills `column` from a rental or from an association, never from the other kind's row of the same id."""

    entity: str
    column: str
    required: bool = True
    resolve: str = "by_source_id"
    inherit: Mapping[str, str] = field(default_factory=dict)
    or_kinds: tuple[str, ...] = ()

    @property
    def entities(self) -> tuple[str, ...]:
        """Every entity this link may resolve against, its own first."""
        return (self.entity, *self.or_kinds)

    def named_by(self, candidate: Candidate) -> tuple[str, int | None]:
        """The parent entity the candidate names for this link and its source id (the link's own entity and None when
        it names none)."""
        parents = candidate.parents
        for entity in (self.entity, *self.or_kinds) if self.or_kinds else (self.entity,):
            source_id = parents.get(entity)
            if source_id is not None:
                return entity, source_id
        return self.entity, None


@dataclass(frozen=True)
class AdoptByMarker:
    """A source record carrying a marker the platform wrote (a pushed work order's searchTag) is that platform row:
    it gets the record's source id instead of a duplicate being created (the push's answer may have been lost)."""

    fact: str
    column: str


@dataclass(frozen=True)
class GoesWhenInactive:
    """A record the source marks inactive (`facts[fact] is False`) deactivates its entity's active platform row and
    the active rows of `children` under it (each child entity's rule links to this one), each logged on the property
    as reconciliation logs; the record itself is left to the rule's inclusion (an inactive one is not imported). When
    the source marks it active again, the rows that deactivation took (their stored reason its) come back, logged."""

    children: tuple[str, ...] = ()
    fact: str = "source_active"


@dataclass(frozen=True)
class SetsColumnsOf:
    """The entity's records are no rows of their own: each sets its columns on the row of `entity` with its source id
    (a lease's outstanding balance), parked while that row is not on the platform; a listing proven complete sets
    `absent` on the rows of `entity` it did not list (a list that leaves out zero balances: absent = zero)."""

    entity: str
    absent: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EntityRule:
    """What a sync may do with one entity."""

    entity: str
    include: Inclusion = Always()
    parents: tuple[ParentLink, ...] = ()
    on_update: frozenset[str] = ALL_FIELDS
    adopt: AdoptByMarker | None = None
    comes_back_when_listed: bool = False
    goes_when_inactive: GoesWhenInactive | None = None
    sets_columns_of: SetsColumnsOf | None = None

    def updatable(self, column: str) -> bool:
        return self.on_update is ALL_FIELDS or column in self.on_update


@dataclass(frozen=True)
class Stream:
    """One source listing and the entities its records become, parents first. `path` and `list_params` are the
    source package's own business: the engine passes a stream back to its source and never reads them."""

    name: str
    path: str
    record: type[SourceRecord]
    entities: tuple[str, ...]
    list_params: Mapping[str, str] = field(default_factory=dict)
    readable_by_id: bool = True
    nightly: bool = False
    """True: read whole by the initial and the nightly lease sync only, not by the hourly delta (a listing with no
    window whose records have no hash to skip by: the outstanding balances)."""


@dataclass(frozen=True)
class Reconciled:
    """A pair of entities the monthly reconciliation compares with the source's presence listings: units and the
    properties they belong to, of one kind (a rental's units are never reconciled by an association's listing)."""

    unit: str = "unit"
    property: str = "property"


@dataclass(frozen=True)
class RuleTable:
    """All sync rules of one source system; `vendor` is the kind of source account it reads (rule tables of one
    vendor read the same accounts: switching between them is not a new account); `suites` the folder, inside the
    expectations directory (PMSYNC_EXPECTATIONS_DIR), of its quality suites ("": the directory itself); `reconciles`
    the unit and property entities reconciliation compares, each pair through the source's presence listings."""

    source_system: str
    streams: tuple[Stream, ...]
    rules: Mapping[str, EntityRule]
    vendor: str
    suites: str = ""
    reconciles: tuple[Reconciled, ...] = (Reconciled(),)
    lease_ledger: tuple[str, ...] = ("charges", "payments")
    """The streams Get Account Balance reads within one lease after reading the lease by id."""
    on_demand: tuple[Stream, ...] = ()
    """Streams no sync reads: read within one record on demand (a lease's transactions, for its balance now)."""

    def stream(self, name: str) -> Stream:
        return next(s for s in (*self.streams, *self.on_demand) if s.name == name)

    def stream_of(self, entity: str) -> Stream:
        return next(s for s in self.streams if entity in s.entities)

    def entities(self) -> list[str]:
        return [entity for stream in self.streams for entity in stream.entities]


INTEGRATION_DATA = frozenset({"source_data", "source_modified_at"})
"""What a sync refreshes on an entity that otherwise keeps the platform's values."""


CSV_IMPORT_RULES = RuleTable(
    source_system="csv-import",
    vendor="csv-file",
    streams=(),
    rules={"owner": EntityRule("owner"), "service_provider": EntityRule("service_provider")},
)
"""Owners and service providers come by CSV upload, not by sync: the file's values win on create and on update."""
