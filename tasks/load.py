"""Load: open and close a run, and apply checked pages (the page apply itself is pmsync.sync.apply)."""

from __future__ import annotations

import os
import re
import socket
from collections import Counter
from datetime import datetime, timedelta

import prefect.runtime
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE

from pmsync.integrations import Integration
from pmsync.locks import acquire, release
from pmsync.platform import make_engine, migrate, refresh_statistics
from pmsync.quality import run_quality, run_warned
from pmsync.rules import Stream
from pmsync.runs import (
    LOCKED_FLOWS,
    abandon_dead_runs,
    ensure_integration,
    finish_run,
    record_window_start,
    run_counts,
    scrub_credentials,
    run_window_start,
    stale_parked,
    start_run,
    utc_now,
)
from pmsync.settings import PlatformSettings
from pmsync.state import high_water_marks, window_start
from pmsync.sync.apply import apply_page
from pmsync.sync.gate import CheckedPage
from pmsync.sync.scope import SyncSession


@task(name="open_run", cache_policy=NONE, persist_result=False)
def open_run(integration: Integration, platform: PlatformSettings, flow: str) -> SyncSession:
    """Migrate the platform schema, wait for the integration's lock, register it and start a sync_runs row."""
    if flow not in LOCKED_FLOWS:
        raise ValueError(f"flow {flow!r} takes the integration's lock: add it to pmsync.runs.LOCKED_FLOWS")
    logger = get_run_logger()
    engine = make_engine(platform.database_url)
    migrate(engine)
    holder = f"{socket.gethostname()}:{os.getpid()} flow run {prefect.runtime.flow_run.id}"
    lease = timedelta(minutes=platform.lock_lease_minutes)
    acquire(engine, integration.name, holder, flow, lease, timedelta(minutes=platform.lock_wait_minutes), logger.info)
    try:
        with engine.begin() as connection:
            integration_id = ensure_integration(connection, integration)
            abandoned = abandon_dead_runs(connection, integration_id, holder)
        if abandoned:
            logger.warning("%d earlier run(s) of %r never finished; marked abandoned", abandoned, integration.name)
        started_at = utc_now()
        run_id = start_run(engine, integration_id, flow, integration.rules.entities(), (None, started_at))
    except BaseException:
        release(engine, integration.name, holder)
        raise
    logger.info("run %s: %s sync of integration %r started", run_id, flow, integration.name)
    parked_alert = timedelta(hours=platform.parked_alert_hours)
    client = integration.open_client()
    return SyncSession(
        integration, client, engine, integration_id, run_id, flow, started_at, parked_alert,
        platform.expectations_dir, platform.quality_max_failure_share, holder, lease,
    )


@task(name="plan_windows", cache_policy=NONE, persist_result=False)
def plan_windows(session: SyncSession, streams: tuple[Stream, ...], overlap_hours: float) -> dict[str, datetime | None]:
    """Each stream's window start: min(now − overlap, high-water mark − overlap); None re-reads it fully."""
    overlap = timedelta(hours=overlap_hours)
    with session.engine.begin() as connection:
        marks = high_water_marks(connection, session.integration_id)
        windows = {s.name: window_start(session.started_at, marks.get(s.name), overlap) for s in streams}
        earliest = None if None in windows.values() else min(windows.values())
        record_window_start(connection, session.run_id, earliest)
    for name, start in windows.items():
        get_run_logger().info("%s: window from %s", name, f"{start:%Y-%m-%dT%H:%M:%SZ}" if start else "the beginning")
    return windows


@task(name="load_pages", cache_policy=NONE, persist_result=False)
def load_pages(session: SyncSession, stream: Stream, pages: list[CheckedPage]) -> None:
    """Apply checked pages in order, each in its own transaction (one task run for the batch); then refresh the
    planner's statistics of tables the batch grew a lot (PostgreSQL)."""
    for checked in pages:
        apply_page(session, stream, checked)
    refresh_statistics(session.engine)


@task(name="close_run", cache_policy=NONE, persist_result=False)
def close_run(session: SyncSession, error: str | None = None) -> dict:
    """Mark the run succeeded or failed, release the lock; return counts per entity and long-parked records.

    The error is recorded, published and logged with the integration's credentials scrubbed from it."""
    error = scrub_credentials(error, session.integration)
    try:
        finish_run(session.engine, session.run_id, error=error, source_requests=session.client.requests_made)
    finally:
        release(session.engine, session.integration.name, session.lock_holder)
    with session.engine.connect() as connection:
        counts = run_counts(connection, session.run_id)
        stale = stale_parked(connection, session.integration_id, session.started_at - session.parked_alert)
        failing = run_quality(connection, session.run_id)
        warnings = run_quality(connection, session.run_id, "warning")
        warned = run_warned(connection, session.run_id)
        window_from = run_window_start(connection, session.run_id)
    publish_run_summary(session, counts, (failing, warnings, warned), error, window_from)
    logger = get_run_logger()
    state = "failed" if error else "succeeded"
    logger.info("run %s %s after %d source requests", session.run_id, state, session.client.requests_made)
    if stale:
        logger.warning("%d parked records have waited longer than %s for their parent", stale, session.parked_alert)
    session.client.close()
    return {"run_id": session.run_id, "counts": counts, "stale_parked": stale}


def publish_run_summary(
    session: SyncSession, counts: dict, quality: tuple[dict, dict, Counter], error: str | None, window_from: datetime | None
) -> None:
    """A table artifact of the run: per entity counts, its top failing expectations, and the records loaded with a
    warning and their top warnings (ids and counts only)."""
    failing, warnings, warned = quality
    rows = [
        {
            "entity": entity, **numbers, "passed quality": numbers["fetched"] - numbers["quarantined"],
            "top failing expectations": _top(failing.get(entity)),
            "loaded with a warning": warned.get(entity, 0), "top warnings": _top(warnings.get(entity)),
        }
        for entity, numbers in counts.items()
    ]
    took = (utc_now() - session.started_at).total_seconds()
    state = f"failed: {error}" if error else "succeeded"
    since = f"{window_from:%Y-%m-%d %H:%M:%S}" if window_from else "the beginning"
    create_table_artifact(
        key=f"{session.flow}-sync-{_slug(session.integration.name)}",
        table=rows,
        description=(
            f"run {session.run_id} · {session.flow} sync of {session.integration.name!r} · {state} · {took:.1f} s · "
            f"window {since} → {session.started_at:%Y-%m-%d %H:%M:%S} UTC"
        ),
    )


def _top(labels: Counter | None) -> str:
    return ", ".join(f"{label} ×{n}" for label, n in (labels or Counter()).most_common(3))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "integration"
