"""Delta batch: the hourly deltas of many small integrations in one flow-run process, each a delta-sync subflow."""

from __future__ import annotations

from prefect import flow

from pmsync.jobs import batch
from pmsync.jobs.batch import BatchConcurrency, BatchIntegrations, StartWithinMinutes
from pmsync.runs.parameters import OverlapHours
from tasks.steps import prefect_steps


@flow(name="delta-batch")
def delta_batch(integrations: BatchIntegrations, overlap_hours: OverlapHours = 72.0, concurrency: BatchConcurrency = 2,
                start_within_minutes: StartWithinMinutes = 50.0) -> dict:
    """Each integration's delta sync as a subflow (its own lock, run record and artifacts), `concurrency` at a time;
    one that fails or waits on its lock holds up no other, one not started within `start_within_minutes` is left
    to the next run. Fails after all have ended when any did not sync, naming them."""
    return batch.delta_batch(prefect_steps(), integrations, overlap_hours, concurrency, start_within_minutes)
