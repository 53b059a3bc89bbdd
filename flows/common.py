"""The one routine every sync flow runs: page through each stream; check, then load, each page."""

from __future__ import annotations

from datetime import datetime

from prefect.utilities.annotations import quote

from pmsync.rules import Stream
from pmsync.source.client import PageCursor
from tasks.extract import extract_page, listing_params
from tasks.load import SyncSession, close_run, load_page
from tasks.validate import open_quality_gate, validate_page


def sync_streams(
    session: SyncSession, streams: tuple[Stream, ...], windows: dict[str, datetime | None] | None = None
) -> dict:
    """Sync the streams in order (parents first), each from its window start (None: everything).

    A failure closes the run as failed and re-raises. Pages and sessions cross task boundaries `quote`d:
    Prefect would otherwise walk every record of every argument (measured: 172 ms instead of 36 ms a task).
    """
    try:
        entities = [entity for stream in streams for entity in stream.entities]
        gate = open_quality_gate(session.expectations_dir, entities, session.max_failure_share)
        for stream in streams:
            params = listing_params(stream, (windows or {}).get(stream.name), session.started_at)
            cursor: PageCursor | None = PageCursor()
            while cursor is not None:
                page = extract_page(quote(session.client), stream, cursor, params)
                checked = validate_page(quote(gate), stream, quote(page))
                load_page(quote(session), stream, quote(checked))
                cursor = page.next_cursor
    except Exception as failure:
        close_run(session, error=f"{type(failure).__name__}: {failure}")
        raise
    return close_run(session)
