"""Tasks that add and remove a company on the Prefect server and the platform: thin wrappers of pmsync.integrations.enrollment."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from uuid import UUID

from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from pmsync.integrations import enrollment
from pmsync.runs.deployments import deploy_integrations, schedule_text
from pmsync.integrations.identity import IntegrationNeedsRepoint
from pmsync.integrations.integration import integration_from_block
from pmsync.integrations.retirement import RetirementRefused

PROJECT_DIR = Path(__file__).resolve().parents[1]
"""The checkout this flow runs from (the deployments' pull step sets it): its prefect.yaml is the one deployed."""
plain = task(cache_policy=NONE, persist_result=False)
RETRY_DELAYS_SECONDS = [5, 30, 120]
"""A retried step waits this long before each new attempt (a Prefect server or platform database briefly away)."""
REFUSALS = (enrollment.EnrollmentRefused, RetirementRefused, IntegrationNeedsRepoint)


def _unless_refused(_task, _task_run, state) -> bool:
    """Retry a failed step unless it refused (an attempt more would be refused the same way)."""
    return not isinstance(state.result(raise_on_failure=False), REFUSALS)


retried = task(cache_policy=NONE, persist_result=False, retries=len(RETRY_DELAYS_SECONDS),
               retry_delay_seconds=RETRY_DELAYS_SECONDS, retry_condition_fn=_unless_refused)


@plain(name="check the integration's block")
def check_block(integration: str, *, must_exist: bool) -> UUID | None:
    """The block's id; refuses a name that is not a block slug, and a block that is missing (enrolling) or still
    there (retiring: the block came back, or the flow was started by hand)."""
    enrollment.check_block_names([integration])
    found = enrollment.block_id(integration)
    if must_exist and found is None:
        raise enrollment.EnrollmentRefused(
            f"no integration block (Propertyware or Buildium) named {integration!r}; create it (Prefect UI, Blocks) "
            f"or run `pmsync integration add {integration}`")
    if not must_exist and found is not None:
        raise enrollment.EnrollmentRefused(
            f"the block {integration!r} exists, so {integration} is not retired; delete the block (Prefect UI, Blocks: "
            f"its deletion starts this flow) or run `pmsync integration remove {integration}`")
    return found


@plain(name="check the account on the platform")
def check_account(integration: str) -> None:
    """Refuse a block whose name is on the platform bound to another source account (or configured elsewhere), before
    anything is reinstated, deployed or started."""
    remedy = (f"nothing was deployed or started. If {integration} itself moved to this account, `pmsync integration "
              f"repoint {integration} --to block` binds it (its rows are kept; its next sync applies every record "
              f"again), then run enroll-integration/enroll for it again; otherwise delete the block and pick another name")
    enrollment.refuse_other_account(integration_from_block(integration), remedy)


@plain(name="reinstate on the platform")
def reinstate_on_platform(integration: str) -> dict:
    reinstatement = enrollment.reinstate_on_platform(integration)
    get_run_logger().info(enrollment.reinstatement_text(reinstatement))
    return asdict(reinstatement)


@plain(name="deploy the integration's deployments")
def deploy_deployments(integration: str) -> list[str]:
    """`<deployment>-<integration>` of every per-integration deployment of prefect.yaml, with its schedules."""
    deployed = deploy_integrations([integration], PROJECT_DIR)
    logger = get_run_logger()
    for variable in deployed.unset:
        logger.warning(f"{variable} is not set on this worker; the deployments using it take the running worker's")
    lines = [f"{d['entrypoint'].split(':')[-1]}/{d['name']}: {schedule_text(d)}" for d in deployed.deployments]
    for line in lines:
        logger.info(line)
    return lines


@plain(name="start the initial sync")
def start_initial_sync(integration: str, block: UUID) -> str:
    """The initial sync's run: one per block, whether the CLI that saved the block started it already or not."""
    run = enrollment.start_initial_sync(integration, block, as_subflow=False)
    get_run_logger().info(f"initial sync of {integration}: flow run {run.name} ({run.id}) {enrollment.run_url(run)}")
    return str(run.id)


@retried(name="delete the integration's deployments")
def delete_deployments(integration: str) -> list[str]:
    deleted = enrollment.delete_deployments(integration)
    get_run_logger().info(f"deleted {len(deleted)} deployments of {integration}: {', '.join(deleted) or 'none left'}")
    return deleted


@retried(name="retire on the platform")
def retire_on_platform(integration: str) -> dict:
    retirement = enrollment.retire_on_platform(integration)
    get_run_logger().info(enrollment.retirement_text(retirement))
    return {**asdict(retirement), "removed_at": retirement.removed_at.isoformat() if retirement.removed_at else None}


class SyncSlotStillHeld(Exception):
    """Retriable: a run of the removed integration still holds its sync slot; the step is tried again later."""


@retried(name="delete the integration's sync slot")
def delete_sync_slot(integration: str) -> bool:
    from pmsync.runs.sync_slots import SLOT_RELEASE_WAIT_SECONDS, SYNC_LIMIT, delete_sync_limit

    slot = SYNC_LIMIT.format(name=integration)
    if not delete_sync_limit(integration, SLOT_RELEASE_WAIT_SECONDS):
        raise SyncSlotStillHeld(f"concurrency limit {slot} is still held by a run of {integration}; once no run of it is "
                                f"active, `prefect gcl delete {slot}` removes it")
    get_run_logger().info(f"deleted concurrency limit {slot}")
    return True
