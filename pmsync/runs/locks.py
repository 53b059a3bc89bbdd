"""One sync at a time per integration: a lease row in the platform database, waited for, kept alive, taken over."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import DateTime, Engine, bindparam, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import DBAPIError

from pmsync.runs.processes import ProcessIdentity, gone_because, this_process
from pmsync.integrations.retirement import refuse_removed
from pmsync.runs.bookkeeping import utc_now
from schemas.tables import UtcDateTime, integration_locks

log = logging.getLogger("pmsync.runs.locks")


class IntegrationBusy(Exception):
    """Retriable: another run kept the integration's lock longer than this run would wait; run again later."""


class LockLost(Exception):
    """Fatal for the run: its lock expired, was cleared by hand or removed with its integration while it ran."""


def acquire(
    engine: Engine,
    integration: str,
    holder: str,
    flow: str,
    lease: timedelta,
    wait: timedelta,
    say: Callable[[str], Any],
    poll_seconds: float = 1.0,
) -> None:
    """Take the integration's lock, recording this process as its holder. A holder proven dead (this host, its process
    gone) is taken over at once; any other holder is waited for until its lease expires (its heartbeat stopped)."""
    me = this_process()
    give_up = time.monotonic() + wait.total_seconds()
    announced = None
    while True:
        with engine.begin() as connection:
            now = database_now(connection)
            _insert_unless_held(connection, integration, holder, flow, now, now + lease, me)
            current = connection.execute(
                select(integration_locks).where(integration_locks.c.integration_name == integration)
            ).one_or_none()
            if current is not None and current.holder == holder and _recorded(current) == me:
                return
            why = _why_free(current, now) if current is not None else None
            if why and _take_over(connection, current, holder, flow, now, lease, me):
                say(f"lock of integration {integration!r} held by {current.holder} ({current.flow} sync) {why}; "
                    "taken over")
                return
        if current is None:
            continue
        if time.monotonic() > give_up:
            raise IntegrationBusy(
                f"integration {integration!r} is still being synced by {current.holder} ({current.flow} sync, since "
                f"{current.acquired_at:%Y-%m-%d %H:%M:%S} UTC); run again later, or `pmsync unlock {integration}` if it crashed"
            )
        if announced != current.holder:
            say(f"waiting: integration {integration!r} is being synced by {current.holder} ({current.flow} sync, since "
                f"{current.acquired_at:%Y-%m-%d %H:%M:%S} UTC)")
            announced = current.holder
        time.sleep(poll_seconds)


def database_now(connection: Connection) -> datetime:
    """Now by the database's clock on PostgreSQL (hosts sharing it may disagree by seconds, and leases are short); on
    SQLite, whose processes share one host, this host's."""
    if connection.dialect.name != "postgresql":
        return utc_now()
    return connection.execute(select(func.clock_timestamp(type_=DateTime(timezone=True)))).scalar_one()


def _recorded(current: Row) -> ProcessIdentity | None:
    if current.host is None or current.pid is None:
        return None  # taken before the holder's process was recorded (migration 0012): only its expiry frees it
    return ProcessIdentity(current.host, current.pid, current.process_started)


def _why_free(current: Row, now: datetime) -> str | None:
    """Why the current holder's lock may be taken over ("expired at …", "its process … is gone"), or None."""
    if current.expires_at < now:
        return f"expired at {current.expires_at:%Y-%m-%d %H:%M:%S} UTC"
    recorded = _recorded(current)
    return gone_because(recorded) if recorded is not None else None


def _take_over(
    connection: Connection, current: Row, holder: str, flow: str, now: datetime, lease: timedelta, me: ProcessIdentity
) -> bool:
    """Replace the holder read in `current`, unless it renewed or changed meanwhile; whether this run now holds it."""
    return bool(connection.execute(
        update(integration_locks)
        .where(
            integration_locks.c.integration_name == current.integration_name,
            integration_locks.c.holder == current.holder,
            integration_locks.c.expires_at == current.expires_at,
        )
        .values(holder=holder, flow=flow, acquired_at=now, expires_at=now + lease,
                host=me.host, pid=me.pid, process_started=me.started)
    ).rowcount)


