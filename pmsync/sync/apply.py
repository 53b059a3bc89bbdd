"""Apply one checked page under the sync rules: rows, quarantine, reasons, counts and the stream mark in one transaction."""

from __future__ import annotations

import logging

from sqlalchemy import update
from sqlalchemy.engine import Connection

from pmsync.runs.locks import renew
from pmsync.platform.database import among
from pmsync.sync.quality import quarantine_records, release_passing
from pmsync.sync.rule_types import Stream
from pmsync.runs.bookkeeping import add_counts, utc_now
from pmsync.source.paging import SourcePage
from pmsync.sync.state import mark_stream_complete
from pmsync.sync.changes import SKIPPED_COUNTS, hashed_entity, page_hashes, record_salt
from pmsync.sync.collector import collector_paused
from pmsync.sync.gate import CheckedPage
from pmsync.sync.held import HELD_UNCHANGED, mark_held_seen
from pmsync.sync.policy import LoadContext, PageOutcome, apply_candidates
from pmsync.sync.scope import SyncSession
from schemas.source_values import is_source_id
from schemas.entity_rows import rows_of

log = logging.getLogger("pmsync.sync")


def apply_page(
    session: SyncSession, stream: Stream, checked: CheckedPage, *, whole_listing: bool = True
) -> dict[str, dict[str, int]]:
    """Apply a checked page under the sync rules; rows, quarantine, reasons, hashes and counts commit together.

    Each record's own row keeps the hash of its payload only when the payload applied cleanly: not quarantined, not
    loaded with a warning (a clock-skew warning depends on now), not excluded or parked, no derived row quarantined
    or parked; otherwise the hash is cleared, so the record is checked again next time. Records drop_unchanged took
    off the page are counted as it says.

    A page of a whole listing renews the run's lock and, on the listing's last page, marks the stream complete (its
    high-water mark); a page of one lease's records (`whole_listing=False`, the balance) does neither."""
    integration = session.integration
    rules = integration.rules
    page = checked.page
    context = LoadContext(session.integration_id, integration.integration_user, session.run_id, utc_now(), rules)
    outcome = PageOutcome()
    for entity, numbers in page.extra.get(SKIPPED_COUNTS, {}).items():
        outcome.add(entity, **numbers)
    held = [*checked.failures, *checked.warnings]
    hashed = hashed_entity(stream)
    hashes: dict[int, str | None] = {}
    if hashed is not None:
        held_ids = (stream.record.raw_id(failure.record) for failure in held)
        dirty = {source_id for source_id in held_ids if is_source_id(source_id)}
        hashes = {
            source_id: None if source_id in dirty else digest
            for source_id, digest in page_hashes(page, record_salt(session)).items()
        }
        outcome.unclean.setdefault(hashed, set()).update(dirty)
    with collector_paused(), session.engine.begin() as connection:
        if whole_listing:
            renew(connection, integration.name, session.lock_holder, session.lock_lease)
        quarantine_records(connection, session.integration_id, session.run_id, context.now, held)
        mark_held_seen(connection, session.integration_id, session.run_id, context.now, page.extra.get(HELD_UNCHANGED, {}))
        for entity in stream.entities:
            passed = checked.candidates.get(entity, [])
            failed = sum(failure.entity == entity for failure in checked.failures)
            if passed or failed:
                outcome.add(entity, fetched=len(passed) + failed, quarantined=failed)
            release_passing(connection, session.integration_id, session.run_id, context.now, entity,
                            checked.clean_source_ids(entity))
            apply_candidates(connection, context, rules.rules[entity], passed, outcome,
                             hashes if entity == hashed else None)
        for entity, source_ids in outcome.unclean.items():
            forget_hashes(connection, session.integration_id, entity, source_ids)
        add_counts(connection, session.run_id, outcome.counts)
        if whole_listing and page.complete:
            mark_stream_complete(connection, session.integration_id, stream.name, session.started_at, session.run_id)
    summary = {entity: dict(numbers) for entity, numbers in outcome.counts.items()}
    if not whole_listing:
        return summary
    log.info("%s: records %d–%d of %d %s", stream.name, page.offset + 1, _listing_position(page), page.total,
             describe_counts(summary))
    return summary


def forget_hashes(connection: Connection, integration_id: int, entity: str, source_ids: set[int]) -> None:
    """Clear the source hash of these records' rows (their payload did not apply cleanly): one UPDATE, none if none."""
    rows = rows_of(entity)
    table = rows.table
    if not source_ids or not rows.hashed:
        return
    connection.execute(
        update(table)
        .where(
            rows.mine(integration_id),
            among(connection, table.c.source_id, sorted(source_ids)),
            table.c.source_hash.is_not(None),
        )
        .values(source_hash=None)
    )


def describe_counts(summary: dict[str, dict[str, int]]) -> str:
    """`leases created 3, updated 1; residents created 5` — the non-zero counts of a page."""
    return "; ".join(
        f"{entity} " + ", ".join(f"{name} {value}" for name, value in numbers.items() if value)
        for entity, numbers in summary.items()
    )


def _listing_position(page: SourcePage) -> int:
    """How far into the listing this page read (its request re-reads the previous page's last record or more)."""
    if page.next_cursor is not None:
        return page.next_cursor.offset
    return page.total if page.complete else page.offset + len(page.raw) + len(page.refused)
