"""Property reconciliation: deactivate what the source no longer has, reactivate what came back, keep a snapshot."""

from __future__ import annotations

from prefect import flow, get_run_logger

from pmsync.integrations import resolve_integration
from pmsync.reconciliation import BUILDING_LISTING, UNIT_LISTING, IncompleteListing, MassGuard, ReconciliationPlan, SourceListing
from pmsync.rules import Stream
from pmsync.settings import PlatformSettings
from pmsync.source import SourceUnavailable
from pmsync.source.client import PageCursor
from reports.settings import ReportsSettings
from flows.common import PAGES_PER_BATCH
from tasks.extract import extract_page, extract_pages
from tasks.load import close_run, open_run
from tasks.reconcile import (
    ReconcileScope,
    check_mass_deactivation,
    close_dry_run,
    commit_reconciliation,
    compare_with_platform,
    confirm_gone,
    keep_lock,
    open_dry_run,
    publish_reconciliation,
    scope_of,
)

CONFIRM_BATCH = 100


@flow(name="property-reconciliation")
def reconcile(
    integration: str | None = None,
    dry_run: bool = False,
    allow_mass_deactivation: bool = False,
    max_deactivation_share: float = 0.2,
) -> dict:
    """Compare the source's full unit and building lists with the platform's active ones and apply the difference.

    Only a listing proven complete counts, and every deactivation is confirmed record by record; a run that would
    deactivate more than `max_deactivation_share` of the active units (or finds the source's list empty) deactivates
    nothing and fails unless `allow_mass_deactivation`. A dry run reports the same without writing anything.
    """
    account = resolve_integration(integration)
    platform = PlatformSettings()
    guard = MassGuard(max_deactivation_share, allow_mass_deactivation)
    if dry_run:
        scope = open_dry_run(account, platform)
        try:
            return plan_reconciliation(scope, guard).summary(dry_run=True)
        finally:
            close_dry_run(scope)
    reports_url = ReportsSettings().url
    session = open_run(account, platform, "reconcile")
    scope = scope_of(session)
    try:
        plan = plan_reconciliation(scope, guard)
        snapshot_id = commit_reconciliation(scope, plan)
        publish_reconciliation(scope, plan, snapshot_id, reports_url)
    except Exception as failure:
        close_run(session, error=f"{type(failure).__name__}: {failure}")
        raise
    return {**close_run(session), **plan.summary(dry_run=False, snapshot_id=snapshot_id)}


def plan_reconciliation(scope: ReconcileScope, guard: MassGuard) -> ReconciliationPlan:
    """Scan both listings, compare, guard, and confirm every would-be deactivation by a direct GET; the lock is renewed
    after every batch of pages or confirmations, so a scan longer than the lease keeps it."""
    unit_listing = scan_listing(scope, UNIT_LISTING)
    building_listing = scan_listing(scope, BUILDING_LISTING)
    plan = compare_with_platform(scope, unit_listing, building_listing)
    check_mass_deactivation(scope, plan, (unit_listing, building_listing), guard)
    plan.gone_units = confirm_in_batches(scope, UNIT_LISTING, plan.gone_units)
    plan.gone_properties = confirm_in_batches(scope, BUILDING_LISTING, plan.gone_properties)
    plan.mass_deactivation_allowed = guard.allowed
    return plan


def confirm_in_batches(scope: ReconcileScope, stream: Stream, targets: list) -> list:
    confirmed = []
    for start in range(0, len(targets), CONFIRM_BATCH):
        confirmed += confirm_gone(scope.client, stream, targets[start:start + CONFIRM_BATCH])
        keep_lock(scope)
    return confirmed


def scan_listing(scope: ReconcileScope, stream: Stream) -> SourceListing:
    """Every id of a full listing, trusted only when it matches X-Total-Count before, during and after; one rescan."""
    params = dict(stream.list_params)
    problem = ""
    for attempt in (1, 2):
        listing = SourceListing(stream)
        try:
            cursor: PageCursor | None = PageCursor()
            while cursor is not None:
                pages = extract_pages(scope.client, stream, cursor, params, PAGES_PER_BATCH)
                for page in pages:
                    listing.add(page)
                keep_lock(scope)
                cursor = pages[-1].next_cursor
            total_after = extract_page(scope.client, stream, PageCursor(), params).total
        except SourceUnavailable as failure:
            problem = str(failure)
        else:
            problem = listing.problem(total_after) or ""
            if not problem:
                return listing
        get_run_logger().warning("%s listing, scan %d of 2 is incomplete: %s", stream.path, attempt, problem)
    raise IncompleteListing(
        f"the {stream.name} listing was incomplete twice ({problem}); nothing was deactivated, run again later",
        request=f"GET {stream.path}?includeDeactivated=true",
    )
