"""Reconciliation's plain parts (no Prefect): listings, the guard, change targets, and changes made by hand."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, bindparam, exists, select, update
from sqlalchemy.engine import Connection

from pmsync.reconcile.reasons import DEACTIVATED, DELETED, REACTIVATED
from pmsync.journal import record as journal
from pmsync.platform.database import among
from pmsync.sync.rule_types import Stream
from pmsync.runs.bookkeeping import utc_now
from pmsync.source import SourcePage, SourceUnavailable
from pmsync.source.protocol import PresenceRecord
from schemas.entity_rows import rows_of
from schemas.tables import integrations, properties, property_logs, snapshot_deactivated_units, units



ListedRecord = PresenceRecord
"""Just enough of a listed unit or building to reconcile it (the source's presence listing reads into it)."""


class IncompleteListing(SourceUnavailable):
    """Retriable: a full listing did not hold still twice; nothing was deactivated, run again later."""


class MassDeactivationRefused(Exception):
    """Fatal until overridden: the run would deactivate too much; nothing was deactivated.

    `facts` holds what an alert may carry: what kind (units or properties), how many would go, of how many active."""

    def __init__(self, message: str, facts: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.facts = facts or {}


class NotOnPlatform(LookupError):
    """The integration, unit or property named is not on the platform; the message says which."""


class ChangeRefused(ValueError):
    """A change by hand that would contradict the platform's state; the message says what to do instead."""


@dataclass(frozen=True)
class MassGuard:
    """How much of an integration's active units (and properties) one run may deactivate without an override."""

    max_share: float = 0.2
    allowed: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.max_share <= 1:
            raise ValueError(f"max deactivation share must be between 0 and 1, got {self.max_share}")


@dataclass
class SourceListing:
    """What one scan of a full listing saw: the ids the source calls active, how many ids, every total reported."""

    stream: Stream
    active_ids: set[int] = field(default_factory=set)
    listed: int = 0
    totals: list[int] = field(default_factory=list)

    def add(self, page: SourcePage) -> None:
        """A page's ids; a record its model refused is listed all the same, and active unless it says otherwise."""
        self.totals.append(page.total)
        self.listed += len(page.records) + len(page.refused)
        self.active_ids.update(record.id for record in page.records if record.active is not False)
        self.active_ids.update(r.source_id for r in page.refused
                               if r.source_id is not None and not self.stream.record.says_inactive(r.raw))

    def problem(self, total_after: int) -> str | None:
        """Why the scan cannot be trusted (None when the ids fetched match X-Total-Count before, during and after)."""
        if set(self.totals) | {total_after} == {self.listed}:
            return None
        return (
            f"fetched {self.listed} ids but X-Total-Count said {self.totals[0] if self.totals else '?'} "
            f"at the start and {total_after} after the scan"
        )


@dataclass(frozen=True)
class Target:
    """A platform unit or property a run may change, with what its logs and the report show of it."""

    entity: str
    id: int
    source_id: int
    name: str | None
    property_id: int
    property_source_id: int
    property_name: str | None
    evidence: str | None = None
    request: str | None = None
    """The source's request that gave the evidence (e.g. "GET /units/12"), as the source names it."""

    def reason(self) -> str:
        asked = self.request or f"reading {self.entity} {self.source_id} by id"
        if self.evidence == DELETED:
            return f"deleted in source ({asked} answered 404)"
        return f"deactivated in source ({asked} says active: false)"

    def row(self) -> dict:
        row = {"property id": self.property_source_id, "property": self.property_name or ""}
        if rows_of(self.entity).table is units:
            row = {"unit id": self.source_id, "unit": self.name or "", **row}
        return {**row, "evidence": self.evidence or REACTIVATED}


@dataclass
class ReconciliationPlan:
    """What a run found: platform counts, and the units and properties to deactivate (confirmed) or reactivate."""

    source_active_units: int
    active_units: int
    active_properties: int
    gone_units: list[Target] = field(default_factory=list)
    back_units: list[Target] = field(default_factory=list)
    gone_properties: list[Target] = field(default_factory=list)
    back_properties: list[Target] = field(default_factory=list)
    mass_deactivation_allowed: bool = False

    source_active_by_entity: dict[str, int] = field(default_factory=dict)
    """Per unit entity (kind), how many of its units the source calls active (None: the single "unit" of the plan)."""

    @classmethod
    def combined(cls, plans: list[ReconciliationPlan]) -> ReconciliationPlan:
        """One plan of several kinds' plans (each kind compared with its own listings): counts summed, targets joined."""
        return cls(
            sum(p.source_active_units for p in plans), sum(p.active_units for p in plans),
            sum(p.active_properties for p in plans),
            [t for p in plans for t in p.gone_units], [t for p in plans for t in p.back_units],
            [t for p in plans for t in p.gone_properties], [t for p in plans for t in p.back_properties],
            any(p.mass_deactivation_allowed for p in plans),
            {entity: n for p in plans for entity, n in p.source_active_by_entity.items()},
        )

    def counts(self) -> dict[str, Counter]:
        """The run's counts per entity: each unit kind's active units listed (fetched), and what changed."""
        counts: dict[str, Counter] = {"unit": Counter(), "property": Counter()}
        for entity, listed in (self.source_active_by_entity or {"unit": self.source_active_units}).items():
            counts.setdefault(entity, Counter())["fetched"] += listed
        for target in [*self.gone_units, *self.back_units, *self.gone_properties, *self.back_properties]:
            counts.setdefault(target.entity, Counter())["updated"] += 1
        return counts

    def summary(self, **extra: object) -> dict:
        return {
            **extra,
            "deactivated_units": [t.row() for t in self.gone_units],
            "reactivated_units": [t.row() for t in self.back_units],
            "deactivated_properties": [t.row() for t in self.gone_properties],
            "reactivated_properties": [t.row() for t in self.back_properties],
        }


def log_row(target: Target, event: str, message: str, run_id: int | None, now: datetime) -> dict[str, Any]:
    """A property_logs row on the target's property."""
    return {"property_id": target.property_id, "logged_at": now, "event": event, "message": message, "run_id": run_id}


def set_active(connection: Connection, table: Table, targets: list[Target], active: bool, now: datetime, run_id: int | None) -> None:
    """Activate or deactivate the targets (deactivation stores the time and the target's reason); a run's changes are
    journaled (a change by hand, with no run, is logged on its property only)."""
    if not targets:
        return
    values: dict[str, Any] = {
        "active": active, "updated_at": now, "deactivated_at": bindparam("b_at"), "deactivation_reason": bindparam("b_reason"),
    }
    if run_id is not None:
        values["last_sync_run_id"] = run_id
    connection.execute(
        update(table).where(table.c.id == bindparam("b_id")).values(values),
        [{"b_id": t.id, "b_at": None if active else now, "b_reason": None if active else t.reason()} for t in targets],
    )
    if run_id is not None:
        action = journal.REACTIVATED if active else journal.DEACTIVATED
        journal.record(connection, run_id, journal.integration_of_run(connection, run_id), now,
                       [journal.entry(t.entity, t.source_id, action) for t in targets])


def reactivate_listed_units(
    connection: Connection, integration_id: int, source_ids: list[int], run_id: int, now: datetime, entity: str = "unit"
) -> int:
    """Units (of `entity`'s kind) a reconciliation deactivated that a sync sees listed again come back, unless their
    property was disabled by hand; each is logged on its property. How many came back."""
    deactivated_by_reconciliation = exists().where(snapshot_deactivated_units.c.unit_id == units.c.id)
    if not source_ids:
        return 0
    query = select(
        units.c.id, units.c.source_id, units.c.name, units.c.property_id,
        properties.c.source_id.label("property_source_id"), properties.c.name.label("property_name"),
    ).join(properties, properties.c.id == units.c.property_id).where(
        rows_of(entity).mine(integration_id), among(connection, units.c.source_id, source_ids),
        units.c.active.is_(False), deactivated_by_reconciliation, properties.c.manually_disabled.is_(False),
    )
    back = [Target(entity, **row._asdict()) for row in connection.execute(query)]
    set_active(connection, units, back, True, now, run_id)
    if back:
        connection.execute(property_logs.insert(), [
            log_row(t, "unit_reactivated", f"unit {t.source_id} {t.name!r} reactivated by sync run {run_id}: {REACTIVATED}", run_id, now)
            for t in back
        ])
    return len(back)


def integration_id_of(connection: Connection, name: str) -> int:
    found = connection.execute(select(integrations.c.id).where(integrations.c.name == name)).scalar_one_or_none()
    if found is None:
        raise NotOnPlatform(f"no sync has run for integration {name!r} yet; run `pmsync sync initial` first")
    return found


def _one(connection: Connection, query, entity: str, source_id: int, integration: str) -> Any:
    row = connection.execute(query).one_or_none()
    if row is None:
        raise NotOnPlatform(f"{entity} {source_id} is not on the platform for integration {integration!r}; check the source id")
    return row


def reactivate_unit_by_hand(engine: Engine, integration: str, source_id: int) -> str:
    """Undo a unit's deactivation in one step, logged on its property; refused under a manually disabled property."""
    with engine.begin() as connection:
        integration_id = integration_id_of(connection, integration)
        row = _one(connection, select(
            units.c.id, units.c.source_id, units.c.name, units.c.property_id, units.c.active,
            properties.c.source_id.label("property_source_id"), properties.c.name.label("property_name"),
            properties.c.manually_disabled,
        ).join(properties, properties.c.id == units.c.property_id).where(
            rows_of("unit").mine(integration_id), units.c.source_id == source_id
        ), "unit", source_id, integration)
        if row.active:
            raise ChangeRefused(f"unit {source_id} is already active; nothing to undo")
        if row.manually_disabled:
            raise ChangeRefused(
                f"unit {source_id} belongs to property {row.property_source_id}, which was disabled by hand; "
                f"run `pmsync property enable {row.property_source_id}` first"
            )
        target = Target("unit", row.id, row.source_id, row.name, row.property_id, row.property_source_id, row.property_name)
        now = utc_now()
        set_active(connection, units, [target], True, now, None)
        message = f"unit {source_id} {row.name!r} reactivated by hand (pmsync unit reactivate)"
        connection.execute(property_logs.insert().values(log_row(target, "unit_reactivated_by_hand", message, None, now)))
    return message


def set_property_disabled_by_hand(engine: Engine, integration: str, source_id: int, disabled: bool) -> str:
    """Disable a property on the platform (no sync or reconciliation reactivates it), or enable it again; logged."""
    with engine.begin() as connection:
        integration_id = integration_id_of(connection, integration)
        row = _one(connection, select(properties.c.id, properties.c.name, properties.c.manually_disabled).where(
            rows_of("property").mine(integration_id), properties.c.source_id == source_id
        ), "property", source_id, integration)
        if row.manually_disabled == disabled:
            raise ChangeRefused(f"property {source_id} is already {'disabled' if disabled else 'enabled'} by hand")
        now = utc_now()
        verb = "disabled" if disabled else "enabled"
        connection.execute(update(properties).where(properties.c.id == row.id).values(
            manually_disabled=disabled, active=not disabled, updated_at=now,
            deactivated_at=now if disabled else None,
            deactivation_reason="disabled by hand on the platform" if disabled else None,
        ))
        message = f"property {source_id} {row.name!r} {verb} by hand (pmsync property {'disable' if disabled else 'enable'})"
        connection.execute(property_logs.insert().values(
            property_id=row.id, logged_at=now, event=f"property_{verb}_by_hand", message=message, run_id=None
        ))
    return message
