"""The sync loop: each stream paged in batches; every batch fetched, checked, then loaded, through a job's steps."""

from __future__ import annotations

import contextlib
import itertools
import logging
from datetime import datetime
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from pmsync.runs.parameters import overlap
from pmsync.platform.database import refresh_statistics
from pmsync.runs.progress import RunProgress
from pmsync.sync.rule_types import Stream
from pmsync.runs.bookkeeping import record_window_start, utc_now
from pmsync.source.paging import PageCursor, SourcePage
from pmsync.source.protocol import NO_SCOPE, Source, Window
from pmsync.sync.state import high_water_marks, window_start
from pmsync.sync.apply import apply_page
from pmsync.sync.changes import drop_unchanged
from pmsync.sync.column_writes import settle_absent, settles_absent
from pmsync.sync.gate import CheckedPage, QualityGate, check_pages, held_summaries
from pmsync.sync.known_rows import mark_known_rows
from pmsync.sync.listings import Listings
from pmsync.sync.scope import SyncSession

if TYPE_CHECKING:
    from pmsync.jobs.steps import Steps

log = logging.getLogger("pmsync.sync")

PAGES_PER_BATCH = 20
"""Pages checked (one GX run per entity: it costs about the same for 500 records or 10,000) and loaded per batch (a
task run under Prefect). Memory holds at most two batches: the one being checked and loaded, and the next, being
fetched or ready."""


def plan_windows(session: SyncSession, streams: tuple[Stream, ...], overlap_hours: float) -> dict[str, datetime | None]:
    """Each stream's window start: min(now − overlap, high-water mark − overlap); None re-reads it fully. An overlap
    outside 0 to OVERLAP_HOURS_MAX hours raises ParameterRejected before anything is read."""
    reread = overlap(overlap_hours)
    with session.engine.begin() as connection:
        marks = high_water_marks(connection, session.integration_id)
        windows = {s.name: window_start(session.started_at, marks.get(s.name), reread) for s in streams}
        earliest = None if None in windows.values() else min(windows.values())
        record_window_start(connection, session.run_id, earliest)
    for name, start in windows.items():
        log.info("%s: window from %s", name, f"{start:%Y-%m-%dT%H:%M:%SZ}" if start else "the beginning")
    return windows


def extract_page(source: Source, stream: Stream, cursor: PageCursor, window: Window | None = None,
                 within: Mapping[str, int] = NO_SCOPE) -> SourcePage:
    """One key-ordered page of `stream` (in `window`, within a parent scope), parsed into its record model."""
    return source.page(stream, cursor, window, within=within)


def extract_pages(
    source: Source, stream: Stream, cursor: PageCursor, window: Window | None, max_pages: int,
    within: Mapping[str, int] = NO_SCOPE,
) -> list[SourcePage]:
    """Up to `max_pages` consecutive pages of `stream` from `cursor`; the last page's `next_cursor` says where the
    next batch starts."""
    pages = [extract_page(source, stream, cursor, window, within)]
    while len(pages) < max_pages and pages[-1].next_cursor is not None:
        pages.append(extract_page(source, stream, pages[-1].next_cursor, window, within))
    return pages


def extract_batch(batches: Iterator[list[SourcePage]], stream: Stream, number: int) -> list[SourcePage] | None:
    """The next batch of a listing's pages, fetched ahead by the prefetcher (waiting for it if it is not there yet);
    None once the listing has ended. `stream` and `number` (1, 2, … within the listing) name the step where it is
    shown (a task run under Prefect)."""
    return next(batches, None)


def open_quality_gate(session: SyncSession, entities: list[str]) -> QualityGate:
    """Every entity's suite, read once for the run (a missing suite fails here, before any page is fetched)."""
    return QualityGate(session.expectations_dir, entities, session.max_failure_share)


def validate_pages(session: SyncSession, gate: QualityGate, stream: Stream, pages: list[SourcePage]) -> list[CheckedPage]:
    """Records whose content is unchanged since they were last applied leave the batch (counted unchanged), and those
    a hashless row already holds as they are pass unchecked; the rest become candidates per entity and go through the
    gate (one GX run per entity for the batch); held records are logged per kind with their top expectations."""
    return check_changed(session, gate, stream, drop_unchanged(session, stream, pages))


