"""Work-order push, the library side: the platform's changes sent to the source in order, retried without duplicates."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, func, select
from sqlalchemy.engine import Row

from pmsync.push.claims import ClaimHeartbeat, ClaimLost, PushClaim, claim
from pmsync.push.ledger import (
    Sent, begin_attempt, count_pushed, pending_changes, push_status, record_outcome, requeue_failed, settle,
    work_order_for_push,
)
from pmsync.settings import PlatformSettings
from pmsync.source import SourceError, SourceRequestRejected, SourceUnavailable
from pmsync.source.protocol import WorkOrderUpdater, WorkOrderWriter
from pmsync.sync.scope import SyncSession
from pmsync.push.workorders import WorkOrderNotFound
from schemas.tables import integrations, work_order_changes, work_orders

log = logging.getLogger("pmsync.push")

LOOKBACK = timedelta(minutes=10)


class PushNotSupported(Exception):
    """Fatal: the integration's source takes no work-order write-back; nothing was sent."""


@dataclass(frozen=True)
class PushTarget:
    """Where a push reads the changes and where it sends them."""

    integration: str
    integration_id: int
    engine: Engine
    writer: WorkOrderWriter
    attempts: int
    backoff_seconds: float
    claim_lease: timedelta
    run_id: int | None = None


def push_target(session: SyncSession, platform: PlatformSettings) -> PushTarget:
    """Where the push run of `session` reads the changes and where it sends them (and counts them, when it is a run)."""
    integration = session.integration
    writer = session.source.work_orders()
    if writer is None:
        raise PushNotSupported(f"integration {integration.name!r} reads {integration.source_system}, which takes no "
                               "work-order write-back; its work orders stay on the platform")
    return PushTarget(
        integration.name, session.integration_id, session.engine, writer,
        integration.max_attempts, integration.backoff_seconds, timedelta(minutes=platform.push_claim_minutes),
        session.run_id,
    )


def select_work_orders_to_push(target: PushTarget, work_order_id: int | None) -> list[int]:
    """One work order of the integration, or every one with pending changes and none failed (a refused change waits for
    someone to fix its cause and press Sync Now; the sweep never resends it)."""
    if work_order_id is not None:
        with target.engine.connect() as connection:
            owner = connection.execute(select(work_orders.c.integration_id).where(work_orders.c.id == work_order_id)).scalar()
        if owner != target.integration_id:
            raise WorkOrderNotFound(f"no work order {work_order_id} in integration {target.integration!r}")
        return [work_order_id]
    with target.engine.connect() as connection:
        return list(connection.execute(_sweepable(work_orders.c.integration_id == target.integration_id)).scalars())


def count_sweepable(engine: Engine, integration: str) -> int:
    """How many work orders of the integration named `integration` a sweep would push now (0 for an integration the
    platform does not know): one cheap query, for a run that starts a sweep only when there is something to push."""
    owned = work_orders.c.integration_id.in_(select(integrations.c.id).where(integrations.c.name == integration))
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(_sweepable(owned).subquery())).scalar_one()


def _sweepable(owned: ColumnElement[bool]) -> Select:
    """The work orders (`owned`) with pending changes and none failed, by id."""
    failed = select(work_order_changes.c.work_order_id).where(work_order_changes.c.status == "failed")
    return (
        select(work_order_changes.c.work_order_id)
        .join(work_orders, work_orders.c.id == work_order_changes.c.work_order_id)
        .where(owned, work_order_changes.c.status == "pending", work_order_changes.c.work_order_id.not_in(failed))
        .group_by(work_order_changes.c.work_order_id)
        .order_by(work_order_changes.c.work_order_id)
    )


def push_work_orders(target: PushTarget, work_order_ids: list[int], retry_failed: bool = False) -> list[dict[str, Any]]:
    """Each work order's pending changes, oldest first; a change that does not go through holds back the later ones.
    With `retry_failed` ("Sync Now"), the changes the source refused before are sent again too. The run's counts
    (entity work_order) grow by each work order looked at: created in the source, updated there (other changes
    sent), or unchanged (nothing went through)."""
    outcomes = []
    counts: Counter = Counter()
    try:
        for work_order_id in work_order_ids:
            sent: list[str] = []
            outcome = push_work_order(target, work_order_id, retry_failed, sent)
            log.info("work order %s: %s%s", work_order_id, outcome["sync_status"],
                     f" ({outcome['error']})" if outcome["error"] else "")
            outcomes.append(outcome)
            counts.update(fetched=1, **{"created" if "create" in sent else "updated" if sent else "unchanged": 1})
    finally:
        count_pushed(target.engine, target.run_id, counts)
    return outcomes


