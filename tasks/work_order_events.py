"""Work-order pushes started by events: a change announced as it is made, and pending ones found by the hourly delta."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NONE
from prefect.events import emit_event

from pmsync.platform.settings import IntegrationNameSettings
from tasks.events import integration_resource

WORK_ORDER_CHANGED = "pmsync.work-order.changed"
"""A work order was created or changed on the platform: payload `work_order_id` and `integration` (the block name, or
null for the PMSYNC_* environment's integration), the parameters of the push it starts."""
WORK_ORDERS_PENDING = "pmsync.work-orders.pending"
"""A delta sync found work orders waiting to be pushed (written by the platform app straight to the database):
payload `pending` (how many), `integration`, and `work_order_id` null (the push it starts sweeps them all)."""
PUSH_EVENTS = (WORK_ORDER_CHANGED, WORK_ORDERS_PENDING)
"""What prefect.yaml's `work-order-push/changed` deployment is triggered by (one push run per event)."""


def _integration_name(integration: str | None) -> str:
    return integration or IntegrationNameSettings().integration_name


def announce_work_order_change(work_order_id: int, integration: str | None = None) -> bool:
    """Tell the Prefect server a work order has changes to push; `work-order-push/changed` pushes it within seconds.
    For whatever saves a work order with no push of its own (`pmsync workorder create|update --no-push`, a web form
    after `pmsync.push.workorders.create_work_order`). False when no event was sent (no Prefect server to send it to):
    the daily sweep, the next hourly delta or `pmsync workorder push-pending` pushes it then."""
    from prefect.events.worker import EventsWorker
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return False
    sent = emit_event(WORK_ORDER_CHANGED, resource=integration_resource(_integration_name(integration)),
                      payload={"work_order_id": work_order_id, "integration": integration})
    EventsWorker.drain_all(timeout=10, at_exit=False)  # a command ends right after: the event must have left
    return sent is not None


@task(name="start a push of waiting work orders", cache_policy=NONE, persist_result=False)
def announce_pending_work_orders(integration: str | None, name: str, pending: int) -> None:
    """A `pmsync.work-orders.pending` event, which starts one push of all the `pending` work orders of the
    integration `name` (block `integration`, or None for the PMSYNC_* environment's) waiting to be pushed: changes
    written to the platform database with no event, counted by the sync run (`work_orders_pending`)."""
    emit_event(WORK_ORDERS_PENDING, resource=integration_resource(name),
               payload={"pending": pending, "integration": integration, "work_order_id": None})
    get_run_logger().info(f"{pending} work order(s) of {name} wait to be pushed: a push starts now")
