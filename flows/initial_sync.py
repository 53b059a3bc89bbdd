"""Initial sync: a full pull of properties, units, leases, residents and work orders."""

from __future__ import annotations

from prefect import flow

from flows.common import sync_streams
from pmsync.integrations import resolve_integration
from pmsync.settings import PlatformSettings
from tasks.load import open_run


@flow(name="initial-sync")
def initial_sync(integration: str | None = None) -> dict:
    """Pull everything the rules include; re-runnable (a second run creates and updates nothing)."""
    account = resolve_integration(integration)
    session = open_run(account, PlatformSettings(), "initial")
    return sync_streams(session, account.rules.streams)
