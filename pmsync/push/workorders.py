"""Work orders made or changed on the platform: the functions a CLI or web form calls, and their push status."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, select, update

from pmsync.runs.bookkeeping import utc_now
from schemas.entity_rows import rows_of
from schemas.tables import integrations, properties, residents, units, work_order_changes, work_orders

PRIORITIES = ("HIGH", "MEDIUM", "LOW")
EDITABLE = ("title", "description", "priority", "status", "category", "type")
CHANGE_KINDS = ("create", "note", "progress", "close", "custom_fields")


class WorkOrderNotFound(LookupError):
    """No such work order on the platform: check the id (`pmsync workorder show ID`)."""


class WorkOrderElsewhere(WorkOrderNotFound):
    """The work order named belongs to another integration than the one named: the message says which to name."""


class InvalidWorkOrder(ValueError):
    """The work order cannot be saved as given; the message names the field and what to change."""


@dataclass(frozen=True)
class ChangeStatus:
    """One change and how its push went."""

    id: int
    kind: str
    status: str
    attempts: int
    last_attempt_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class WorkOrderStatus:
    """What `pmsync workorder show` prints."""

    id: int
    integration: str
    source_id: int | None
    description: str | None
    priority: str | None
    status: str | None
    sync_status: str | None
    sync_error: str | None
    last_push_attempt_at: datetime | None
    changes: list[ChangeStatus]


def _marker(kind: str) -> str:
    return f"pmsync-{kind}-{uuid.uuid4().hex[:16]}"


def _add_change(connection: Connection, work_order_id: int, kind: str, payload: dict[str, Any], marker: str | None = None) -> None:
    connection.execute(
        work_order_changes.insert().values(
            work_order_id=work_order_id, kind=kind, payload=payload, marker=marker or _marker(kind[:4]),
            status="pending", created_at=utc_now(),
        )
    )
    connection.execute(update(work_orders).where(work_orders.c.id == work_order_id).values(sync_status="pending"))


def _check_priority(priority: str | None) -> str | None:
    if priority is not None and priority.upper() not in PRIORITIES:
        raise InvalidWorkOrder(f"priority {priority!r} is not one of {', '.join(PRIORITIES)}")
    return priority.upper() if priority else None


def create_work_order(
    engine: Engine,
    integration: str,
    *,
    property_id: int,
    description: str,
    unit_id: int | None = None,
    resident_id: int | None = None,
    priority: str = "MEDIUM",
    category: str | None = None,
    type: str | None = None,
) -> int:
    """Save a new work order on the platform and queue its creation in the source; its platform id."""
    if not description.strip():
        raise InvalidWorkOrder("description is empty; say what needs doing")
    with engine.begin() as connection:
        found = connection.execute(
            select(integrations.c.id, integrations.c.integration_user, properties.c.active, properties.c.source_id)
            .join(properties, properties.c.integration_id == integrations.c.id)
            .where(integrations.c.name == integration, properties.c.id == property_id)
        ).first()
        if found is None:
            raise InvalidWorkOrder(f"property {property_id} is not a property of integration {integration!r}")
        if not found.active:
            raise InvalidWorkOrder(f"property {found.source_id} is deactivated; choose an active property")
        if unit_id is not None and connection.execute(
            select(units.c.id).where(units.c.id == unit_id, units.c.property_id == property_id)
        ).first() is None:
            raise InvalidWorkOrder(f"unit {unit_id} is not a unit of property {property_id}")
        if resident_id is not None and connection.execute(
            select(residents.c.id).where(residents.c.id == resident_id, residents.c.integration_id == found.id)
        ).first() is None:
            raise InvalidWorkOrder(f"resident {resident_id} is not a resident of integration {integration!r}")
        now, marker = utc_now(), _marker("wo")
        work_order_id = connection.execute(
            work_orders.insert().values(
                integration_id=found.id, property_id=property_id, unit_id=unit_id, resident_id=resident_id,
                description=description.strip(), priority=_check_priority(priority), category=category, type=type,
                status="Open", managed_by=found.integration_user, origin="platform", push_marker=marker,
                active=True, created_at=now, updated_at=now,
            )
        ).inserted_primary_key[0]
        _add_change(connection, work_order_id, "create", {}, marker)
    return work_order_id


def update_work_order(
    engine: Engine,
    work_order_id: int,
    *,
    integration: str | None = None,
    note: str | None = None,
    complete: bool = False,
    completed_on: date | None = None,
    completion_comment: str | None = None,
    custom_fields: dict[str, str] | None = None,
    **fields: str | None,
) -> int:
    """Change a work order on the platform and queue each change for the source; how many changes were queued.

    Before the source has it, edited fields simply go into the creation. After, they are one progress change naming
    the fields: a source that updates fields (pmsync.source.protocol.WorkOrderUpdater) gets their values then current,
    any other a progress task ("priority: MEDIUM → HIGH"); a note goes as a task,
    completion through close, custom fields through the custom-field endpoint. With `integration`, a work order of
    another integration is refused (WorkOrderNotFound) and nothing is queued.
    """
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise InvalidWorkOrder(f"cannot edit {', '.join(sorted(unknown))}; editable: {', '.join(EDITABLE)}")
    if "priority" in fields:
        fields["priority"] = _check_priority(fields["priority"])
    with engine.begin() as connection:
        row = connection.execute(
            select(work_orders, integrations.c.name.label("integration_name"))
            .join(integrations, integrations.c.id == work_orders.c.integration_id)
            .where(work_orders.c.id == work_order_id)
        ).first()
        if row is None:
            raise WorkOrderNotFound(f"no work order {work_order_id} on the platform")
        if integration is not None and row.integration_name != integration:
            raise WorkOrderNotFound(
                f"work order {work_order_id} belongs to integration {row.integration_name!r}, not {integration!r}; "
                "nothing was changed: name its own integration"
            )
        creation_pending = connection.execute(
            select(work_order_changes.c.id).where(
                work_order_changes.c.work_order_id == work_order_id, work_order_changes.c.kind == "create",
                work_order_changes.c.status != "sent",
            )
        ).first() is not None
        changed = {name: value for name, value in fields.items() if value is not None and getattr(row, name) != value}
        queued = 0
        values: dict[str, Any] = {**changed, "updated_at": utc_now()}
        if changed and not creation_pending:
            lines = [f"{name}: {getattr(row, name) or '(none)'} → {value}" for name, value in changed.items()]
            _add_change(connection, work_order_id, "progress",
                        {"text": "Changed on the platform: " + "; ".join(lines), "fields": sorted(changed)})
            queued += 1
        if note and note.strip():
            _add_change(connection, work_order_id, "note", {"text": note.strip()})
            queued += 1
        if custom_fields:
            values["custom_fields"] = {**(row.custom_fields or {}), **custom_fields}
            _add_change(connection, work_order_id, "custom_fields", {"fields": custom_fields})
            queued += 1
        if complete and row.status != "Closed":
            values["status"] = "Closed"
            on = (completed_on or utc_now().date()).isoformat()
            _add_change(connection, work_order_id, "close", {"completed_on": on, "comments": completion_comment})
            queued += 1
        connection.execute(update(work_orders).where(work_orders.c.id == work_order_id).values(**values))
    return queued


PLATFORM_NUMBER = re.compile(r"(?i)WO-([0-9]{1,19})")
"""A work order's platform number as commands print it, `WO-<n>`: the one name of a work order made on the platform
that the source has no id for yet (a Propertyware id is a plain number)."""
REFERENCE_HELP = (
    "The work order's Propertyware id (as `pmsync workorder list` prints it), or WO-<n>, its platform number, for one "
    "not in the source yet."
)


def platform_number(work_order_id: int) -> str:
    return f"WO-{work_order_id}"


def work_order_reference(work_order_id: int, source_id: int | None) -> str:
    """How commands name a work order: its Propertyware id once the source has it, else its platform number."""
    return str(source_id) if source_id is not None else platform_number(work_order_id)


def is_reference(text: str) -> bool:
    """Whether `text` is a work order's Propertyware id (digits) or platform number (WO-<n>), from 1 to the largest
    id the platform stores."""
    number = PLATFORM_NUMBER.fullmatch(text.strip())
    digits = number.group(1) if number else text.strip()
    return bool(re.fullmatch(r"[0-9]{1,19}", digits)) and 1 <= int(digits) <= 2**63 - 1


def find_work_order(engine: Engine, integration: str, reference: str) -> int:
    """The platform id of the work order of `integration` that `reference` names (`is_reference`); WorkOrderNotFound
    naming the kind of id wanted, or WorkOrderElsewhere naming the integration(s) that have it."""
    text = reference.strip()
    number = PLATFORM_NUMBER.fullmatch(text)
    column, value = (work_orders.c.id, int(number.group(1))) if number else (work_orders.c.source_id, int(text))
    with engine.connect() as connection:
        found = connection.execute(
            select(work_orders.c.id, integrations.c.name).join(integrations, integrations.c.id == work_orders.c.integration_id)
            .where(column == value).order_by(integrations.c.name)
        ).all()
    own = [row.id for row in found if row.name == integration]
    if own:
        return own[0]
    kind = f"platform number {platform_number(value)}" if number else f"Propertyware id {value}"
    if found:
        names = ", ".join(repr(row.name) for row in found)
        raise WorkOrderElsewhere(f"work order {kind} belongs to integration {names}, not {integration!r}; "
                                 f"add --integration {found[0].name}")
    raise WorkOrderNotFound(f"no work order with {kind} in integration {integration!r}; give its Propertyware id as "
                            "`pmsync workorder list` prints it, or WO-<n> for one not in the source yet")


def platform_places(
    engine: Engine, integration: str, *, property_source_id: int, unit_source_id: int | None = None,
    resident_source_id: int | None = None,
) -> dict[str, int | None]:
    """The platform ids of the property, unit and resident named by their Propertyware ids (as `create_work_order`
    takes them); InvalidWorkOrder naming the id that matches nothing and the kind it wanted."""
    found: dict[str, int | None] = {"property_id": None, "unit_id": None, "resident_id": None}
    with engine.connect() as connection:
        for key, table, source_id, option in (
            ("property_id", properties, property_source_id, "--property"), ("unit_id", units, unit_source_id, "--unit"),
            ("resident_id", residents, resident_source_id, "--resident"),
        ):
            if source_id is None:
                continue
            entity = key.removesuffix("_id")
            row = connection.execute(
                select(table).join(integrations, integrations.c.id == table.c.integration_id)
                .where(integrations.c.name == integration, table.c.source_id == source_id, *rows_of(entity).of_kind())
            ).first() if 0 <= source_id <= 2**63 - 1 else None
            if row is None:
                raise InvalidWorkOrder(
                    f"no {entity} with Propertyware id {source_id} in integration {integration!r}; {option} takes the "
                    f"{entity}'s Propertyware id (the id `pmsync explain {entity} ID` takes), not a platform row id"
                )
            if entity == "unit" and row.property_id != found["property_id"]:
                raise InvalidWorkOrder(f"unit {source_id} is not a unit of property {property_source_id} (Propertyware ids)")
            found[key] = row.id
    return found


def retry_failed_changes(connection: Connection, work_order_id: int) -> int:
    """Put a work order's failed changes back in the queue ("Sync Now" after the cause is fixed); how many. Called in
    the transaction of a push that holds the work order's claim (pmsync.push.ledger.requeue_failed), so no other push
    is sending them, or deciding the work order's status from them, meanwhile."""
    return connection.execute(
        update(work_order_changes)
        .where(and_(work_order_changes.c.work_order_id == work_order_id, work_order_changes.c.status == "failed"))
        .values(status="pending")
    ).rowcount


def work_order_status(engine: Engine, work_order_id: int) -> WorkOrderStatus:
    with engine.connect() as connection:
        row = connection.execute(
            select(work_orders, integrations.c.name.label("integration_name"))
            .join(integrations, integrations.c.id == work_orders.c.integration_id)
            .where(work_orders.c.id == work_order_id)
        ).first()
        if row is None:
            raise WorkOrderNotFound(f"no work order {work_order_id} on the platform")
        changes = connection.execute(
            select(work_order_changes).where(work_order_changes.c.work_order_id == work_order_id).order_by(work_order_changes.c.id)
        ).all()
    return WorkOrderStatus(
        id=row.id, integration=row.integration_name, source_id=row.source_id, description=row.description,
        priority=row.priority, status=row.status, sync_status=row.sync_status, sync_error=row.sync_error,
        last_push_attempt_at=row.last_push_attempt_at,
        changes=[ChangeStatus(c.id, c.kind, c.status, c.attempts, c.last_attempt_at, c.last_error) for c in changes],
    )
