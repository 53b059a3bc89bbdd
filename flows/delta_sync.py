"""Delta sync: everything created or modified since the last complete pass, with a 72-hour overlap."""

from __future__ import annotations

from prefect import flow

from pmsync.jobs import sync
from pmsync.parameters import IntegrationName, OverlapHours
from tasks.run_names import flow_run_name
from tasks.steps import prefect_steps


@flow(name="delta-sync", flow_run_name=flow_run_name("delta-sync"))
def delta_sync(integration: IntegrationName | None = None, overlap_hours: OverlapHours = 72.0) -> dict:
    """Each stream from min(now − overlap, its high-water mark − overlap) to the run's start; never-synced streams in full."""
    return sync.delta_sync(prefect_steps(), integration, overlap_hours)
