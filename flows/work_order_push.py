"""Work-order push: the platform's changes to work orders, sent to the source ("Sync Now" for one, or the sweep)."""

from __future__ import annotations

from prefect import flow

from pmsync.jobs import push
from pmsync.runs.parameters import IntegrationName, WorkOrderId
from tasks.run_names import flow_run_name
from tasks.steps import prefect_steps


@flow(name="work-order-push", flow_run_name=flow_run_name("work-order-push"))
def work_order_push(
    work_order_id: WorkOrderId | None = None, retry_failed: bool = False, integration: IntegrationName | None = None,
) -> dict:
    """Push one work order (with `retry_failed`, also what the source refused before), or every pending one."""
    return push.work_order_push(prefect_steps(), work_order_id, retry_failed, integration)
