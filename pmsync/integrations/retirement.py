"""Removing an integration from the platform and bringing it back: its rows are kept, marked inactive, never deleted.

Removal is one transaction. It first deletes the integration's lock row, so a running sync stops at its next lock
renewal (the first statement of each page's transaction: on PostgreSQL a page already under way finishes before the
delete goes on, and a page starting meanwhile waits for the removal to commit, then finds no lock and rolls back). It
then stamps `integrations.removed_at` and deactivates every active row of the integration with `updated_at` = that
same moment, so bringing it back makes exactly those rows active again. Every row's content hash is cleared, the held
records' too (`unapplied_records.source_hash`): the first sync after it comes back applies or checks every record again
instead of skipping unchanged ones. Syncs, reconciliations and
pushes of a removed integration are refused (`refuse_removed`). An integration the PMSYNC_* environment configures is
never removed (RetirementRefused): removal serves integrations configured by blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, Table, delete, select, update
from sqlalchemy.engine import Connection

from pmsync.integrations.integration import CONFIGURED_IN_ENVIRONMENT
from pmsync.platform.database import migrate
from pmsync.runs.bookkeeping import utc_now
from schemas.tables import integration_locks, integrations, metadata, property_logs, properties, unapplied_records

REMOVAL_REASON = "integration removed"


class IntegrationRemoved(Exception):
    """Fatal: the integration was removed from the platform; its syncs are refused until it is added again."""

    def __init__(self, name: str, removed_at: datetime):
        super().__init__(
            f"integration {name!r} was removed from the platform at {removed_at:%Y-%m-%d %H:%M:%S} UTC (its rows are "
            f"kept, inactive); `pmsync integration add {name}` to sync it again"
        )
        self.facts = {"integration": name, "removed_at": removed_at.isoformat()}


class RetirementRefused(Exception):
    """Fatal: the integration is configured by the PMSYNC_* environment, not by a block; nothing was changed."""


@dataclass(frozen=True)
class Retirement:
    """What removing an integration did: rows marked inactive per table (none when it was removed already), and the
    holder of the lock it took away (a running sync, which stops at its next page), if any."""

    name: str
    on_platform: bool
    already_removed: bool
    removed_at: datetime | None
    rows: dict[str, int] = field(default_factory=dict)
    stopped_sync: str | None = None


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


def retire_integration(engine: Engine, name: str, *, environment_integration: str) -> Retirement:
    """Remove the integration (idempotent): its lock taken away, then marked removed with all its rows inactive, in
    one transaction. Refused when the environment configures it: its row says so, or, registered before that was
    recorded, it is named `environment_integration` (the environment's integration name)."""
    migrate(engine)
    with engine.begin() as connection:
        found = connection.execute(
            select(integrations.c.id, integrations.c.removed_at, integrations.c.configured_in)
            .where(integrations.c.name == name)
        ).one_or_none()
        if found is None:
            return Retirement(name, on_platform=False, already_removed=False, removed_at=None)
        if found.configured_in == CONFIGURED_IN_ENVIRONMENT or (found.configured_in is None and name == environment_integration):
            raise RetirementRefused(
                f"integration {name!r} is configured by the PMSYNC_* environment, not by a block, so it is not "
                "retired and nothing was changed: retiring serves integrations configured by blocks (a block of this "
                "name, if there was one, was never this integration)"
            )
        if found.removed_at is not None:
            return Retirement(name, on_platform=True, already_removed=True, removed_at=found.removed_at)
        stopped = _take_lock_away(connection, name)
        now = utc_now()
        marked = connection.execute(
            update(integrations).where(integrations.c.id == found.id, integrations.c.removed_at.is_(None))
            .values(removed_at=now, updated_at=now)
        ).rowcount
        if not marked:  # another removal committed while this one waited for the running page
            removed_at = connection.execute(select(integrations.c.removed_at).where(integrations.c.id == found.id)).scalar_one()
            return Retirement(name, on_platform=True, already_removed=True, removed_at=removed_at)
        _log_on_properties(connection, found.id, now)
        rows = {table.name: _deactivate(connection, table, found.id, now) for table in integration_tables()}
        connection.execute(update(unapplied_records).where(unapplied_records.c.integration_id == found.id)
                           .values(source_hash=None))
        return Retirement(name, on_platform=True, already_removed=False, removed_at=now, rows=rows, stopped_sync=stopped)


def _take_lock_away(connection: Connection, name: str) -> str | None:
    """Delete the integration's lock row (first, so a page under way finishes before the removal goes on); its holder."""
    holder = connection.execute(
        select(integration_locks.c.holder).where(integration_locks.c.integration_name == name)
    ).scalar_one_or_none()
    connection.execute(delete(integration_locks).where(integration_locks.c.integration_name == name))
    return holder


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
