"""Buildium's dialect: Id-ordered pages of at most 1000, its window filters (date-time, or date on tasks and work
orders), repeated array parameters, the 4,096-character query cap, its headers and its setting names."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from pmsync.source.dialect import OffsetDialect
from pmsync.source.protocol import Window

MAX_PAGE_SIZE = 1000
MAX_QUERY_CHARACTERS = 4096
"""The spec: a query string longer than this fails."""

BUILDIUM_DIALECT = OffsetDialect(
    key="Id",
    order={"orderby": "Id"},
    max_page=MAX_PAGE_SIZE,
    credential_settings="PMSYNC_BUILDIUM_CLIENT_ID and PMSYNC_BUILDIUM_CLIENT_SECRET or the integration block",
    base_url_setting="PMSYNC_BUILDIUM_BASE_URL",
    message_field="UserMessage",
)

WINDOW_START, WINDOW_END = "lastupdatedfrom", "lastupdatedto"

DATE_TIME_WINDOWS = frozenset({
    "/v1/rentals", "/v1/rentals/units", "/v1/leases", "/v1/rentals/owners", "/v1/vendors", "/v1/associations",
    "/v1/associations/units", "/v1/associations/owners",
})
"""Listings whose lastupdatedfrom/lastupdatedto are date-times (the spec's `format: date-time`)."""

DATE_WINDOWS = frozenset({"/v1/workorders", "/v1/tasks"})
"""Listings whose lastupdatedfrom/lastupdatedto are dates: a window re-reads whole days."""

LISTING_KEYS = {
    "/v1/leases/outstandingbalances": "LeaseId",
    "/v1/associations/ownershipaccounts/outstandingbalances": "OwnershipAccountId",
}
"""Listings whose records have no `Id`: the unique field each is keyed on and ordered by (orderby=LeaseId), as the
spec's paging needs."""

SCOPE_FILTERS = {"property": "propertyids"}
"""A listing within a parent is an array filter naming the parent's id."""


def headers(client_id: str, client_secret: str) -> dict[str, str]:
    return {"x-buildium-client-id": client_id, "x-buildium-client-secret": client_secret}


def format_source_time(moment: datetime) -> str:
    """A timezone-aware moment as Buildium's date-time filters take it (UTC, whole seconds, `Z`)."""
    if moment.tzinfo is None:
        raise ValueError("source times must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_start_day(moment: datetime) -> str:
    """The first day a date-only window must read for `moment`: its UTC day (floored)."""
    return format_day(moment)


def window_end_day(moment: datetime) -> str:
    """The last day a date-only window must read for `moment`: its UTC day, which the source reads to its end (the
    day is ceiled: a moment exactly at midnight still ends inside the day before, so that day is enough)."""
    utc = moment.astimezone(timezone.utc)
    if utc.timetz().replace(tzinfo=None) == time(0):
        utc -= timedelta(microseconds=1)
    return format_day(utc)


def format_day(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("source times must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d")


def filters_by_window(path: str) -> bool:
    """Whether the listing at `path` takes a lastupdated window (ownership accounts and the balance lists do not)."""
    return path in DATE_TIME_WINDOWS or path in DATE_WINDOWS


def check_page_size(page_size: int) -> int:
    """The page size, if Buildium accepts it (1–1000); ValueError naming PMSYNC_BUILDIUM_PAGE_SIZE otherwise."""
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"PMSYNC_BUILDIUM_PAGE_SIZE must be a whole number from 1 to {MAX_PAGE_SIZE} "
                         f"(the vendor's cap), got {page_size!r}")
    return page_size


def listing_params(path: str, base: Mapping[str, Any], window: Window | None,
                   within: Mapping[str, int]) -> dict[str, Any]:
    """A listing's query: the stream's own params, the window in the listing's own form (none where the listing
    has no window filter) and the parent scope as a repeated array filter. A list value is sent repeated
    (`propertyids=1&propertyids=2`)."""
    params: dict[str, Any] = dict(base)
    for entity, parent_id in within.items():
        if entity not in SCOPE_FILTERS:
            raise ValueError(f"a Buildium listing cannot be scoped to a {entity}; scopes: {', '.join(SCOPE_FILTERS)}")
        params[SCOPE_FILTERS[entity]] = [parent_id]
    if window is not None and path in DATE_WINDOWS:
        params[WINDOW_END] = window_end_day(window.end)
        if window.start is not None:
            params[WINDOW_START] = window_start_day(window.start)
    elif window is not None and path in DATE_TIME_WINDOWS:
        params[WINDOW_END] = format_source_time(window.end)
        if window.start is not None:
            params[WINDOW_START] = format_source_time(window.start)
    return params


def query_length(params: Mapping[str, Any]) -> int:
    """The characters of the query string `params` become (lists repeated, as requests sends them)."""
    return len(urlencode(params, doseq=True))


def record_path(list_path: str, source_id: int) -> str:
    """A record's own path: its listing's path and its id (`/v1/rentals/units/12`)."""
    return f"{list_path}/{source_id}"
