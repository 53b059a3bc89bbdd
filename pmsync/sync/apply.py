"""Apply one checked page under the sync rules: rows, quarantine, reasons, counts and the stream mark in one transaction."""

from __future__ import annotations

import logging

from pmsync.locks import renew
from pmsync.quality import quarantine_records, release_passing
from pmsync.rules import Stream
from pmsync.runs import add_counts, utc_now
from pmsync.state import mark_stream_complete
from pmsync.sync.gate import CheckedPage
from pmsync.sync.policy import LoadContext, PageOutcome, apply_candidates
from pmsync.sync.scope import SyncSession

log = logging.getLogger("pmsync.sync")


def apply_page(
    session: SyncSession, stream: Stream, checked: CheckedPage, *, whole_listing: bool = True
) -> dict[str, dict[str, int]]:
    """Apply a checked page under the sync rules; rows, quarantine, reasons and counts commit together.

    A page of a whole listing renews the run's lock and, on the listing's last page, marks the stream complete (its
    high-water mark); a page of one lease's records (`whole_listing=False`, the balance) does neither."""
    rules = session.integration.rules
    page = checked.page
    context = LoadContext(session.integration_id, session.integration.integration_user, session.run_id, utc_now(), rules)
    outcome = PageOutcome()
    with session.engine.begin() as connection:
        if whole_listing:
            renew(connection, session.integration.name, session.lock_holder, session.lock_lease)
        quarantine_records(
            connection, session.integration_id, session.run_id, context.now, [*checked.failures, *checked.warnings]
        )
        for entity in stream.entities:
            passed = checked.candidates.get(entity, [])
            failed = sum(failure.entity == entity for failure in checked.failures)
            outcome.add(entity, fetched=len(passed) + failed, quarantined=failed)
            passing_ids = checked.clean_source_ids(entity)
            release_passing(connection, session.integration_id, session.run_id, context.now, entity, passing_ids)
            apply_candidates(connection, context, rules.rules[entity], passed, outcome)
        add_counts(connection, session.run_id, outcome.counts)
        if whole_listing and page.complete:
            mark_stream_complete(connection, session.integration_id, stream.name, session.started_at, session.run_id)
    summary = {entity: dict(numbers) for entity, numbers in outcome.counts.items()}
    if not whole_listing:
        return summary
    pages = max(1, -(-page.total // session.client.page_size))
    page_number = page.offset // session.client.page_size + 1
    log.info("%s: page %d/%d %s", stream.name, page_number, pages, describe_counts(summary))
    return summary


def describe_counts(summary: dict[str, dict[str, int]]) -> str:
    """`leases created 3, updated 1; residents created 5` — the non-zero counts of a page."""
    return "; ".join(
        f"{entity} " + ", ".join(f"{name} {value}" for name, value in numbers.items() if value)
        for entity, numbers in summary.items()
    )
