"""The reconciliation job: deactivate what the source no longer has, reactivate what came back, keep a snapshot."""

from __future__ import annotations

import logging

from pmsync.integrations.integration import resolve_integration
from pmsync.jobs.steps import Steps
from pmsync.runs.parameters import DeactivationShare, IntegrationName, checked_parameters
from pmsync.runs.progress import RunProgress
from pmsync.reconcile.parts import IncompleteListing, MassGuard, ReconciliationPlan, SourceListing
from pmsync.sync.rule_types import Reconciled, Stream
from pmsync.settings import PlatformSettings
from pmsync.source import SourceUnavailable
from pmsync.source.paging import PageCursor
from pmsync.sync.scope import SyncSession, run_scope
from pmsync.sync.streams import PAGES_PER_BATCH
from reports.settings import ReportsSettings

log = logging.getLogger("pmsync.reconcile")

CONFIRM_BATCH = 100
CONFIRMATIONS = "confirmations"
"""The progress's last share: the would-be deactivations confirmed one by one, after both listings' scans."""


@checked_parameters
def reconcile(
    steps: Steps,
    integration: IntegrationName | None = None,
    dry_run: bool = False,
    allow_mass_deactivation: bool = False,
    max_deactivation_share: DeactivationShare = 0.2,
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
        with (run_scope(account, platform, "reconcile-dry-run", flow_run_id=steps.flow_run_id) as session,
              _progress(session, steps, "reconcile-dry-run") as progress):
            summary = plan_reconciliation(session, guard, steps, progress).summary(dry_run=True)
        progress.succeeded()
        return summary
    reports_url = ReportsSettings().url
    with (run_scope(account, platform, "reconcile", flow_run_id=steps.flow_run_id,
                    publish=steps.publish_run_summary) as session,
          _progress(session, steps, "reconcile") as progress):
        plan = plan_reconciliation(session, guard, steps, progress)
        snapshot_id = steps.commit_reconciliation(session, plan)
        steps.publish_reconciliation(session, plan, snapshot_id, reports_url)
    progress.succeeded()
    return {**session.summary.result(), **plan.summary(dry_run=False, snapshot_id=snapshot_id)}


def _progress(session: SyncSession, steps: Steps, flow: str) -> RunProgress:
    """The run's progress, in equal shares: each reconciled kind's unit listing scan and building listing scan, then
    the confirmations."""
    listings = [session.source.presence_listing(entity).name for pair in _reconciled(session)
                for entity in (pair.unit, pair.property)]
    return RunProgress(steps.report_progress, session.run_id, session.integration_name, flow, [*listings, CONFIRMATIONS])


def _reconciled(session: SyncSession) -> tuple[Reconciled, ...]:
    """The unit and property entities the integration's rule table reconciles, one pair per kind."""
    return session.integration.rules.reconciles if session.integration is not None else (Reconciled(),)


def plan_reconciliation(session: SyncSession, guard: MassGuard, steps: Steps, progress: RunProgress) -> ReconciliationPlan:
    """For each kind the rule table reconciles, scan both listings, compare and guard; then confirm every would-be
    deactivation by a direct GET on its own kind's path. The lock is renewed after every batch of pages or
    confirmations, so a scan longer than the lease keeps it."""
    compared = []
    for pair in _reconciled(session):
        unit_stream, building_stream = (session.source.presence_listing(entity) for entity in (pair.unit, pair.property))
        unit_listing = scan_listing(session, unit_stream, steps, progress)
        building_listing = scan_listing(session, building_stream, steps, progress)
        plan = steps.compare_with_platform(session, unit_listing, building_listing)
        steps.check_mass_deactivation(session, plan, (unit_listing, building_listing), guard)
        compared.append((unit_stream, building_stream, plan))
    progress.stream_started(CONFIRMATIONS)
    to_confirm = sum(len(plan.gone_units) + len(plan.gone_properties) for _, _, plan in compared)
    for unit_stream, building_stream, plan in compared:
        plan.gone_units = confirm_in_batches(session, unit_stream, plan.gone_units, steps, progress, to_confirm)
        plan.gone_properties = confirm_in_batches(session, building_stream, plan.gone_properties, steps, progress,
                                                  to_confirm)
    progress.batch_loaded(0, to_confirm, listing_ended=True)
    plan = compared[0][2] if len(compared) == 1 else ReconciliationPlan.combined([plan for _, _, plan in compared])
    plan.mass_deactivation_allowed = guard.allowed
    return plan


def confirm_in_batches(
    session: SyncSession, stream: Stream, targets: list, steps: Steps, progress: RunProgress, to_confirm: int
) -> list:
    confirmed = []
    for start in range(0, len(targets), CONFIRM_BATCH):
        batch = targets[start:start + CONFIRM_BATCH]
        confirmed += steps.confirm_gone(session.source, stream, batch)
        steps.keep_lock(session)
        progress.batch_loaded(len(batch), to_confirm, listing_ended=False)
    return confirmed


def scan_listing(session: SyncSession, stream: Stream, steps: Steps, progress: RunProgress) -> SourceListing:
    """Every id of a full listing, trusted only when it matches X-Total-Count before, during and after; one rescan.
    Its share of the progress is whole only once the listing is trusted (a rescan starts it again)."""
    problem, listing_request = "", f"{stream.name} listing"
    for attempt in (1, 2):
        listing = SourceListing(stream)
        progress.stream_started(stream.name)
        try:
            cursor: PageCursor | None = PageCursor()
            while cursor is not None:
                pages = steps.extract_pages(session.source, stream, cursor, None, PAGES_PER_BATCH)
                for page in pages:
                    listing.add(page)
                listing_request = pages[0].request
                steps.keep_lock(session)
                progress.batch_loaded(sum(len(p.records) + len(p.refused) for p in pages), pages[0].total,
                                      listing_ended=False)
                cursor = pages[-1].next_cursor
            total_after = steps.extract_page(session.source, stream, PageCursor()).total
        except SourceUnavailable as failure:
            problem, listing_request = str(failure), failure.request
        else:
            problem = listing.problem(total_after) or ""
            if not problem:
                progress.batch_loaded(0, total_after, listing_ended=True)
                return listing
        log.warning("%s listing, scan %d of 2 is incomplete: %s", stream.name, attempt, problem)
    raise IncompleteListing(
        f"the {stream.name} listing was incomplete twice ({problem}); nothing was deactivated, run again later",
        request=listing_request,
    )
