"""Get Account Balance: one lease's balance, charges and payments fetched from the source now — seconds, not a full sync."""

from __future__ import annotations

from prefect import flow

from pmsync.jobs import balance
from pmsync.runs.parameters import IntegrationName, LeaseId
from tasks.run_names import flow_run_name
from tasks.steps import prefect_steps


@flow(name="lease-balance", flow_run_name=flow_run_name("lease-balance"))
def lease_balance(lease_id: LeaseId, integration: IntegrationName | None = None) -> dict:
    """The lease read now by id, then its ledger (its charges and payments, or its transactions added up: listings
    scoped to the lease), through the quality gate and the sync rules; returns the run's counts and the lease's ledger
    as now on the platform."""
    return balance.lease_balance(prefect_steps(), lease_id, integration)