def check_changed(session: SyncSession, gate: QualityGate, stream: Stream, pages: list[SourcePage]) -> list[CheckedPage]:
    """`validate_pages` for pages already through `drop_unchanged`."""
    pages = mark_known_rows(session, stream, pages)
    checked = check_pages(gate, stream, pages, utc_now())
    for line in held_summaries(stream, checked):
        log.warning(line)
    return checked


def load_pages(session: SyncSession, stream: Stream, pages: list[CheckedPage]) -> None:
    """Apply checked pages in order, each in its own transaction; then refresh the planner's statistics of tables the
    batch grew a lot (PostgreSQL)."""
    for checked in pages:
        apply_page(session, stream, checked)
    refresh_statistics(session.engine)


def listed_count(pages: list[SourcePage]) -> int:
    """Records the pages listed, those refused at parsing included."""
    return sum(len(page.raw) + len(page.refused) for page in pages)


def nothing_left(changed: list[SourcePage]) -> bool:
    """Whether pages through `drop_unchanged` would change no row: no record refused, none left (every one was one
    whose content the platform already holds; an empty window had none at all)."""
    return not any(page.raw or page.refused for page in changed)


def sync_streams(
    session: SyncSession, streams: tuple[Stream, ...], steps: Steps, overlap_hours: float | None = None,
    progress: RunProgress | None = None,
) -> None:
    """Sync the streams in order (parents first): everything, or with `overlap_hours` each stream's delta window.

    Pipelined: while a batch of up to PAGES_PER_BATCH pages is checked and loaded, a background thread fetches the
    next one (up to the integration's concurrency of pages in flight) and no further — memory stays bounded by two
    batches; a listing's last batch is checked and loaded while the next stream's first is fetched. A delta opens its
    windowed listings all at once, each fetching its first page (pmsync.sync.listings.Listings); a listing that
    ended on that page with nothing to apply (no record, or only records the platform holds as they are) is loaded
    without steps of its own (no task runs under Prefect): its load counts them unchanged and advances the high-water
    mark. The last page of a stream's listing advances its high-water mark in that page's
    transaction. `progress` (when given) hears of each stream's start and of each batch loaded."""
    windows = steps.plan_windows(session, streams, overlap_hours) if overlap_hours is not None else {}
    gate = steps.open_quality_gate(session, [entity for stream in streams for entity in stream.entities])
    if overlap_hours is None:
        gate.warm_up()  # a full read brings records: Great Expectations loads while the first pages arrive
    with contextlib.ExitStack() as stack:
        listings = Listings(stack, session.source, streams, windows, session.started_at, PAGES_PER_BATCH)
        for position, stream in enumerate(streams):
            if progress is not None:
                progress.stream_started(stream.name)
            listing = listings.take(position)
            whole = listing.only_batch()
            if whole is not None and nothing_left(changed := drop_unchanged(session, stream, whole)):
                listings.open_ahead(position + 1)
                next(listing.batches)  # `whole`, taken from the listing
                load_pages(session, stream, check_changed(session, gate, stream, changed))
                if progress is not None:
                    progress.batch_loaded(listed_count(whole), whole[0].total, listing_ended=True)
                continue
            settling = settles_absent(session.integration.rules, stream) is not None and listing.window is None
            listed: set[int] = set()
            complete = unreadable = False
            for number in itertools.count(1):
                if (pages := steps.extract_batch(listing.batches, stream, number)) is None:
                    break
                if pages[-1].next_cursor is None:
                    # the listing has ended: the next one's first batch is fetched while this batch is checked and
                    # loaded (still two batches in memory at most)
                    listings.open_ahead(position + 1)
                if settling:
                    listed.update(source_id for page in pages for source_id in page.listed_ids())
                    unreadable = unreadable or any(r.source_id is None for page in pages for r in page.refused)
                    complete = pages[-1].complete
                steps.load_pages(session, stream, steps.validate_pages(session, gate, stream, pages))
                if progress is not None:
                    progress.batch_loaded(listed_count(pages), pages[0].total,
                                          listing_ended=pages[-1].next_cursor is None)
                if pages[-1].next_cursor is None:
                    break
            if settling and complete and not unreadable:
                settle_absent(session, stream, listed)
            elif settling:
                log.warning("%s: listing not proven complete, or a record in it without a readable id; the rows it "
                            "left out keep their values", stream.name)
