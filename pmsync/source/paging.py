"""Id-ordered offset paging: the cursor, the page, and the checks that every page proves progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from pmsync.source.errors import SourceListingUnstable, SourcePagingBroken

MAX_PAGE_SIZE = 500
Record = TypeVar("Record", bound=BaseModel)


@dataclass(frozen=True)
class PageCursor:
    """Where the next page of an id-ordered listing starts, and the X-Total-Count the previous page reported."""

    offset: int = 0
    last_id: int | None = None
    total: int | None = None


@dataclass
class SourcePage(Generic[Record]):
    """One page of a listing, parsed: new records only (ids above the previous page's).

    `complete` is True only on the last page of a listing that reached its end (every record up to X-Total-Count
    was served); a stream is marked complete, or its absent records retired, only on such a page.
    """

    entity: str
    request: str
    records: list[Record]
    raw: list[dict[str, Any]]
    total: int
    next_cursor: PageCursor | None
    offset: int = 0
    requests_made: int = 1
    extra: dict[str, Any] = field(default_factory=dict)
    complete: bool = False


def check_page_size(page_size: int) -> int:
    """The page size, if the vendor accepts it (1–500); ValueError naming PMSYNC_PW_PAGE_SIZE otherwise."""
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(
            f"PMSYNC_PW_PAGE_SIZE must be a whole number from 1 to {MAX_PAGE_SIZE} (the vendor's cap), got {page_size!r}"
        )
    return page_size


def check_total_steady(previous: int | None, total: int, page_size: int, *, entity: str, request: str) -> None:
    """A total that jumps — X-Total-Count changing between consecutive responses of one listing by more than one
    page size — means the listing is being rewritten under us (a bulk import or deletion): stop, run again later.
    Smaller changes (records inserted or leaving the listing while we page) are normal and handled by the overlap.
    """
    if previous is not None and abs(total - previous) > page_size:
        raise SourceListingUnstable(
            f"{entity} listing changed from {previous} to {total} records between two pages (more than one page of "
            f"{page_size}); the source is being changed in bulk: run again later",
            request=request,
        )


def check_progress(fresh: list[Any], done: bool, step_back: int, *, entity: str, offset: int, total: int,
                   request: str) -> None:
    """A page that overlapped by exactly one record yet brought no id not seen before, while X-Total-Count says
    more remain, did not move the listing forward: the source ignores `offset` (or repeats pages). Raise rather
    than loop. (A page stepped back further because records left the listing may hold only seen records; the
    next page, one record before its end, moves on.)"""
    if not fresh and not done and step_back == 1:
        raise SourcePagingBroken(
            f"{entity} page at offset {offset} brought no record not already seen although X-Total-Count says "
            f"{total} records exist; the source is not honouring offset paging, so a rerun will not help: "
            "report it to the vendor",
            request=request,
        )


def overlaps(raw: list[dict[str, Any]], last_id: int | None) -> bool:
    first = raw[0].get("id") if raw else None
    return isinstance(first, int) and last_id is not None and first <= last_id


def is_new(record: dict[str, Any], last_id: int | None) -> bool:
    record_id = record.get("id")
    return last_id is None or not isinstance(record_id, int) or record_id > last_id
