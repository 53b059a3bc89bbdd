"""What a work-order push reads and records on the platform: the changes to send, attempts, outcomes, the status."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import takewhile
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Row

from pmsync.platform.durable_commits import durable_transaction
from pmsync.push.claims import PushClaim, fence, release
from pmsync.runs.bookkeeping import add_counts, utc_now
from pmsync.push.workorders import retry_failed_changes
from schemas.tables import properties, residents, units, work_order_changes, work_orders


@dataclass(frozen=True)
class Sent:
    """How one change ended this time: `status` sent, failed (the source refused it) or pending (try again later)."""

    status: str
    source_id: int | None = None
    error: str | None = None
    adopted: bool = False


def pending_changes(engine: Engine, work_order_id: int) -> list[Row]:
    """The unsent changes up to the first failed one: a refused change holds back those made after it."""
    query = (
        select(work_order_changes)
        .where(work_order_changes.c.work_order_id == work_order_id, work_order_changes.c.status != "sent")
        .order_by(work_order_changes.c.id)
    )
    with engine.connect() as connection:
        return list(takewhile(lambda change: change.status == "pending", connection.execute(query)))


def work_order_for_push(engine: Engine, work_order_id: int) -> Row:
    query = (
        select(
            work_orders,
            properties.c.source_id.label("building_source_id"),
            properties.c.kind.label("building_kind"),
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


def requeue_failed(engine: Engine, held: PushClaim) -> int:
    """Sync Now: the work order's refused changes back in the queue, under the push's claim; how many."""
    with engine.begin() as connection:
        fence(connection, held)
        return retry_failed_changes(connection, held.work_order_id)


def begin_attempt(engine: Engine, held: PushClaim, change_id: int) -> None:
    """Counted before the request leaves, and on disk before it does: if this process dies mid-request, or the machine
    loses power, the next push finds the attempt and looks before resending."""
    now = utc_now()
    with durable_transaction(engine) as connection:
        fence(connection, held)
        connection.execute(
            update(work_order_changes)
            .where(work_order_changes.c.id == change_id)
            .values(attempts=work_order_changes.c.attempts + 1, last_attempt_at=now)
        )
        connection.execute(update(work_orders).where(work_orders.c.id == held.work_order_id).values(last_push_attempt_at=now))


def record_outcome(engine: Engine, held: PushClaim, change: Row, result: Sent) -> None:
    now = utc_now()
    with engine.begin() as connection:
        fence(connection, held)
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


def settle(engine: Engine, held: PushClaim) -> None:
    """The work order's sync status from its changes (failed > pending > synced), set as the claim is released."""
    with engine.begin() as connection:
        fence(connection, held)
        changes = connection.execute(
            select(work_order_changes.c.status, work_order_changes.c.last_error)
            .where(work_order_changes.c.work_order_id == held.work_order_id)
            .order_by(work_order_changes.c.id)
        ).all()
        statuses = {change.status for change in changes}
        sync_status = next((s for s in ("failed", "pending") if s in statuses), "synced")
        error = next((c.last_error for c in changes if c.status == sync_status and c.last_error), None)
        connection.execute(
            update(work_orders).where(work_orders.c.id == held.work_order_id).values(sync_status=sync_status, sync_error=error)
        )
        release(connection, held)


def push_status(engine: Engine, work_order_id: int, busy: str | None = None) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(
            select(work_orders.c.source_id, work_orders.c.sync_status, work_orders.c.sync_error, work_orders.c.last_push_attempt_at)
            .where(work_orders.c.id == work_order_id)
        ).one()
    return {
        "id": work_order_id,
        "source_id": row.source_id,
        "sync_status": "busy" if busy else row.sync_status,
        "error": busy or row.sync_error,
        "last_attempt_at": row.last_push_attempt_at,
    }


def count_pushed(engine: Engine, run_id: int | None, counts: Counter) -> None:
    """Add work orders pushed to the push run's counts (entity work_order); a push that is no run counts nothing."""
    if run_id is not None and counts:
        with engine.begin() as connection:
            add_counts(connection, run_id, {"work_order": counts})
