"""Initial sync: a full pull of properties, units, leases, residents and work orders."""

from __future__ import annotations

from prefect import flow

from flows.common import sync_streams
from pmsync.integrations import integration_from_environment
from pmsync.settings import PlatformSettings
from tasks.load import open_run


@flow(name="initial-sync")
def initial_sync() -> dict:
    """Pull everything the rules include; re-runnable (a second run creates and updates nothing)."""
    integration = integration_from_environment()
    session = open_run(integration, PlatformSettings(), "initial")
    return sync_streams(session, integration.rules.streams)
