"""Re-pointing an integration: binding it on the platform to the source account its configuration names now.

The operator's explicit answer to IntegrationNeedsRepoint. The rows are kept (records of the new account with the
same source ids update them; reconciliation deactivates what the new account lacks), every content hash and every
high-water mark is cleared, so the next sync reads every stream in full and applies every record again. It waits
for a running sync (the integration's lock) and is logged on each of the integration's properties.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, Table, delete, select, update
from sqlalchemy.engine import Connection

from pmsync.integrations.identity import SourceIdentity, differences, identity_of, registered_identity, registered_row
from pmsync.integrations.integration import Integration, IntegrationNotConfigured
from pmsync.runs.locks import acquire, release
from pmsync.platform.database import migrate
from pmsync.integrations.retirement import integration_tables
from pmsync.runs.bookkeeping import utc_now
from schemas.tables import integrations, properties, property_logs, sync_state, unapplied_records

REPOINT_FLOW = "repoint"
LOCK_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class Repointing:
    """What re-pointing did: the identity before and after; hashes cleared per table and high-water marks cleared
    (none when the integration was bound to that identity already)."""

    name: str
    before: SourceIdentity
    after: SourceIdentity
    changed: bool
    hashes_cleared: dict[str, int] = field(default_factory=dict)
    marks_cleared: int = 0


def repoint_integration(
    engine: Engine, integration: Integration, *, lock_wait_seconds: float = 600, say: Callable[[str], object] = lambda line: None
) -> Repointing:
    """Bind the platform's integration `integration.name` to the account and place `integration` names (idempotent);
    waits for its running sync. A row registered before its origin was recorded, of the same account, only adopts the
    origin."""
    migrate(engine)
    holder = f"{socket.gethostname()}:{os.getpid()} integration re-point"
    acquire(engine, integration.name, holder, REPOINT_FLOW, LOCK_LEASE, timedelta(seconds=lock_wait_seconds), say)
    try:
        with engine.begin() as connection:
            return _repoint(connection, integration)
    finally:
        release(engine, integration.name, holder)


def _repoint(connection: Connection, integration: Integration) -> Repointing:
    row = registered_row(connection, integration.name, lock=True)
    if row is None:
        raise IntegrationNotConfigured(
            f"integration {integration.name!r} is not on the platform, so there is nothing to re-point: its first sync "
            "registers it with the account its configuration names"
        )
    before, after = registered_identity(row), identity_of(integration)
    now = utc_now()
    values = {"source_system": integration.source_system, "base_url": integration.base_url,
              "system_id": integration.account, "integration_user": integration.integration_user,
              "configured_in": integration.configured_in, "updated_at": now}
    changed = bool(differences(before, after))
    if not changed:
        if before.configured_in is None:
            connection.execute(update(integrations).where(integrations.c.id == row.id)
                               .values(configured_in=integration.configured_in, updated_at=now))
        return Repointing(integration.name, before, after, changed=False)
    connection.execute(update(integrations).where(integrations.c.id == row.id).values(values))
    hashes = {table.name: _clear_hashes(connection, table, row.id) for table in integration_tables() if "source_hash" in table.c}
    _clear_hashes(connection, unapplied_records, row.id)  # the records held back are checked again too
    marks = connection.execute(delete(sync_state).where(sync_state.c.integration_id == row.id)).rowcount
    _log_on_properties(connection, row.id, now, f"integration {integration.name!r} re-pointed from {before} to {after} "
                       "(pmsync integration repoint): rows kept; its next sync reads every stream in full and applies "
                       "every record again")
    return Repointing(integration.name, before, after, changed=True, hashes_cleared=hashes, marks_cleared=marks)


def _clear_hashes(connection: Connection, table: Table, integration_id: int) -> int:
    return connection.execute(
        update(table).where(table.c.integration_id == integration_id, table.c.source_hash.is_not(None)).values(source_hash=None)
    ).rowcount


def _log_on_properties(connection: Connection, integration_id: int, now: datetime, message: str) -> None:
    """One property_logs row on each of the integration's properties (active or not)."""
    owned = connection.execute(select(properties.c.id).where(properties.c.integration_id == integration_id)).scalars().all()
    if owned:
        connection.execute(property_logs.insert(), [
            {"property_id": property_id, "logged_at": now, "event": "integration_repointed", "message": message,
             "run_id": None}
            for property_id in owned
        ])
