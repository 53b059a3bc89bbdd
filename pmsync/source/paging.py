"""Key-ordered offset paging: the cursor, the page, the paginator (overlap and step back) and the checks that every
page proves progress; the raw key a listing is ordered by is the source's to name."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from pmsync.source.errors import SourceDataError, SourceListingUnstable, SourcePagingBroken, SourceUnavailable

Record = TypeVar("Record", bound=BaseModel)


@dataclass(frozen=True)
class PageCursor:
    """Where the next page of an id-ordered listing starts, and the X-Total-Count the previous page reported.

    `reached` is set only when the previous page stepped so far back that it held only records already seen: the
    highest id it held (below `last_id`); the next page must get beyond it to show progress."""

    offset: int = 0
    last_id: int | None = None
    total: int | None = None
    reached: int | None = None


@dataclass(frozen=True)
class RefusedRecord:
    """A listed record its model refuses (a wrong type, an id or reference beyond int64, money NUMERIC(14,2) cannot
    hold): it does not load, and the quality gate quarantines it under `key` with each (field, reason).

    `key` is its id as a platform row would have it, else its id as sent (schemas.source_values.record_key);
    `source_id` is its id when that is one a platform row can have (int64), else None."""

    raw: dict[str, Any]
    key: str
    source_id: int | None
    problems: tuple[tuple[str, str], ...]


@dataclass
class SourcePage(Generic[Record]):
    """One page of a listing, parsed: new records only (ids above the previous page's); `records` and `raw` in step,
    the records their model refused apart in `refused`.

    `complete` is True only on the last page of a listing that reached its end (a page shorter than asked, ending at
    X-Total-Count); a stream is marked complete, or its absent records retired, only on such a page.
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
    refused: list[RefusedRecord] = field(default_factory=list)

    def listed_ids(self) -> list[int]:
        """The ids this page lists that a platform row can have: its records', and its refused records' readable ones."""
        return [record.id for record in self.records] + [r.source_id for r in self.refused if r.source_id is not None]


@dataclass(frozen=True)
class PageRequest:
    """The list request a paginator wants answered next."""

    offset: int
    limit: int


@dataclass(frozen=True)
class PageCut:
    """A page the paginator accepted: its records not seen before (raw), where it was read, where the listing goes on."""

    fresh: list[dict[str, Any]]
    offset: int
    total: int
    next_cursor: PageCursor | None
    complete: bool
    calls: int


class Paginator:
    """The overlap-and-step-back logic of one page of an id-ordered listing, without any HTTP.

    `request()` says which request to make (offset, limit); `judge(raw, total)` reads its answer and returns the page
    (a PageCut), or None: step back further, ask `request()` again.

    Each page after the first starts one record early; if that record is not one we have seen, the listing shifted
    under us (records left it), so we step further back (1, 4, 16 … records) until the page overlaps. Such an
    overlapping page asks for at least 2 records (one seen, one new), whatever the page size.

    Every page must prove progress, or the listing stops with an error instead of looping: a page overlapping by one
    record that brings no new id, nor gets beyond the previous page's records, while X-Total-Count says more remain
    (SourcePagingBroken), a total that jumps by more
    than one page size between consecutive responses (SourceListingUnstable), a page that ends short of the total
    (SourceUnavailable), a total its own answer contradicts (SourceDataError). `complete` is set only on the page
    where the listing reached its end: a page shorter than asked, ending exactly at the total. A full page proves
    nothing, even one ending where the total says the listing ends: one more request (one record early, as always)
    must come back short.
    """

    def __init__(self, cursor: PageCursor, page_size: int, *, entity: str, key: str = "id") -> None:
        self.cursor = cursor
        self.entity = entity
        self.key = key
        resuming = cursor.last_id is not None and cursor.offset > 0
        self.limit = max(page_size, 2) if resuming else page_size
        self._step_back = 1 if resuming else 0
        self._previous_total = cursor.total
        self.calls = 0

    def request(self) -> PageRequest:
        return PageRequest(max(0, self.cursor.offset - self._step_back), self.limit)

    def judge(self, raw: list[dict[str, Any]], total: int, *, request: str) -> PageCut | None:
        """The page `raw` (the answer to `request()`, with its X-Total-Count) makes, or None to step back further.
        `request` names the HTTP request in errors."""
        offset = self.request().offset
        self.calls += 1
        check_total_possible(total, offset, len(raw), entity=self.entity, request=request)
        check_total_steady(self._previous_total, total, self.limit, entity=self.entity, request=request)
        self._previous_total = total
        if self._step_back and offset > 0 and not overlaps(raw, self.cursor.last_id, self.key):
            self._step_back *= 4
            return None
        if len(raw) < self.limit and offset + len(raw) < total:
            raise SourceUnavailable(f"{self.entity} listing ended at {offset + len(raw)} of {total} records", request=request)
        fresh = [r for r in raw if is_new(r, self.cursor.last_id, self.key)]
        next_offset = offset + len(raw)
        done = len(raw) < self.limit
        top = max((r[self.key] for r in raw if isinstance(r.get(self.key), int)), default=None)
        before = self.cursor.last_id if self.cursor.reached is None else self.cursor.reached
        moved = top is not None and (before is None or top > before)
        check_progress(fresh, done, self._step_back, moved, entity=self.entity, offset=offset, total=total,
                       request=request)
        last_id = max((r[self.key] for r in fresh if isinstance(r.get(self.key), int)), default=self.cursor.last_id)
        behind = top if top is not None and last_id is not None and top < last_id else None
        next_cursor = None if done else PageCursor(next_offset, last_id, total, behind)
        return PageCut(fresh, offset, total, next_cursor, done, self.calls)

    def speculate(self, count: int) -> list[PageRequest]:
        """The requests of the next `count` pages after this one if every page comes back full and overlapping as
        expected (each starts one record before the previous one's end), stopping where X-Total-Count says the listing
        ends (with the page that confirms it: the one after a full page ending there). Only for a paginator that has
        not stepped back and knows the total; else nothing is predictable."""
        if self._step_back != 1 or self.cursor.total is None or self.calls:
            return []
        first = self.request()
        stride = self.limit - 1
        predicted = []
        for index in range(1, count + 1):
            previous_end = first.offset + (index - 1) * stride + self.limit
            if previous_end > self.cursor.total:
                break
            predicted.append(PageRequest(previous_end - 1, self.limit))
            if previous_end == self.cursor.total:
                break
        return predicted


def check_total_possible(total: int, offset: int, served: int, *, entity: str, request: str) -> None:
    """X-Total-Count counts the listing's records, so an answer serving records up to number `offset + served`
    proves at least that many exist (an empty answer, only that the count is not negative). A smaller total
    (negative; fewer than the records the listing has already paged past; a full page running past the end the total
    claims) cannot be true, and a header that cannot be true proves nothing: SourceDataError naming the request, and
    the listing is never marked complete on it."""
    at_least = offset + served if served else 0
    if total < at_least:
        raise SourceDataError(
            f"X-Total-Count says {total} records, yet this answer proves at least {at_least}: the total cannot be "
            "true, so the listing cannot be proven complete; run again, and report it to the vendor if it persists",
            request=request,
            entity=entity,
        )


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


def check_progress(fresh: list[Any], done: bool, step_back: int, moved: bool, *, entity: str, offset: int,
                   total: int, request: str) -> None:
    """A page that overlapped by exactly one record yet brought no id not seen before, nor got beyond the previous
    page's records (`moved`), while X-Total-Count says more remain, did not move the listing forward: the source
    ignores `offset` (or repeats pages). Raise rather than loop. (A page stepped back further because records left
    the listing may hold only seen records; the pages after it, each one record before the previous one's end, hold
    ever higher ids until they reach new ones.)"""
    if not fresh and not done and step_back == 1 and not moved:
        raise SourcePagingBroken(
            f"{entity} page at offset {offset} brought no record not already seen although X-Total-Count says "
            f"{total} records exist; the source is not honouring offset paging, so a rerun will not help: "
            "report it to the vendor",
            request=request,
        )


def overlaps(raw: list[dict[str, Any]], last_id: int | None, key: str = "id") -> bool:
    first = raw[0].get(key) if raw else None
    return isinstance(first, int) and last_id is not None and first <= last_id


def is_new(record: dict[str, Any], last_id: int | None, key: str = "id") -> bool:
    record_id = record.get(key)
    return last_id is None or not isinstance(record_id, int) or record_id > last_id


def batched_pages(pages: Iterator[SourcePage], pages_per_batch: int) -> Iterator[list[SourcePage]]:
    """`pages` in batches of up to `pages_per_batch` consecutive pages, the last batch ending with the listing."""
    if pages_per_batch < 1:
        raise ValueError(f"pages_per_batch must be at least 1, got {pages_per_batch!r}")
    return _batches(pages, pages_per_batch)


def _batches(pages: Iterator[SourcePage], pages_per_batch: int) -> Iterator[list[SourcePage]]:
    batch: list[SourcePage] = []
    try:
        for page in pages:
            batch.append(page)
            if len(batch) == pages_per_batch or page.next_cursor is None:
                yield batch
                batch = []
    finally:
        pages.close()


def refusal_error(refused: RefusedRecord, request: str, entity: str) -> SourceDataError:
    """A record its model refused, read alone, as the error that names its id and first field."""
    (field, reason), *more = refused.problems
    return SourceDataError(
        f"{reason}" + (f" (and {len(more)} more problem(s))" if more else ""),
        request=request, entity=entity, record_id=refused.key, field=field,
    )
