"""Initial sync: a full pull of properties, units, leases, residents and work orders."""

from __future__ import annotations

from prefect import flow

from pmsync.jobs import sync
from pmsync.runs.parameters import IntegrationName
from tasks.run_names import flow_run_name
from tasks.steps import prefect_steps


@flow(name="initial-sync", flow_run_name=flow_run_name("initial-sync"))
def initial_sync(integration: IntegrationName | None = None) -> dict:
    """Pull everything the rules include; re-runnable (a second run creates and updates nothing)."""
    return sync.initial_sync(prefect_steps(), integration)
