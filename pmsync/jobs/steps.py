"""The steps a job composes; by default the plain library functions, under Prefect each one a task (tasks/steps.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pmsync.imports import run as import_run
from pmsync.sync import lease_balance
from pmsync.push import sender as push_sender
from pmsync.reconcile import plan as reconcile_plan
from pmsync.sync import streams
from pmsync.sync.scope import SyncSession


def keep_lock(session: SyncSession) -> None:
    """Renew the run's lease on the integration's lock between batches that write nothing (a scan, confirmations)."""
    session.keep_lock()


def publish_nothing(*_: Any) -> None:
    """A run without Prefect publishes no artifact: its counts and errors are in sync_runs (`pmsync runs`)."""


def sync_one_delta(steps: Steps, integration: str, overlap_hours: float) -> dict:
    """One integration's delta sync in a batch, with the batch's steps (under Prefect: a delta-sync subflow)."""
    from pmsync.jobs.sync import delta_sync

    return delta_sync(steps, integration, overlap_hours)


@dataclass(frozen=True)
class Steps:
    """What a job calls for each step; `flow_run_id` names the Prefect flow run in the lock holder, when there is one."""

    flow_run_id: str | None = None
    plan_windows: Callable = streams.plan_windows
    open_quality_gate: Callable = streams.open_quality_gate
    extract_batch: Callable = streams.extract_batch
    extract_pages: Callable = streams.extract_pages
    extract_page: Callable = streams.extract_page
    validate_pages: Callable = streams.validate_pages
    load_pages: Callable = streams.load_pages
    publish_run_summary: Callable = publish_nothing
    fetch_lease: Callable = lease_balance.fetch_lease
    load_lease_page: Callable = lease_balance.load_lease_page
    retire_missing_entries: Callable = lease_balance.retire_missing_entries
    read_lease_ledger: Callable = lease_balance.read_lease_ledger
    keep_lock: Callable = keep_lock
    compare_with_platform: Callable = reconcile_plan.compare_with_platform
    check_mass_deactivation: Callable = reconcile_plan.check_mass_deactivation
    confirm_gone: Callable = reconcile_plan.confirm_gone
    commit_reconciliation: Callable = reconcile_plan.commit_reconciliation
    publish_reconciliation: Callable = publish_nothing
    select_work_orders_to_push: Callable = push_sender.select_work_orders_to_push
    push_work_orders: Callable = push_sender.push_work_orders
    publish_push_summary: Callable = publish_nothing
    check_csv: Callable = import_run.check_csv
    write_fix_csv: Callable = import_run.write_fix_csv
    apply_csv: Callable = import_run.apply_csv
    publish_fix_up: Callable = publish_nothing
    publish_import: Callable = publish_nothing
    report_progress: Callable = publish_nothing
    sync_one_delta: Callable = sync_one_delta


PLAIN_STEPS = Steps()
"""The library functions themselves: a job run directly, with no Prefect."""
