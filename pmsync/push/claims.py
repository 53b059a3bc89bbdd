"""The push claim of one work order: a fenced lease (token and expiry) taken, renewed while waiting, released by its holder."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType

from sqlalchemy import Engine, or_, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from pmsync.runs.bookkeeping import utc_now
from schemas.tables import work_orders


class ClaimLost(Exception):
    """This push no longer holds the work order's claim (it expired and another push took it): stop without writing;
    the holder now sends the changes, looking before it resends anything this push may have sent."""


@dataclass(frozen=True)
class PushClaim:
    """A push's hold on one work order: every write of the push is fenced by the token."""

    work_order_id: int
    token: str
    lease: timedelta


def claim(engine: Engine, work_order_id: int, lease: timedelta) -> PushClaim | None:
    """Take the work order's claim if nobody holds it or the holder's lease ran out; None when another push holds it."""
    now, token = utc_now(), uuid.uuid4().hex
    with engine.begin() as connection:
        taken = connection.execute(
            update(work_orders)
            .where(
                work_orders.c.id == work_order_id,
                or_(work_orders.c.push_claimed_until.is_(None), work_orders.c.push_claimed_until < now),
            )
            .values(push_claim_token=token, push_claimed_until=now + lease)
        ).rowcount
    return PushClaim(work_order_id, token, lease) if taken == 1 else None


def fence(connection: Connection, held: PushClaim) -> None:
    """Inside a write's transaction: prove the claim is still ours (and extend it), or raise ClaimLost."""
    renewed = connection.execute(
        update(work_orders)
        .where(work_orders.c.id == held.work_order_id, work_orders.c.push_claim_token == held.token)
        .values(push_claimed_until=utc_now() + held.lease)
    ).rowcount
    if renewed != 1:
        raise ClaimLost(
            f"the push claim of work order {held.work_order_id} expired and another push took it; this push stopped "
            "without recording anything more (the other push sends the changes and looks before resending)"
        )


def release(connection: Connection, held: PushClaim) -> bool:
    """Give the claim up, only if it is still ours; whether it was."""
    return connection.execute(
        update(work_orders)
        .where(work_orders.c.id == held.work_order_id, work_orders.c.push_claim_token == held.token)
        .values(push_claim_token=None, push_claimed_until=None)
    ).rowcount == 1


class ClaimHeartbeat:
    """Renews the claim every third of its lease while the push waits on the source (a slow answer keeps it held).

    A renewal that finds the claim gone stops the heartbeat; the push's next fenced write then raises ClaimLost.
    """

    def __init__(self, engine: Engine, held: PushClaim) -> None:
        self.engine, self.held = engine, held
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"push-claim-{held.work_order_id}", daemon=True)

    def _beat(self) -> None:
        interval = self.held.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                with self.engine.begin() as connection:
                    fence(connection, self.held)
            except ClaimLost:
                return
            except OperationalError:
                continue  # the database blinked: the next beat tries again, and the push's own writes are fenced

    def __enter__(self) -> ClaimHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
