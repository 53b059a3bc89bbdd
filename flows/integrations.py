"""Adding and removing a company from the Prefect UI: a block created or deleted runs these flows (automations.yaml)."""

from __future__ import annotations

from prefect import flow

from pmsync.runs.parameters import IntegrationName
from tasks import integrations as steps


@flow(name="enroll-integration", flow_run_name="enroll-integration · {integration}")
def enroll_integration(integration: IntegrationName) -> dict:
    """An integration block (Propertyware's or Buildium's) was created: deploy its deployments (schedules included),
    reinstate it on the platform if it had been removed, and start its initial sync (once per block). Refused, before
    any of that, when the name is on the platform bound to another source account."""
    block = steps.check_block(integration, must_exist=True)
    steps.check_account(integration)
    reinstated = steps.reinstate_on_platform(integration)
    deployed = steps.deploy_deployments(integration)
    run = steps.start_initial_sync(integration, block)
    return {"integration": integration, "deployments": deployed, "reinstated": reinstated, "initial_sync_run": run}


@flow(name="retire-integration", flow_run_name="retire-integration · {integration}")
def retire_integration(integration: IntegrationName) -> dict:
    """An integration block (Propertyware's or Buildium's) was deleted: mark it removed on the platform, every row of
    it inactive (none deleted; a running sync stops at its next page), then delete its deployments (its schedules stop)
    and its sync slot. Each step is retried and finishes what an earlier run left. Refused while a block of that name exists, and
    for the integration the environment configures."""
    steps.check_block(integration, must_exist=False)
    retired = steps.retire_on_platform(integration)
    deleted = steps.delete_deployments(integration)
    steps.delete_sync_slot(integration)
    return {"integration": integration, "deleted_deployments": deleted, "retired": retired}
