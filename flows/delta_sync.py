"""Delta sync: everything created or modified since the last complete pass, with a 72-hour overlap."""

from __future__ import annotations

from prefect import flow

from pmsync.jobs import sync
from pmsync.runs.parameters import IntegrationName, OverlapHours
from tasks.run_names import flow_run_name
from tasks.steps import prefect_steps
from tasks.work_order_events import announce_pending_work_orders


@flow(name="delta-sync", flow_run_name=flow_run_name("delta-sync"))
def delta_sync(integration: IntegrationName | None = None, overlap_hours: OverlapHours = 72.0) -> dict:
    """Each stream from min(now − overlap, its high-water mark − overlap) to the run's start; never-synced streams in full.
    Then, when work orders wait to be pushed (written to the platform with no event), it starts one push of them."""
    result = sync.delta_sync(prefect_steps(), integration, overlap_hours)
    if result["work_orders_pending"]:
        announce_pending_work_orders(integration, result["integration"], result["work_orders_pending"])
    return result
