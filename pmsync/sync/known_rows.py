"""Records the platform already holds as they are, on rows with no hash to prove it: no quality check needed."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from pmsync.platform.database import among
from pmsync.runs.bookkeeping import utc_now
from pmsync.sync.rule_types import Stream
from pmsync.source import SourcePage
from pmsync.sync.changes import KNOWN_ROWS, hashed_entity
from pmsync.sync.policy import LoadContext, unchanged_by_apply
from pmsync.sync.scope import SyncSession
from schemas.entity_rows import addressed, rows_of
from schemas.tables import quarantine

def mark_known_rows(session: SyncSession, stream: Stream, pages: list[SourcePage]) -> list[SourcePage]:
    """The pages, each naming (KNOWN_ROWS) its records whose active platform row has no source hash, no open
    quarantine item, and would not change by applying them.

    drop_unchanged already took off the records whose hash matches; a row without a hash is one the platform made
    (a pushed work order coming back from the source), one whose last payload did not apply cleanly, or one of a
    table that keeps no hashes (owners, service providers, association owners). Comparing
    such a row with its record costs two small queries, where the gate would import Great Expectations (seconds)
    for a delta that changes nothing. Streams whose records make rows of several entities are left to the gate."""
    entity = hashed_entity(stream)
    ids = [record.id for page in pages for record in page.records]
    if entity is None or len(stream.entities) > 1 or not ids:
        return pages
    rows = rows_of(entity)
    table = rows.table
    integration = session.integration
    with session.engine.connect() as connection:
        hashless = set(connection.scalars(select(table.c.source_id).where(
            rows.mine(session.integration_id), among(connection, table.c.source_id, ids),
            *([table.c.source_hash.is_(None)] if rows.hashed else []), table.c.active,
        )))
        if hashless:
            flagged = set(connection.scalars(select(quarantine.c.source_id).where(
                quarantine.c.integration_id == session.integration_id, quarantine.c.entity == entity,
                quarantine.c.released_at.is_(None), among(connection, quarantine.c.source_id, [str(i) for i in hashless]),
            )))
            hashless = {source_id for source_id in hashless if str(source_id) not in flagged}
        if not hashless:
            return pages
        candidates = [
            candidate
            for page in pages
            for record, raw in zip(page.records, page.raw) if record.id in hashless
            for candidate in addressed(record.candidates(raw))
        ]
        context = LoadContext(session.integration_id, integration.integration_user, session.run_id, utc_now(),
                              integration.rules)
        known = unchanged_by_apply(connection, context, integration.rules.rules[entity], candidates)
    return [
        replace(page, extra={**page.extra, KNOWN_ROWS: {record.id for record in page.records if record.id in known}})
        for page in pages
    ]
