"""The delta batch: many small integrations' hourly deltas in one process, each its own locked run, none waiting on another's failure."""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Annotated

from pydantic import Field

from pmsync.jobs.steps import Steps
from pmsync.runs.parameters import IntegrationName, OverlapHours, ParameterRejected, checked_parameters

log = logging.getLogger("pmsync.jobs.batch")

BATCH_MAX = 200
"""The most integrations one batch run takes (its parameter is untrusted input)."""
BatchIntegrations = Annotated[list[IntegrationName], Field(
    min_length=1, max_length=BATCH_MAX,
    description=f"the integration blocks' names, 1 to {BATCH_MAX} of them, each once: lowercase letters, digits and "
                "dashes",
)]
BatchConcurrency = Annotated[int, Field(
    strict=True, ge=1, le=8, description="how many of the batch's integrations sync at once, a whole number from 1 to 8",
)]
StartWithinMinutes = Annotated[float, Field(
    gt=0, le=1440, allow_inf_nan=False,
    description="minutes after the batch's start during which an integration may still start; those not started "
                "by then are left to the next run (their windows lose nothing), a number above 0 up to 1440",
)]


class BatchFailed(Exception):
    """Some integrations of a batch did not sync (each has its own failed run record, or was left to the next run);
    the others did. The message names each one and why; `pmsync runs --integration NAME` shows its run."""

    def __init__(self, message: str, outcome: dict):
        super().__init__(message)
        self.outcome = outcome


@checked_parameters
def delta_batch(steps: Steps, integrations: BatchIntegrations, overlap_hours: OverlapHours = 72.0,
                concurrency: BatchConcurrency = 2, start_within_minutes: StartWithinMinutes = 50.0) -> dict:
    """Each integration's delta sync, `concurrency` at a time in this process (`steps.sync_one_delta`: under Prefect a
    delta-sync subflow each, with its own lock, run record, progress and summary artifacts). One that fails or waits
    on its lock holds only its own place: the others go on; an integration not started within
    `start_within_minutes` is left to the next run, so a slow batch never runs into the next one's slot.
    Returns each integration's result; raises BatchFailed naming those that failed or were left, after all ended."""
    if len(set(integrations)) != len(integrations):
        repeated = sorted({name for name in integrations if integrations.count(name) > 1})
        raise ParameterRejected(f"integrations names {', '.join(repeated)} more than once: name each integration once")
    results, failed = run_batch(lambda name: steps.sync_one_delta(steps, name, overlap_hours), integrations, concurrency,
                                time.monotonic() + start_within_minutes * 60)
    left = [name for name in integrations if name not in results and name not in failed]
    outcome = {"synced": results, "failed": failed, "left_for_next_run": left}
    if failed or left:
        problems = [f"{name}: {error}" for name, error in failed.items()]
        if left:
            problems.append(f"not started within {start_within_minutes:g} minutes, left to the next run: {', '.join(left)}")
        raise BatchFailed(f"{len(results)} of {len(integrations)} integrations synced; " + "; ".join(problems), outcome)
    return outcome


def run_batch(sync_one: Callable[[str], dict], names: list[str], concurrency: int,
              start_until: float) -> tuple[dict[str, dict], dict[str, str]]:
    """`sync_one(name)` for each name, `concurrency` at once, none started after `start_until` (monotonic clock);
    (results by name, error text by name of those that raised). Each call runs in a copy of this thread's context
    (a Prefect flow run's, so its subflows are children of the batch)."""
    results: dict[str, dict] = {}
    failed: dict[str, str] = {}
    waiting = list(names)
    running: dict[Future, str] = {}
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="pmsync-batch") as pool:
        while waiting or running:
            while waiting and len(running) < concurrency and time.monotonic() < start_until:
                name = waiting.pop(0)
                running[pool.submit(contextvars.copy_context().run, sync_one, name)] = name
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                error = future.exception()
                if error is None:
                    results[name] = future.result()
                else:  # one company's failure is its own: recorded, logged, and the batch goes on
                    failed[name] = f"{type(error).__name__}: {error}"
                    log.error("delta sync of %r failed: %s", name, failed[name])
    return results, failed
