"""The sync jobs: initial (everything), delta (each stream's window) and lease (every lease, overwritten)."""

from __future__ import annotations

from pmsync.integrations.integration import Integration, resolve_integration
from pmsync.jobs.steps import Steps
from pmsync.push.sender import count_sweepable
from pmsync.runs.parameters import IntegrationName, OverlapHours, checked_parameters
from pmsync.runs.progress import RunProgress
from pmsync.sync.rule_types import Stream
from pmsync.settings import PlatformSettings
from pmsync.sync.gate_process import start_gate_process
from pmsync.sync.scope import run_scope
from pmsync.sync.streams import sync_streams


def sync_integration(
    steps: Steps, account: Integration, flow: str, streams: tuple[Stream, ...], overlap_hours: float | None = None
) -> dict:
    """One locked sync run of `account` over `streams`; its run id, counts per entity, long-parked records, its
    integration's name and how many of its work orders wait to be pushed (`work_orders_pending`: changes the platform
    app wrote to the database with no event; one count query at the run's end, which the delta-sync flow announces).

    Its progress goes to `steps.report_progress` as each stream starts and after each batch; 100 % only once the
    run has ended recorded as succeeded (a failed run's last report stays where it stopped). A full read (no
    `overlap_hours`) starts the quality gate's process first: its pages bring records to check."""
    if overlap_hours is None:
        start_gate_process()
    with run_scope(account, PlatformSettings(), flow, flow_run_id=steps.flow_run_id,
                   publish=steps.publish_run_summary) as session, RunProgress(
            steps.report_progress, session.run_id, session.integration_name, flow, [stream.name for stream in streams]
    ) as progress:
        sync_streams(session, streams, steps, overlap_hours, progress)
        pending = count_sweepable(session.engine, session.integration_name)
    progress.succeeded()
    return {**session.summary.result(), "integration": session.integration_name, "work_orders_pending": pending}


@checked_parameters
def initial_sync(steps: Steps, integration: IntegrationName | None = None) -> dict:
    """Pull everything the rules include; re-runnable (a second run creates and updates nothing)."""
    account = resolve_integration(integration)
    return sync_integration(steps, account, "initial", account.rules.streams)


@checked_parameters
def delta_sync(steps: Steps, integration: IntegrationName | None = None, overlap_hours: OverlapHours = 72.0) -> dict:
    """Each stream from min(now − overlap, its high-water mark − overlap) to the run's start; never-synced streams in full
    (the nightly-only streams are left to the nightly lease sync)."""
    account = resolve_integration(integration)
    hourly = tuple(stream for stream in account.rules.streams if not stream.nightly)
    return sync_integration(steps, account, "delta", hourly, overlap_hours)


@checked_parameters
def lease_sync(steps: Steps, integration: IntegrationName | None = None) -> dict:
    """Read every lease (no window) and apply the lease and resident rules; then the listings only the nightly sync
    reads, whole (a source's outstanding balances)."""
    account = resolve_integration(integration)
    nightly = tuple(stream for stream in account.rules.streams if stream.nightly)
    return sync_integration(steps, account, "lease", (account.rules.stream("leases"), *nightly))
