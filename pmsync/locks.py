"""One sync at a time per integration: a lease row in the platform database, waited for, renewed, expired."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from pmsync.runs import utc_now
from schemas.tables import integration_locks


class IntegrationBusy(Exception):
    """Retriable: another run kept the integration's lock longer than this run would wait; run again later."""


class LockLost(Exception):
    """Fatal for the run: its lock expired or was cleared by hand while it ran; another run may be writing."""


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
    """Take the integration's lock, waiting behind the current holder; an expired lock is taken over."""
    give_up = time.monotonic() + wait.total_seconds()
    announced = None
    while True:
        with engine.begin() as connection:
            now = utc_now()
            _insert_unless_held(connection, integration, holder, flow, now, now + lease)
            current = connection.execute(
                select(integration_locks).where(integration_locks.c.integration_name == integration)
            ).one_or_none()
            if current is not None and current.holder == holder:
                return
            if current is not None and current.expires_at < now:
                taken = connection.execute(
                    update(integration_locks)
                    .where(
                        integration_locks.c.integration_name == integration,
                        integration_locks.c.holder == current.holder,
                        integration_locks.c.expires_at == current.expires_at,
                    )
                    .values(holder=holder, flow=flow, acquired_at=now, expires_at=now + lease)
                ).rowcount
                if taken:
                    say(f"lock of integration {integration!r} held by {current.holder} ({current.flow} sync) "
                        f"expired at {current.expires_at:%Y-%m-%d %H:%M:%S} UTC; taken over")
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


def _insert_unless_held(connection: Connection, integration: str, holder: str, flow: str, now: datetime, expires: datetime) -> None:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(integration_locks).values(
        integration_name=integration, holder=holder, flow=flow, acquired_at=now, expires_at=expires
    ).on_conflict_do_nothing(index_elements=["integration_name"])
    connection.execute(statement)


def renew(connection: Connection, integration: str, holder: str, lease: timedelta) -> None:
    """Extend the lease inside a page's (or batch's) transaction; a lock that is no longer ours stops the run."""
    renewed = connection.execute(
        update(integration_locks)
        .where(integration_locks.c.integration_name == integration, integration_locks.c.holder == holder)
        .values(expires_at=utc_now() + lease)
    ).rowcount
    if not renewed:
        current = connection.execute(
            select(integration_locks.c.holder, integration_locks.c.flow).where(integration_locks.c.integration_name == integration)
        ).one_or_none()
        now_held = f"now held by {current.holder} ({current.flow} sync)" if current else "now free"
        raise LockLost(
            f"the lock of integration {integration!r} is no longer held by {holder} (it expired or was cleared by hand; "
            f"{now_held}); stopping before writing: run it again"
        )


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
