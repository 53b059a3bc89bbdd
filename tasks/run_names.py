"""Names in the Prefect UI: flow runs by flow, integration and start; a batch's task runs by stream and pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import prefect.runtime

from pmsync.platform_settings import IntegrationNameSettings


def flow_run_name(flow: str) -> Callable[[], str]:
    """A `flow_run_name` for `flow`: `delta-sync · acme · 2026-11-30 23:30:00 UTC`, naming the integration block the
    run was given, else the environment's integration; the start is the run's scheduled start."""

    def name() -> str:
        parameters = prefect.runtime.flow_run.parameters
        integration = parameters.get("integration") or IntegrationNameSettings().integration_name
        started = prefect.runtime.flow_run.scheduled_start_time or datetime.now(timezone.utc)
        return f"{flow} · {integration} · {started.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"

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
        size = parameters["session"].client.page_size
        first, last = pages[0].offset // size + 1, pages[-1].offset // size + 1
        return f"{step} · {stream} · " + (f"page {first}" if first == last else f"pages {first}–{last}")

    return name


TASK_RUN_NAMES = {
    "extract_batch": batch_run_name("extract"),
    "validate_pages": batch_run_name("validate"),
    "load_pages": batch_run_name("load"),
}
"""The steps whose task runs are named by stream and batch; the others keep the step's name."""
