"""Push: send the platform's work-order changes to the source in order, retried without duplicates, each outcome kept."""

from __future__ import annotations

import time
from itertools import takewhile
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE
from sqlalchemy import Engine, or_, select, update
from sqlalchemy.engine import Row

from pmsync.integrations import Integration
from pmsync.platform import make_engine, migrate
from pmsync.runs import ensure_integration, utc_now
from pmsync.settings import PlatformSettings
from pmsync.source import SourceError, SourceRequestRejected, SourceUnavailable
from pmsync.source.workorders import WorkOrderWriter
from pmsync.workorders import WorkOrderNotFound, retry_failed_changes
from schemas.tables import properties, residents, units, work_order_changes, work_orders

CLAIM = timedelta(minutes=10)
LOOKBACK = timedelta(minutes=10)


@dataclass(frozen=True)
class PushTarget:
    """Where a push reads the changes and where it sends them."""

    integration: str
    integration_id: int
    engine: Engine
    writer: WorkOrderWriter
    attempts: int
    backoff_seconds: float


@dataclass(frozen=True)
class Sent:
    """How one change ended this time: `status` sent, failed (the source refused it) or pending (try again later)."""

    status: str
    source_id: int | None = None
    error: str | None = None
    adopted: bool = False


@task(name="open_push", cache_policy=NONE, persist_result=False)
def open_push(integration: Integration, platform: PlatformSettings) -> PushTarget:
    engine = make_engine(platform.database_url)
    migrate(engine)
    with engine.begin() as connection:
        integration_id = ensure_integration(connection, integration)
    writer = WorkOrderWriter(integration.open_client())
    return PushTarget(integration.name, integration_id, engine, writer, integration.max_attempts, integration.backoff_seconds)


@task(name="select_work_orders_to_push", cache_policy=NONE, persist_result=False)
def select_work_orders_to_push(target: PushTarget, work_order_id: int | None, retry_failed: bool) -> list[int]:
    """One work order ("Sync Now": its failed changes are queued again), or every one with pending changes and none
    failed (a refused change waits for someone to fix its cause and press Sync Now; the sweep never resends it)."""
    if work_order_id is not None:
        with target.engine.connect() as connection:
            owner = connection.execute(select(work_orders.c.integration_id).where(work_orders.c.id == work_order_id)).scalar()
        if owner != target.integration_id:
            raise WorkOrderNotFound(f"no work order {work_order_id} in integration {target.integration!r}")
        if retry_failed:
            retry_failed_changes(target.engine, work_order_id)
        return [work_order_id]
    failed = select(work_order_changes.c.work_order_id).where(work_order_changes.c.status == "failed")
    query = (
        select(work_order_changes.c.work_order_id)
        .join(work_orders, work_orders.c.id == work_order_changes.c.work_order_id)
        .where(
            work_orders.c.integration_id == target.integration_id,
            work_order_changes.c.status == "pending",
            work_order_changes.c.work_order_id.not_in(failed),
        )
        .group_by(work_order_changes.c.work_order_id)
        .order_by(work_order_changes.c.work_order_id)
    )
    with target.engine.connect() as connection:
        return list(connection.execute(query).scalars())


@task(name="push_work_orders", cache_policy=NONE, persist_result=False)
def push_work_orders(target: PushTarget, work_order_ids: list[int]) -> list[dict[str, Any]]:
    """Each work order's pending changes, oldest first; a change that does not go through holds back the later ones."""
    logger = get_run_logger()
    outcomes = []
    for work_order_id in work_order_ids:
        outcome = push_work_order(target, work_order_id)
        logger.info("work order %s: %s%s", work_order_id, outcome["sync_status"],
                    f" ({outcome['error']})" if outcome["error"] else "")
        outcomes.append(outcome)
    return outcomes


