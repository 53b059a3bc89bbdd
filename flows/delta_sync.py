"""Delta sync: everything created or modified since the last complete pass, with a 72-hour overlap."""

from __future__ import annotations

from prefect import flow

from flows.common import sync_streams
from pmsync.integrations import resolve_integration
from pmsync.settings import PlatformSettings
from tasks.load import open_run


@flow(name="delta-sync")
def delta_sync(integration: str | None = None, overlap_hours: float = 72.0) -> dict:
    """Each stream from min(now − overlap, its high-water mark − overlap) to the run's start; never-synced streams in full."""
    account = resolve_integration(integration)
    session = open_run(account, PlatformSettings(), "delta")
    return sync_streams(session, account.rules.streams, overlap_hours)
