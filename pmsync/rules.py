"""Sync rules as data: per source system, what each entity syncs from, when it applies, what it may change."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from schemas.records import (
    BuildingRecord,
    Candidate,
    ChargeRecord,
    LeaseRecord,
    PaymentRecord,
    SourceRecord,
    UnitRecord,
    WorkOrderRecord,
)

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
    """A foreign key filled from a parent already on the platform; a missing required parent parks the record."""

    entity: str
    column: str
    required: bool = True
    resolve: str = "by_source_id"
    inherit: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AdoptByMarker:
    """A source record carrying a marker the platform wrote (a pushed work order's searchTag) is that platform row:
    it gets the record's source id instead of a duplicate being created (the push's answer may have been lost)."""

    fact: str
    column: str


@dataclass(frozen=True)
class EntityRule:
    """What a sync may do with one entity."""

    entity: str
    include: Inclusion = Always()
    parents: tuple[ParentLink, ...] = ()
    on_update: frozenset[str] = ALL_FIELDS
    adopt: AdoptByMarker | None = None
    comes_back_when_listed: bool = False

    def updatable(self, column: str) -> bool:
        return self.on_update is ALL_FIELDS or column in self.on_update


@dataclass(frozen=True)
class Stream:
    """One source listing and the entities its records become, parents first."""

    name: str
    path: str
    record: type[SourceRecord]
    entities: tuple[str, ...]
    list_params: Mapping[str, str] = field(default_factory=dict)
    readable_by_id: bool = True


@dataclass(frozen=True)
class RuleTable:
    """All sync rules of one source system; `vendor` is the kind of source account it reads (rule tables of one
    vendor read the same accounts: switching between them is not a new account)."""

    source_system: str
    streams: tuple[Stream, ...]
    rules: Mapping[str, EntityRule]
    vendor: str

    def stream(self, name: str) -> Stream:
        return next(s for s in self.streams if s.name == name)

    def stream_of(self, entity: str) -> Stream:
        return next(s for s in self.streams if entity in s.entities)

    def entities(self) -> list[str]:
        return [entity for stream in self.streams for entity in stream.entities]


INTEGRATION_DATA = frozenset({"source_data", "source_modified_at"})
MANAGER = {
    "assigned_manager_source_id": "manager_source_id",
    "assigned_manager_name": "manager_name",
    "assigned_manager_email": "manager_email",
}

PROPERTYWARE_STREAMS = (
    Stream("buildings", "/buildings", BuildingRecord, ("property",)),
    Stream("units", "/units", UnitRecord, ("unit",)),
    Stream("leases", "/leases", LeaseRecord, ("lease", "resident")),
    Stream("workorders", "/workorders", WorkOrderRecord, ("work_order",)),
    Stream("charges", "/leases/charges", ChargeRecord, ("charge",), readable_by_id=False),
    Stream("payments", "/leases/payments", PaymentRecord, ("payment",), readable_by_id=False),
)

PROPERTYWARE_RULES = RuleTable(
    source_system="propertyware",
    vendor="propertyware",
    streams=PROPERTYWARE_STREAMS,
    rules={
        "property": EntityRule("property", on_update=INTEGRATION_DATA),
        "unit": EntityRule(
            "unit",
            parents=(ParentLink("property", "property_id"),),
            on_update=INTEGRATION_DATA | {"property_id"},
            comes_back_when_listed=True,
        ),
        "lease": EntityRule(
            "lease",
            parents=(ParentLink("unit", "unit_id"), ParentLink("property", "property_id", required=False)),
        ),
        "resident": EntityRule(
            "resident",
            include=LivesOnActiveLease(),
            parents=(ParentLink("unit", "unit_id"), ParentLink("lease", "lease_id")),
            on_update=frozenset({"unit_id", "lease_id", "move_in_date", "move_out_date"}),
        ),
        "work_order": EntityRule(
            "work_order",
            include=ManagedByIntegrationUser(),
            parents=(
                ParentLink("property", "property_id", inherit=MANAGER),
                ParentLink("unit", "unit_id", required=False),
                ParentLink("resident", "resident_id", required=False, resolve="primary_resident_of_named_lease"),
            ),
            on_update=frozenset(),
            adopt=AdoptByMarker("search_tag", "push_marker"),
        ),
        "charge": EntityRule("charge", parents=(ParentLink("lease", "lease_id"),)),
        "payment": EntityRule("payment", parents=(ParentLink("lease", "lease_id"),)),
    },
)

CONTACT_UPDATING_RULES = replace(
    PROPERTYWARE_RULES,
    source_system="propertyware-contact-updates",
    rules={
        **PROPERTYWARE_RULES.rules,
        "resident": replace(
            PROPERTYWARE_RULES.rules["resident"],
            on_update=PROPERTYWARE_RULES.rules["resident"].on_update | {"first_name", "last_name", "email", "phone"},
        ),
    },
)
"""Like Condo Manager → Condo Control: syncs also refresh residents' names, e-mails and phones."""

RULE_TABLES: dict[str, RuleTable] = {table.source_system: table for table in (PROPERTYWARE_RULES, CONTACT_UPDATING_RULES)}

CSV_IMPORT_RULES = RuleTable(
    source_system="csv-import",
    vendor="csv-file",
    streams=(),
    rules={"owner": EntityRule("owner"), "service_provider": EntityRule("service_provider")},
)
"""Owners and service providers come by CSV upload, not by sync: the file's values win on create and on update."""
