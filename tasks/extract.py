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
