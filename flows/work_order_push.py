"""Work-order push: the platform's changes to work orders, sent to the source ("Sync Now" for one, or the sweep)."""

from __future__ import annotations

from prefect import flow
from prefect.utilities.annotations import quote

from pmsync.integrations import resolve_integration
from pmsync.settings import PlatformSettings
from tasks.push import open_push, publish_push_summary, push_work_orders, select_work_orders_to_push

PUSH_BATCH = 50


@flow(name="work-order-push")
def work_order_push(work_order_id: int | None = None, retry_failed: bool = False, integration: str | None = None) -> dict:
    """Push one work order (with `retry_failed`, also what the source refused before), or every pending one."""
    account = resolve_integration(integration)
    target = open_push(account, PlatformSettings())
    work_order_ids = select_work_orders_to_push(quote(target), work_order_id, retry_failed)
    outcomes: list[dict] = []
    for start in range(0, len(work_order_ids), PUSH_BATCH):
        outcomes += push_work_orders(quote(target), work_order_ids[start:start + PUSH_BATCH])
    return publish_push_summary(quote(target), outcomes)