def unsynced(outcomes: list[dict[str, Any]], shown: int = 10) -> str | None:
    """Why a push run failed: the work orders it left refused (failed) or unsent (pending), with their errors; None
    when every one is synced or held by another push (busy)."""
    left = [outcome for outcome in outcomes if outcome["sync_status"] in ("failed", "pending")]
    if not left:
        return None
    lines = [f"work order {o['id']} {o['sync_status']}: {o['error'] or 'not sent'}" for o in left[:shown]]
    more = f"; … and {len(left) - shown} more" if len(left) > shown else ""
    return f"{len(left)} work order(s) not synced: " + "; ".join(lines) + more


def push_summary(target: PushTarget, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """What a push returns: each work order's outcome and how many ended in each status."""
    counts = Counter(outcome["sync_status"] for outcome in outcomes)
    return {"integration": target.integration, "work_orders": outcomes, **{status: counts[status] for status in counts}}


def push_work_order(
    target: PushTarget, work_order_id: int, retry_failed: bool = False, sent: list[str] | None = None
) -> dict[str, Any]:
    """Send one work order's pending changes (with `retry_failed`, its refused ones queued again first) unless another
    push holds it; its status afterwards. The kinds of the changes that went through are added to `sent`.

    The claim is renewed while the push waits on the source, and every write of the push is fenced by its token: a
    push whose claim was taken over (it stalled longer than the lease) records nothing more and reports busy. Refused
    changes are queued again only under the claim: a Sync Now while another push sends the work order changes nothing.
    """
    held = claim(target.engine, work_order_id, target.claim_lease)
    if held is None:
        return push_status(target.engine, work_order_id, busy="another push is sending this work order right now")
    try:
        with ClaimHeartbeat(target.engine, held):
            _send_pending(target, held, retry_failed, sent if sent is not None else [])
    except ClaimLost as lost:
        return push_status(target.engine, work_order_id, busy=str(lost))
    return push_status(target.engine, work_order_id)


def _send_pending(target: PushTarget, held: PushClaim, retry_failed: bool, sent: list[str]) -> None:
    try:
        if retry_failed:
            requeue_failed(target.engine, held)
        for change in pending_changes(target.engine, held.work_order_id):
            work_order = work_order_for_push(target.engine, held.work_order_id)
            looked_before = change.attempts > 0
            begin_attempt(target.engine, held, change.id)
            try:
                result = _send(target, work_order, change, looked_before)
            except SourceError as unexpected:
                record_outcome(target.engine, held, change, Sent("pending", error=str(unexpected)))
                raise
            record_outcome(target.engine, held, change, result)
            if result.status != "sent":
                break
            sent.append(change.kind)
    finally:
        settle(target.engine, held)


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
        return writer.create(work_order, change.marker)
    if _updates_fields(writer, change):
        writer.update(work_order, payload["fields"])
        return None
    if change.kind in ("note", "progress"):
        return writer.add_note(work_order.source_id, payload["text"], change.marker)
    if change.kind == "close":
        writer.close(work_order.source_id, payload.get("completed_on"), payload.get("comments"))
        return None
    if change.kind == "custom_fields":
        writer.set_custom_fields(work_order.source_id, payload["fields"])
        return None
    raise ValueError(f"work-order change {change.id} has unknown kind {change.kind!r}")


def _look_for(writer: WorkOrderWriter, work_order: Row, change: Row) -> int | None:
    """Creations and tasks carry the change's marker; field updates, close and custom fields are safe to send twice."""
    if change.kind == "create":
        return writer.find_created(work_order, change.marker, change.created_at - LOOKBACK)
    if _updates_fields(writer, change):
        return None
    if change.kind in ("note", "progress"):
        return writer.find_note(work_order.source_id, change.marker)
    return None


def _updates_fields(writer: WorkOrderWriter, change: Row) -> bool:
    """Whether the change is a field change (a progress change naming its fields) and the source takes it as one; a
    source without the capability gets the progress note."""
    return change.kind == "progress" and "fields" in change.payload and isinstance(writer, WorkOrderUpdater)
