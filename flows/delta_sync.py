"""Delta sync: everything created or modified since the last complete pass, with a 72-hour overlap."""

from __future__ import annotations

from prefect import flow

from flows.common import sync_streams
from pmsync.integrations import integration_from_environment
from pmsync.settings import PlatformSettings
from tasks.load import open_run, plan_windows


@flow(name="delta-sync")
def delta_sync(overlap_hours: float = 72.0) -> dict:
    """Each stream from min(now − overlap, its high-water mark − overlap) to the run's start; never-synced streams in full."""
    integration = integration_from_environment()
    session = open_run(integration, PlatformSettings(), "delta")
    windows = plan_windows(session, integration.rules.streams, overlap_hours)
    return sync_streams(session, integration.rules.streams, windows)
