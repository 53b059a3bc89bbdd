"""Lease sync: all leases, existing ones overwritten with the source's values; residents follow their rule."""

from __future__ import annotations

from prefect import flow

from flows.common import sync_streams
from pmsync.integrations import integration_from_environment
from pmsync.settings import PlatformSettings
from tasks.load import open_run


@flow(name="lease-sync")
def lease_sync() -> dict:
    """Read every lease (no window) and apply the lease and resident rules."""
    integration = integration_from_environment()
    session = open_run(integration, PlatformSettings(), "lease")
    return sync_streams(session, (integration.rules.stream("leases"),))
