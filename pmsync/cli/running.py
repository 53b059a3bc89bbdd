"""Where a command's job runs: in this process without Prefect, or as its Prefect flow on a server.

No Prefect server configured and no integration block named: `pmsync.jobs.JOBS[name](**params)` here, Prefect never
imported. Otherwise (a server, or a block, which lives on a server) the flow in flows/, its run visible in the UI.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from pmsync.cli.prefect_config import configured_api_url

FLOWS: dict[str, tuple[str, str]] = {
    "initial-sync": ("flows.initial_sync", "initial_sync"),
    "delta-sync": ("flows.delta_sync", "delta_sync"),
    "delta-batch": ("flows.delta_batch", "delta_batch"),
    "lease-sync": ("flows.lease_sync", "lease_sync"),
    "lease-balance": ("flows.lease_balance", "lease_balance"),
    "property-reconciliation": ("flows.reconciliation", "reconcile"),
    "work-order-push": ("flows.work_order_push", "work_order_push"),
    "csv-import": ("flows.csv_import", "csv_import"),
    "csv-import-operator-file": ("flows.csv_import", "csv_import_operator_file"),
}
"""The Prefect flow behind each job name of `pmsync.jobs.JOBS` (the flow's Prefect name, or its own key)."""

EPHEMERAL_STARTUP_SECONDS = 180
"""How long a temporary Prefect server may take to answer: a first start on a cold 2-core machine migrates a new
database (measured 16–25 s; Prefect's own default of 20 s fails there)."""


def runs_in_process(integration: str | list[str] | None) -> bool:
    """True when the job runs as a plain function here: no Prefect server configured and no block named (one, or a
    batch's list)."""
    return not integration and configured_api_url() is None


def run_job(flow_name: str, **params: object) -> dict:
    """Run the job `flow_name` with the flow's keyword parameters and return its result dict; a parameter out of its
    bounds raises ParameterRejected before either starts (no Prefect server started for a run it would refuse).

    In process: `pmsync.jobs.JOBS[flow_name]` with the plain steps, its log lines on stderr. Otherwise the flow in
    flows/, against the configured server or a temporary one (`prefect_ready`). Either way a sync's progress is shown
    as it goes (`pmsync.cli.progress_bar`).
    """
    from pmsync.cli.progress_bar import progress_shown
    from pmsync.jobs import JOBS
    from pmsync.runs.parameters import check_parameters

    params = check_parameters(JOBS[flow_name].function, params)  # type: ignore[attr-defined]
    if runs_in_process(params.get("integration") or params.get("integrations")):
        from pmsync.jobs.steps import PLAIN_STEPS

        _log_to_stderr()
        with progress_shown() as show:
            return JOBS[flow_name].function(replace(PLAIN_STEPS, report_progress=show), **params)  # type: ignore[attr-defined]
    from pmsync.runs.progress import listening

    module, name = FLOWS[flow_name]
    flow = getattr(importlib.import_module(module), name)
    with prefect_ready(), heartbeats_only_when_configured(), prefect_services_drained():
        with progress_shown() as show, listening(show):
            return flow(**params)


@contextmanager
def prefect_services_drained() -> Iterator[None]:
    """Send a flow run's last events and log lines before the command prints its closing line: Prefect otherwise
    sends them as the interpreter exits, and a slow server's 'Still processing items' warning would follow the summary
    or the error."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    try:
        yield
    finally:
        for worker in (APILogWorker, EventsWorker):
            worker.drain_all(at_exit=False)


@contextmanager
def heartbeats_only_when_configured() -> Iterator[None]:
    """A flow run started here sends Prefect's flow-run heartbeats only when PREFECT_FLOWS_HEARTBEAT_FREQUENCY is set
    (environment, profile or prefect.toml): they serve only an automation the operator made to mark silent runs
    crashed, and their thread, which sleeps in one-second steps, holds the command up to a second as the run ends.
    Deployment runs (a worker's) are not started here and keep Prefect's default."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

    if "heartbeat_frequency" in get_current_settings().flows.model_fields_set:
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _log_to_stderr() -> None:
    """What a Prefect flow run would print of the library's INFO lines (waiting for the lock, pages, takeovers)."""
    library = logging.getLogger("pmsync")
    if any(getattr(handler, "pmsync_cli", False) for handler in library.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d | %(levelname)-7s | %(message)s", "%H:%M:%S"))
    handler.pmsync_cli = True  # type: ignore[attr-defined]
    library.setLevel(logging.INFO)
    library.addHandler(handler)


@contextmanager
def prefect_ready() -> Iterator[None]:
    """Run flows here: against the configured Prefect server, or a temporary one with a startup time a cold
    machine meets, announced in one line on stderr."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    timeout = max(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value(), EPHEMERAL_STARTUP_SECONDS)
    print(
        f"no PREFECT_API_URL set: starting a temporary local Prefect server for this run (up to {timeout} s on a "
        "first start; set PREFECT_API_URL to use a running server)",
        file=sys.stderr,
        flush=True,
    )
    with temporary_settings(updates={PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: timeout}):
        yield