def _insert_unless_held(
    connection: Connection, integration: str, holder: str, flow: str, now: datetime, expires: datetime,
    me: ProcessIdentity,
) -> None:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(integration_locks).values(
        integration_name=integration, holder=holder, flow=flow, acquired_at=now, expires_at=expires,
        host=me.host, pid=me.pid, process_started=me.started,
    ).on_conflict_do_nothing(index_elements=["integration_name"])
    connection.execute(statement)


def renew(connection: Connection, integration: str, holder: str, lease: timedelta) -> None:
    """Extend the lease inside a page's (or batch's) transaction, which then holds the lock row until it commits; a
    lock that is no longer ours stops the run before it writes (the row is never written back): IntegrationRemoved
    when its integration was removed meanwhile, else LockLost."""
    expires = integration_locks.c.expires_at
    lease_end = bindparam("lease_end", database_now(connection) + lease, type_=UtcDateTime())
    renewed = connection.execute(
        update(integration_locks)
        .where(integration_locks.c.integration_name == integration, integration_locks.c.holder == holder)
        .values(expires_at=case((expires > lease_end, expires), else_=lease_end))  # a late renewal never shortens it
    ).rowcount
    if not renewed:
        refuse_removed(connection, integration)
        current = connection.execute(
            select(integration_locks.c.holder, integration_locks.c.flow).where(integration_locks.c.integration_name == integration)
        ).one_or_none()
        now_held = f"now held by {current.holder} ({current.flow} sync)" if current else "now free"
        raise LockLost(
            f"the lock of integration {integration!r} is no longer held by {holder} (it expired, was cleared by hand "
            f"or the integration was removed; {now_held}); stopping before writing: run it again"
        )


class LockHeartbeat:
    """Renews a held lock every third of its lease while the run lives, however long a page takes, so a short lease
    frees a dead run's lock soon and never a live one's.

    A page's transaction renews the lock row first and holds it until it commits; a beat meanwhile waits for it (on
    PostgreSQL the row lock, at most one lease; on SQLite the write lock, at most the busy timeout) and lands after it,
    never shortening the lease; a beat that could not write (the database down or busy) tries again at the next one.
    A lock found lost (expired and taken, cleared by hand, removed with its integration) stops the heartbeat and is
    never written back: the run stops at its next renewal with LockLost."""

    def __init__(self, engine: Engine, integration: str, holder: str, lease: timedelta) -> None:
        self.engine, self.integration, self.holder, self.lease = engine, integration, holder, lease
        self.lost: LockLost | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"pmsync-lock-{integration}", daemon=True)

    def _beat(self) -> None:
        interval = self.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                with self.engine.begin() as connection:
                    if connection.dialect.name == "postgresql":
                        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(interval * 3000))}")
                    renew(connection, self.integration, self.holder, self.lease)
            except LockLost as lost:
                self.lost = lost
                log.warning("lock heartbeat stopped, the run stops at its next page: %s", lost)
                return
            except DBAPIError as failure:  # the database blinked or stayed busy: the next beat tries again
                log.warning("could not renew the lock of integration %r (%s); trying again in %.0f s",
                            self.integration, str(failure.orig).splitlines()[0], interval)

    def start(self) -> LockHeartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        """No more renewals once this returns (a renewal under way finishes first)."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> LockHeartbeat:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()


def release(engine: Engine, integration: str, holder: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            delete(integration_locks).where(
                integration_locks.c.integration_name == integration, integration_locks.c.holder == holder
            )
        )


def force_unlock(engine: Engine, integration: str) -> Any:
    """Clear an integration's lock by hand; returns who held it (None when nobody did)."""
    with engine.begin() as connection:
        current = connection.execute(
            select(integration_locks).where(integration_locks.c.integration_name == integration)
        ).one_or_none()
        connection.execute(delete(integration_locks).where(integration_locks.c.integration_name == integration))
        return current
