"""Property reconciliation: deactivate what the source no longer has, reactivate what came back, keep a snapshot."""

from __future__ import annotations

from prefect import flow

from pmsync.jobs import reconcile as job
from pmsync.runs.parameters import DeactivationShare, IntegrationName
from tasks.run_names import flow_run_name
from tasks.steps import prefect_steps


@flow(name="property-reconciliation", flow_run_name=flow_run_name("property-reconciliation"))
def reconcile(
    integration: IntegrationName | None = None,
    dry_run: bool = False,
    allow_mass_deactivation: bool = False,
    max_deactivation_share: DeactivationShare = 0.2,
) -> dict:
    """Compare the source's full unit and building lists with the platform's active ones and apply the difference.

    Only a listing proven complete counts, and every deactivation is confirmed record by record; a run that would
    deactivate more than `max_deactivation_share` of the active units (or finds the source's list empty) deactivates
    nothing and fails unless `allow_mass_deactivation`. A dry run reports the same without writing anything.
    """
    return job.reconcile(prefect_steps(), integration, dry_run, allow_mass_deactivation, max_deactivation_share)
