"""Lease sync: all leases, existing ones overwritten with the source's values; residents follow their rule."""

from __future__ import annotations

from prefect import flow

from flows.common import sync_streams
from pmsync.integrations import resolve_integration
from pmsync.settings import PlatformSettings
from tasks.load import open_run


@flow(name="lease-sync")
def lease_sync(integration: str | None = None) -> dict:
    """Read every lease (no window) and apply the lease and resident rules."""
    account = resolve_integration(integration)
    session = open_run(account, PlatformSettings(), "lease")
    return sync_streams(session, (account.rules.stream("leases"),))
