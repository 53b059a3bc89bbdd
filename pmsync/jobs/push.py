"""The work-order push job: the platform's changes to work orders sent to the source ("Sync Now" for one, or the sweep)."""

from __future__ import annotations

from pmsync.integrations.integration import resolve_integration
from pmsync.jobs.steps import Steps
from pmsync.runs.parameters import IntegrationName, WorkOrderId, checked_parameters
from pmsync.push.sender import push_summary, push_target, unsynced
from pmsync.settings import PlatformSettings
from pmsync.sync.scope import run_scope

PUSH_BATCH = 50


@checked_parameters
def work_order_push(
    steps: Steps, work_order_id: WorkOrderId | None = None, retry_failed: bool = False,
    integration: IntegrationName | None = None,
) -> dict:
    """Push one work order (with `retry_failed`, also what the source refused before), or every pending one.

    Each push is a `push` run in sync_runs (`pmsync runs`), failed when a work order it pushed ends refused or unsent,
    but for a sweep that finds nothing to push: it looks first and leaves no run (every 5 minutes would flood them).
    """
    account = resolve_integration(integration)
    platform = PlatformSettings()
    if work_order_id is None:
        with run_scope(account, platform, "push-sweep", flow_run_id=steps.flow_run_id) as session:
            looked = push_target(session, platform)
            if not steps.select_work_orders_to_push(looked, None):
                return push_summary(looked, [])
    with run_scope(account, platform, "push", entities=["work_order"], flow_run_id=steps.flow_run_id) as session:
        target = push_target(session, platform)
        work_order_ids = steps.select_work_orders_to_push(target, work_order_id)
        outcomes: list[dict] = []
        for start in range(0, len(work_order_ids), PUSH_BATCH):
            outcomes += steps.push_work_orders(target, work_order_ids[start:start + PUSH_BATCH], retry_failed)
        steps.publish_push_summary(target, outcomes)
        failure = unsynced(outcomes)
        if failure:
            session.fail(failure)
    return push_summary(target, outcomes)
