"""Names in the Prefect UI: flow runs by flow, integration and start; each step's task runs in words, by what they work on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import prefect.runtime

from pmsync.platform.settings import IntegrationNameSettings
from pmsync.runs.names import run_name, run_name_prefix


def flow_run_name(flow: str) -> Callable[[], str]:
    """A `flow_run_name` for `flow`: `delta-sync · acme · 2026-11-30 23:30:00 UTC`, naming the integration block the
    run was given, else the environment's integration; the start is the run's scheduled start. A run pmsync named
    when it created it (`pmsync sync now`, `integration add`, an upload: pmsync/runs/names.py) keeps that name, so the
    name the command printed is the one the UI shows; a name that guessed another integration is corrected."""

    def name() -> str:
        parameters = prefect.runtime.flow_run.parameters
        integration = parameters.get("integration") or IntegrationNameSettings().integration_name
        given = prefect.runtime.flow_run.name or ""
        if given.startswith(run_name_prefix(flow, integration)):
            return given
        return run_name(flow, integration, prefect.runtime.flow_run.scheduled_start_time)

    return name


def batch_run_name(step: str) -> Callable[..., str]:
    """A `task_run_name` for a step over one batch of a listing: `extract · leases · batch 2`, and once the pages
    are known `validate · leases · pages 21–40`, `load · leases · pages 21–40`."""

    def name(parameters: dict[str, Any]) -> str:
        stream = parameters["stream"].name
        if "pages" not in parameters:
            return f"{step} · {stream} · batch {parameters['number']}"
        pages = [getattr(page, "page", page) for page in parameters["pages"]]  # a CheckedPage holds its SourcePage
        if not pages:
            return f"{step} · {stream} · no pages"
        size = parameters["session"].source.page_size
        first, last = pages[0].offset // size + 1, pages[-1].offset // size + 1
        return f"{step} · {stream} · " + (f"page {first}" if first == last else f"pages {first}–{last}")

    return name


def _scan_name(parameters: dict[str, Any]) -> str:
    cursor, stream = parameters["cursor"], parameters["stream"].name
    return f"scan · {stream} · from page {cursor.offset // parameters['source'].page_size + 1}"


def _formatted(template: str) -> Callable[[dict[str, Any]], str]:
    """A `task_run_name` filling `template` from the task's parameters: `recount · {stream.name}`."""

    def name(parameters: dict[str, Any]) -> str:
        return template.format(**parameters)

    return name


def _counted(template: str, key: str, noun: str) -> Callable[[dict[str, Any]], str]:
    """A `task_run_name` filling `template` from the parameters and `{count}`: how many of `noun` in `key`."""

    def name(parameters: dict[str, Any]) -> str:
        count = len(parameters[key])
        return template.format(**parameters, count=f"{count:,} {noun}" if count != 1 else f"1 {noun.removesuffix('s')}")

    return name


def _selection(parameters: dict[str, Any]) -> str:
    chosen = parameters.get("work_order_id")
    return f"select · work order {chosen}" if chosen is not None else "select · every pending work order"


STEP_NAMES = {
    "plan_windows": "plan the windows",
    "open_quality_gate": "open the quality gate",
    "extract_batch": "extract",
    "extract_pages": "scan",
    "extract_page": "recount",
    "validate_pages": "validate",
    "load_pages": "load",
    "publish_run_summary": "publish the run's summary",
    "fetch_lease": "fetch the lease",
    "load_lease_page": "load the lease",
    "retire_missing_entries": "retire missing ledger entries",
    "read_lease_ledger": "read the lease's ledger",
    "keep_lock": "keep the lock",
    "compare_with_platform": "compare with the platform",
    "check_mass_deactivation": "check the mass-deactivation guard",
    "confirm_gone": "confirm gone",
    "commit_reconciliation": "commit the reconciliation",
    "publish_reconciliation": "publish the reconciliation report",
    "select_work_orders_to_push": "select the work orders to push",
    "push_work_orders": "push",
    "publish_push_summary": "publish the push summary",
    "check_csv": "check the file",
    "write_fix_csv": "write the fix-up file",
    "apply_csv": "apply the file",
    "publish_fix_up": "publish the fix-up file",
    "publish_import": "publish the import",
}
"""Each step's task name in the Prefect UI: what it does, in words (a task run without a name of its own below takes it)."""

TASK_RUN_NAMES: dict[str, Callable[..., str]] = {
    "extract_batch": batch_run_name("extract"),
    "validate_pages": batch_run_name("validate"),
    "load_pages": batch_run_name("load"),
    "extract_pages": _scan_name,
    "extract_page": _formatted("recount · {stream.name}"),
    "confirm_gone": _counted("confirm gone · {stream.name} · {count}", "batch", "records"),
    "fetch_lease": _formatted("fetch · lease {lease_id}"),
    "load_lease_page": _formatted("load · {stream.name}"),
    "retire_missing_entries": _formatted("retire missing · {stream.name} of lease {lease_id}"),
    "read_lease_ledger": _formatted("read the ledger · lease {lease_id}"),
    "select_work_orders_to_push": _selection,
    "push_work_orders": _counted("push · {count}", "work_order_ids", "work orders"),
    "check_csv": _formatted("check · {kind} file"),
    "write_fix_csv": _formatted("write the fix-up file · {kind}"),
    "apply_csv": _formatted("apply · {kind} file"),
}
"""The steps whose task runs are named by what they work on (stream, batch, pages, lease, work orders, kind of file);
the others' task runs are named as their step (STEP_NAMES)."""


def task_names(step: str) -> tuple[str, Callable[..., str] | str]:
    """The task name and the task-run name of a job's step."""
    return STEP_NAMES[step], TASK_RUN_NAMES.get(step, STEP_NAMES[step])