@task(name="publish_push_summary", cache_policy=NONE, persist_result=False)
def publish_push_summary(target: PushTarget, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(outcome["sync_status"] for outcome in outcomes)
    if outcomes:
        create_table_artifact(
            key=f"work-order-push-{target.integration}".lower().replace("_", "-"),
            table=[{key: str(value) for key, value in outcome.items()} for outcome in outcomes],
            description=f"Work-order push of {target.integration}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
        )
    return {"integration": target.integration, "work_orders": outcomes, **{status: counts[status] for status in counts}}


def push_work_order(target: PushTarget, work_order_id: int) -> dict[str, Any]:
    """Send one work order's pending changes unless another push holds it; its status afterwards."""
    if not _claim(target.engine, work_order_id):
        return _status(target.engine, work_order_id, busy=True)
    try:
        for change in _pending_changes(target.engine, work_order_id):
            work_order = _work_order(target.engine, work_order_id)
            looked_before = change.attempts > 0
            _begin_attempt(target.engine, change.id, work_order_id)
            try:
                result = _send(target, work_order, change, looked_before)
            except SourceError as unexpected:
                _record(target.engine, change, Sent("pending", error=str(unexpected)))
                raise
            _record(target.engine, change, result)
            if result.status != "sent":
                break
    finally:
        _settle(target.engine, work_order_id)
    return _status(target.engine, work_order_id)


def _send(target: PushTarget, work_order: Row, change: Row, look_first: bool) -> Sent:
    """One change, retried with backoff; before any resend, look for what an unanswered attempt may have made."""
    if change.kind == "create" and work_order.source_id is not None:
        return Sent("sent", work_order.source_id, adopted=True)
    if change.kind != "create" and work_order.source_id is None:
        return Sent("pending", error="waiting for the work order to be created in the source")
    problem = ""
    for attempt in range(1, target.attempts + 1):
        try:
            found = _look_for(target.writer, work_order, change) if look_first else None
            if found is not None:
                return Sent("sent", found, adopted=True)
            return Sent("sent", _write(target.writer, work_order, change))
        except SourceRequestRejected as rejected:
            return Sent("failed", error=str(rejected))
        except SourceUnavailable as unavailable:
            problem, look_first = str(unavailable), True
        if attempt < target.attempts:
            time.sleep(min(target.backoff_seconds * 2 ** (attempt - 1), 30.0))
    return Sent("pending", error=f"{problem}; the next push retries it")


def _write(writer: WorkOrderWriter, work_order: Row, change: Row) -> int | None:
    payload = change.payload
    if change.kind == "create":
        return writer.create(_creation_body(work_order, change.marker))
    if change.kind in ("note", "progress"):
        return writer.add_task(work_order.source_id, payload["text"], change.marker)
    if change.kind == "close":
        writer.close(work_order.source_id, payload.get("completed_on"), payload.get("comments"))
        return None
    if change.kind == "custom_fields":
        writer.set_custom_fields(work_order.source_id, payload["fields"])
        return None
    raise ValueError(f"work-order change {change.id} has unknown kind {change.kind!r}")


def _look_for(writer: WorkOrderWriter, work_order: Row, change: Row) -> int | None:
    """Creations and tasks carry the change's marker; close and custom fields are safe to send twice."""
    if change.kind == "create":
        return writer.find_by_search_tag(work_order.building_source_id, change.marker, change.created_at - LOOKBACK)
    if change.kind in ("note", "progress"):
        return writer.find_task_by_tag(work_order.source_id, change.marker)
    return None


def _creation_body(work_order: Row, marker: str) -> dict[str, Any]:
    """A SaveWorkOrder body: the building is required; the marker goes in searchTag."""
    body: dict[str, Any] = {
        "buildingID": work_order.building_source_id,
        "description": work_order.description,
        "priority": work_order.priority,
        "category": work_order.category,
        "type": work_order.type,
        "searchTag": marker,
        "source": "Internal",
    }
    if work_order.unit_source_id is not None:
        body["unitIDs"] = [work_order.unit_source_id]
    if work_order.resident_source_id is not None:
        body["requestedBy"] = work_order.resident_source_id
    return {key: value for key, value in body.items() if value is not None}


def _claim(engine: Engine, work_order_id: int) -> bool:
    now = utc_now()
    with engine.begin() as connection:
        return connection.execute(
            update(work_orders)
            .where(
                work_orders.c.id == work_order_id,
                or_(work_orders.c.push_claimed_until.is_(None), work_orders.c.push_claimed_until < now),
            )
            .values(push_claimed_until=now + CLAIM)
        ).rowcount == 1


def _pending_changes(engine: Engine, work_order_id: int) -> list[Row]:
    """The unsent changes up to the first failed one: a refused change holds back those made after it."""
    query = (
        select(work_order_changes)
        .where(work_order_changes.c.work_order_id == work_order_id, work_order_changes.c.status != "sent")
        .order_by(work_order_changes.c.id)
    )
    with engine.connect() as connection:
        return list(takewhile(lambda change: change.status == "pending", connection.execute(query)))


def _work_order(engine: Engine, work_order_id: int) -> Row:
    query = (
        select(
            work_orders,
            properties.c.source_id.label("building_source_id"),
            units.c.source_id.label("unit_source_id"),
            residents.c.source_id.label("resident_source_id"),
        )
        .join(properties, properties.c.id == work_orders.c.property_id)
        .outerjoin(units, units.c.id == work_orders.c.unit_id)
        .outerjoin(residents, residents.c.id == work_orders.c.resident_id)
        .where(work_orders.c.id == work_order_id)
    )
    with engine.connect() as connection:
        return connection.execute(query).one()


def _begin_attempt(engine: Engine, change_id: int, work_order_id: int) -> None:
    """Counted before the request leaves: if this process dies mid-request, the next push looks before resending."""
    now = utc_now()
    with engine.begin() as connection:
        connection.execute(
            update(work_order_changes)
            .where(work_order_changes.c.id == change_id)
            .values(attempts=work_order_changes.c.attempts + 1, last_attempt_at=now)
        )
        connection.execute(update(work_orders).where(work_orders.c.id == work_order_id).values(last_push_attempt_at=now))


def _record(engine: Engine, change: Row, result: Sent) -> None:
    now = utc_now()
    with engine.begin() as connection:
        connection.execute(
            update(work_order_changes)
            .where(work_order_changes.c.id == change.id)
            .values(
                status=result.status,
                last_error=result.error,
                source_result_id=result.source_id,
                sent_at=now if result.status == "sent" else None,
            )
        )
        if change.kind == "create" and result.status == "sent":
            connection.execute(
                update(work_orders)
                .where(work_orders.c.id == change.work_order_id, work_orders.c.source_id.is_(None))
                .values(source_id=result.source_id, updated_at=now)
            )


def _settle(engine: Engine, work_order_id: int) -> None:
    """The work order's sync status from its changes (failed > pending > synced); the claim is released."""
    with engine.begin() as connection:
        changes = connection.execute(
            select(work_order_changes.c.status, work_order_changes.c.last_error)
            .where(work_order_changes.c.work_order_id == work_order_id)
            .order_by(work_order_changes.c.id)
        ).all()
        statuses = {change.status for change in changes}
        sync_status = next((s for s in ("failed", "pending") if s in statuses), "synced")
        error = next((c.last_error for c in changes if c.status == sync_status and c.last_error), None)
        connection.execute(
            update(work_orders)
            .where(work_orders.c.id == work_order_id)
            .values(sync_status=sync_status, sync_error=error, push_claimed_until=None)
        )


def _status(engine: Engine, work_order_id: int, busy: bool = False) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(
            select(work_orders.c.source_id, work_orders.c.sync_status, work_orders.c.sync_error, work_orders.c.last_push_attempt_at)
            .where(work_orders.c.id == work_order_id)
        ).one()
    return {
        "id": work_order_id,
        "source_id": row.source_id,
        "sync_status": "busy" if busy else row.sync_status,
        "error": "another push is sending this work order right now" if busy else row.sync_error,
        "last_attempt_at": row.last_push_attempt_at,
    }
