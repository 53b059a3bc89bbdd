"""Removing an integration from the platform and bringing it back: its rows are kept, marked inactive, never deleted.

Removal waits for the integration's running sync (its lock), then in one transaction stamps `integrations.removed_at`
and deactivates every active row of the integration with `updated_at` = that same moment, so bringing it back makes
exactly those rows active again. Every row's content hash is cleared: the first sync after it comes back applies every
record again instead of skipping unchanged ones. Syncs, reconciliations and pushes of a removed integration are
refused (`refuse_removed`).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, Table, select, update
from sqlalchemy.engine import Connection

from pmsync.locks import acquire, release
from pmsync.platform import migrate
from pmsync.runs import utc_now
from schemas.tables import integrations, metadata, property_logs, properties

REMOVAL_REASON = "integration removed"
REMOVAL_FLOW = "remove"
LOCK_LEASE = timedelta(minutes=10)


class IntegrationRemoved(Exception):
    """Fatal: the integration was removed from the platform; its syncs are refused until it is added again."""

    def __init__(self, name: str, removed_at: datetime):
        super().__init__(
            f"integration {name!r} was removed from the platform at {removed_at:%Y-%m-%d %H:%M:%S} UTC (its rows are "
            f"kept, inactive); `pmsync integration add {name}` to sync it again"
        )
        self.facts = {"integration": name, "removed_at": removed_at.isoformat()}


@dataclass(frozen=True)
class Retirement:
    """What removing an integration did: rows marked inactive per table (none when it was removed already)."""

    name: str
    on_platform: bool
    already_removed: bool
    removed_at: datetime | None
    rows: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Reinstatement:
    """What bringing an integration back did: rows active again per table (none when it was not removed)."""

    name: str
    was_removed: bool
    rows: dict[str, int] = field(default_factory=dict)


def integration_tables() -> list[Table]:
    """Every table holding an integration's own rows with an active flag (synced, derived and imported alike)."""
    return [table for table in metadata.sorted_tables if {"integration_id", "active", "updated_at"} <= set(table.c.keys())]


def refuse_removed(connection: Connection, name: str) -> None:
    """Raise IntegrationRemoved when the integration is on the platform and removed."""
    removed_at = connection.execute(select(integrations.c.removed_at).where(integrations.c.name == name)).scalar_one_or_none()
    if removed_at is not None:
        raise IntegrationRemoved(name, removed_at)


def retire_integration(engine: Engine, name: str, *, lock_wait_seconds: float = 600, say=lambda line: None) -> Retirement:
    """Remove the integration: wait for its running sync, then mark all its rows inactive (idempotent)."""
    migrate(engine)
    holder = f"{socket.gethostname()}:{os.getpid()} integration removal"
    acquire(engine, name, holder, REMOVAL_FLOW, LOCK_LEASE, timedelta(seconds=lock_wait_seconds), say)
    try:
        with engine.begin() as connection:
            found = connection.execute(
                select(integrations.c.id, integrations.c.removed_at).where(integrations.c.name == name)
            ).one_or_none()
            if found is None:
                return Retirement(name, on_platform=False, already_removed=False, removed_at=None)
            if found.removed_at is not None:
                return Retirement(name, on_platform=True, already_removed=True, removed_at=found.removed_at)
            now = utc_now()
            connection.execute(update(integrations).where(integrations.c.id == found.id).values(removed_at=now, updated_at=now))
            _log_on_properties(connection, found.id, now)
            rows = {table.name: _deactivate(connection, table, found.id, now) for table in integration_tables()}
            return Retirement(name, on_platform=True, already_removed=False, removed_at=now, rows=rows)
    finally:
        release(engine, name, holder)


def reinstate_integration(engine: Engine, name: str) -> Reinstatement:
    """Bring a removed integration back: the rows its removal deactivated are active again (idempotent)."""
    migrate(engine)
    with engine.begin() as connection:
        found = connection.execute(
            select(integrations.c.id, integrations.c.removed_at).where(integrations.c.name == name)
        ).one_or_none()
        if found is None or found.removed_at is None:
            return Reinstatement(name, was_removed=False)
        now = utc_now()
        rows = {table.name: _reactivate(connection, table, found.id, found.removed_at, now) for table in integration_tables()}
        connection.execute(update(integrations).where(integrations.c.id == found.id).values(removed_at=None, updated_at=now))
        return Reinstatement(name, was_removed=True, rows=rows)


def _deactivate(connection: Connection, table: Table, integration_id: int, now: datetime) -> int:
    values: dict = {"active": False, "updated_at": now}
    if "deactivated_at" in table.c:
        values.update(deactivated_at=now, deactivation_reason=REMOVAL_REASON)
    if "source_hash" in table.c:
        connection.execute(update(table).where(table.c.integration_id == integration_id).values(source_hash=None))
    owned = table.c.integration_id == integration_id
    return connection.execute(update(table).where(owned, table.c.active.is_(True)).values(values)).rowcount


def _reactivate(connection: Connection, table: Table, integration_id: int, removed_at: datetime, now: datetime) -> int:
    values: dict = {"active": True, "updated_at": now}
    if "deactivated_at" in table.c:
        values.update(deactivated_at=None, deactivation_reason=None)
    deactivated_by_removal = (
        (table.c.integration_id == integration_id) & table.c.active.is_(False) & (table.c.updated_at == removed_at)
    )
    return connection.execute(update(table).where(deactivated_by_removal).values(values)).rowcount


def _log_on_properties(connection: Connection, integration_id: int, now: datetime) -> None:
    """One property_logs row on each active property: why its units, leases and residents went inactive."""
    active = connection.execute(
        select(properties.c.id).where(properties.c.integration_id == integration_id, properties.c.active.is_(True))
    ).scalars().all()
    if active:
        connection.execute(property_logs.insert(), [
            {"property_id": property_id, "logged_at": now, "event": "integration_removed",
             "message": "deactivated with all its units, leases and residents: the integration was removed from the platform",
             "run_id": None}
            for property_id in active
        ])
