"""Extract: fetch one page of a source listing as parsed records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from pmsync.rules import Stream
from pmsync.source import PropertywareClient, SourcePage
from pmsync.source.client import PageCursor, format_source_time


def listing_params(stream: Stream, modified_from: datetime | None, modified_until: datetime) -> dict[str, Any]:
    """Query filters for a listing; the upper bound is frozen at run start so the listing cannot grow under us."""
    params: dict[str, Any] = {**stream.list_params, "lastModifiedDateTimeEnd": format_source_time(modified_until)}
    if modified_from is not None:
        params["lastModifiedDateTimeStart"] = format_source_time(modified_from)
    return params


@task(name="extract_page", cache_policy=NONE, persist_result=False)
def extract_page(
    client: PropertywareClient, stream: Stream, cursor: PageCursor, params: dict[str, Any]
) -> SourcePage:
    """One id-ordered page of `stream`, parsed into its record model."""
    return client.list_page(stream.path, stream.record, entity=stream.name, cursor=cursor, params=params)


@task(name="extract_pages", cache_policy=NONE, persist_result=False)
def extract_pages(
    client: PropertywareClient, stream: Stream, cursor: PageCursor, params: dict[str, Any], max_pages: int
) -> list[SourcePage]:
    """Up to `max_pages` consecutive pages of `stream` from `cursor` (one task run for the batch); the last page's
    `next_cursor` says where the next batch starts."""
    pages = [client.list_page(stream.path, stream.record, entity=stream.name, cursor=cursor, params=params)]
    while len(pages) < max_pages and pages[-1].next_cursor is not None:
        pages.append(client.list_page(stream.path, stream.record, entity=stream.name, cursor=pages[-1].next_cursor,
                                      params=params))
    return pages
