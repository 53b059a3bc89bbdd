"""Propertyware's dialect: id-ordered pages of at most 500, its window and scope filters, its paths and setting names."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from pmsync.source.dialect import OffsetDialect
from pmsync.source.protocol import Window

MAX_PAGE_SIZE = 500


PROPERTYWARE_DIALECT = OffsetDialect(
    key="id",
    order={"orderby": "id asc"},
    max_page=MAX_PAGE_SIZE,
    credential_settings="PMSYNC_PW_CLIENT_ID, PMSYNC_PW_CLIENT_SECRET and PMSYNC_PW_SYSTEM_ID or the integration block",
    base_url_setting="PMSYNC_PW_BASE_URL",
    message_field="userMessage",
)

WINDOW_START, WINDOW_END = "lastModifiedDateTimeStart", "lastModifiedDateTimeEnd"
"""Every Propertyware list filters by last-modified time."""

INCLUDE_INACTIVE = {"includeDeactivated": "true"}
"""Buildings and units are listed only while active unless asked for all."""

SCOPE_FILTERS = {"lease": "leaseID", "property": "buildingID"}
"""A listing within a parent is a filter naming the parent's id."""


def headers(client_id: str, client_secret: str, system_id: str) -> dict[str, str]:
    return {
        "x-propertyware-client-id": client_id,
        "x-propertyware-client-secret": client_secret,
        "x-propertyware-system-id": system_id,
    }


def format_source_time(moment: datetime) -> str:
    """A timezone-aware moment in the vendor's date-time format (UTC, `Z`)."""
    if moment.tzinfo is None:
        raise ValueError("source times must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_page_size(page_size: int) -> int:
    """The page size, if the vendor accepts it (1–500); ValueError naming PMSYNC_PW_PAGE_SIZE otherwise."""
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(
            f"PMSYNC_PW_PAGE_SIZE must be a whole number from 1 to {MAX_PAGE_SIZE} (the vendor's cap), got {page_size!r}"
        )
    return page_size


def listing_params(base: Mapping[str, str], window: Window | None, within: Mapping[str, int]) -> dict[str, Any]:
    """A listing's query: the stream's own params, the window (its upper bound frozen at run start, so the listing
    cannot grow under us) and the parent scope as filters."""
    params: dict[str, Any] = dict(base)
    for entity, parent_id in within.items():
        if entity not in SCOPE_FILTERS:
            raise ValueError(f"a Propertyware listing cannot be scoped to a {entity}; scopes: {', '.join(SCOPE_FILTERS)}")
        params[SCOPE_FILTERS[entity]] = parent_id
    if window is not None:
        params[WINDOW_END] = format_source_time(window.end)
        if window.start is not None:
            params[WINDOW_START] = format_source_time(window.start)
    return params


def record_path(list_path: str, source_id: int) -> str:
    """A record's own path: its listing's path and its id (`/units/12`)."""
    return f"{list_path}/{source_id}"
