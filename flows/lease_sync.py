"""Lease sync (nightly): all leases, existing ones overwritten with the source's values; residents follow their rule;
then the listings only the nightly sync reads (a source's outstanding balances)."""

from __future__ import annotations

from prefect import flow

from pmsync.jobs import sync
from pmsync.runs.parameters import IntegrationName
from tasks.run_names import flow_run_name
from tasks.steps import prefect_steps


@flow(name="lease-sync", flow_run_name=flow_run_name("lease-sync"))
def lease_sync(integration: IntegrationName | None = None) -> dict:
    """Read every lease (no window) and apply the lease and resident rules; then the nightly-only listings, whole."""
    return sync.lease_sync(prefect_steps(), integration)
