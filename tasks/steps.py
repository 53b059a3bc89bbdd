"""The Prefect variant of a job's steps: each step a task wrapping the library function, a task per batch."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

import prefect.runtime
from prefect import task
from prefect.cache_policies import NONE
from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler
from prefect.utilities.annotations import quote

from pmsync.jobs.steps import PLAIN_STEPS, Steps, publish_nothing
from pmsync.runs.process_exit import skip_final_collection
from tasks import artifacts
from tasks.events import publish_run_summary_and_events
from tasks.progress import ProgressArtifact
from tasks.run_names import task_names

LIBRARY_LOGGER = "pmsync"
PUBLISHERS = {
    "publish_run_summary": publish_run_summary_and_events,
    "publish_reconciliation": artifacts.publish_reconciliation,
    "publish_push_summary": artifacts.publish_push_summary,
    "publish_fix_up": artifacts.publish_fix_up,
    "publish_import": artifacts.publish_import,
}


def as_task(function: Callable, name: str) -> Callable:
    """`function`, the step `name`, as a Prefect task named in words (tasks/run_names.py), called with every argument `quote`d: Prefect would otherwise walk
    every record of every argument (measured: 172 ms instead of 36 ms a task)."""
    task_name, task_run_name = task_names(name)
    wrapped = task(name=task_name, task_run_name=task_run_name, cache_policy=NONE, persist_result=False)(function)

    def call(*args: Any, **kwargs: Any) -> Any:
        return wrapped(*(quote(a) for a in args), **{k: quote(v) for k, v in kwargs.items()})

    call.__name__ = call.__qualname__ = name
    call.__doc__ = function.__doc__
    return call


NOT_TASKS = ("flow_run_id", "report_progress", "sync_one_delta")
"""Steps that are no task run: the lock holder's id, the progress artifact (tasks/progress.py) and a batch's
integration, which is a subflow of its own (`delta_subflow`)."""


def delta_subflow(_: Steps, integration: str, overlap_hours: float) -> dict:
    """One integration of a delta batch: the delta-sync flow as a subflow of the batch (its own flow run, named for the
    integration, with its own steps, progress and summary artifacts); a failed one raises its error here."""
    from flows.delta_sync import delta_sync

    return delta_sync(integration=integration, overlap_hours=overlap_hours)


def _task_steps() -> dict[str, Callable]:
    plain = {f.name: getattr(PLAIN_STEPS, f.name) for f in fields(Steps) if f.name not in NOT_TASKS}
    functions = {**{name: fn for name, fn in plain.items() if fn is not publish_nothing}, **PUBLISHERS}
    return {name: as_task(function, name) for name, function in functions.items()}


TASK_STEPS = _task_steps()


def _in_a_prefect_run(_: logging.LogRecord) -> bool:
    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def show_library_logs() -> None:
    """Send the library's `pmsync.*` log records (INFO and up) to the flow run's logs in the Prefect UI (what
    PREFECT_LOGGING_EXTRA_LOGGERS=pmsync does, plus the level); records outside a flow or task run stay local."""
    library = logging.getLogger(LIBRARY_LOGGER)
    if library.level == logging.NOTSET:
        library.setLevel(logging.INFO)
    if not any(isinstance(handler, APILogHandler) for handler in library.handlers):
        handler = APILogHandler()
        handler.addFilter(_in_a_prefect_run)
        library.addHandler(handler)


def prefect_steps() -> Steps:
    """The steps of the current flow run: tasks, the flow run's id for the lock holder, and its progress artifact
    (a plain call per batch, not a task run). A worker's flow-run process skips the last garbage collection at exit
    (pmsync.runs.process_exit)."""
    show_library_logs()
    skip_final_collection()
    flow_run_id = prefect.runtime.flow_run.id
    return replace(PLAIN_STEPS, flow_run_id=str(flow_run_id) if flow_run_id else None,
                   **TASK_STEPS, report_progress=ProgressArtifact(),
                   sync_one_delta=delta_subflow)
