"""A run's listings, each fetched by a prefetcher: a delta's windowed listings all opened at once, their first page
only, so their requests start together (within the account's request budget) instead of one stream after another."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import datetime

from pmsync.source.paging import SourcePage, batched_pages
from pmsync.source.protocol import Source, Window
from pmsync.sync.prefetch import prefetch
from pmsync.sync.rule_types import Stream


def listing_window(source: Source, stream: Stream, modified_from: datetime | None, modified_until: datetime) -> Window | None:
    """The window a stream's listing reads, its upper bound frozen at run start so the listing cannot grow under us;
    None for a stream its source cannot filter (read whole)."""
    return Window(modified_from, modified_until) if source.filters(stream) else None


class Listing:
    """One stream's listing being fetched: its window and its batches (lists of consecutive pages, the last one ending
    where the listing ends). A listing opened ahead has its first page fetched alone (`head_then_batches`); its
    batches join that page again with the pages after it, so batches are as large as a listing opened in turn has."""

    def __init__(self, window: Window | None, prefetched: Iterator[list[SourcePage]], head_first: bool = False) -> None:
        self.window = window
        self._prefetched = prefetched
        self._head_first = head_first
        self._head: list[SourcePage] | None = None
        self._head_read = False
        self._head_failure: Exception | None = None
        self.batches: Iterator[list[SourcePage]] = self._rejoined() if head_first else prefetched

    def only_batch(self) -> list[SourcePage] | None:
        """For a listing opened ahead: waits for its first page and returns it when the listing ended on it (the whole
        listing, in one page). None for any other listing (nothing waited for), and for one whose first page failed:
        the failure is raised by the step that takes the first batch, as for any listing."""
        if not self._head_first:
            return None
        self._read_head()
        head = self._head
        return head if head is not None and head[-1].next_cursor is None else None

    def _read_head(self) -> None:
        if not self._head_read:
            self._head_read = True
            try:
                self._head = next(self._prefetched, None)
            except Exception as failure:  # noqa: BLE001 -- raised again, unchanged, where the first batch is taken
                self._head_failure = failure

    def _rejoined(self) -> Iterator[list[SourcePage]]:
        self._read_head()
        if self._head_failure is not None:
            raise self._head_failure
        head = self._head
        if head is None:
            return
        if head[-1].next_cursor is not None:
            head = head + next(self._prefetched, [])
        self._head = None
        yield head
        yield from self._prefetched


def head_then_batches(pages: Iterator[SourcePage], pages_per_batch: int) -> Iterator[list[SourcePage]]:
    """The listing's first page alone, then the rest of its first batch (`pages_per_batch` − 1 pages), then batches of
    `pages_per_batch`: a prefetcher at depth 1 over it fetches only the first page until that page is taken."""
    if pages_per_batch < 2:
        raise ValueError(f"a listing opened ahead needs batches of at least 2 pages, got {pages_per_batch!r}")
    try:
        head = next(pages, None)
        if head is None:
            return
        yield [head]
        if head.next_cursor is None:
            return
        batch: list[SourcePage] = []
        size = pages_per_batch - 1
        for page in pages:
            batch.append(page)
            if len(batch) == size or page.next_cursor is None:
                yield batch
                batch, size = [], pages_per_batch
    finally:
        close = getattr(pages, "close", None)
        if close is not None:
            close()


class Listings:
    """The listings of one run, their prefetchers closed (threads joined) when `stack` closes.

    A delta's windowed listings (the source filters them and the stream has been read before) are small: all of them
    are opened when the run starts, each prefetcher fetching its first page and no more until the loop reaches it, so
    their first requests go out together (as many at once as the account's request budget lets start) and a stream
    whose window is empty costs no wait when its turn comes. Memory stays bounded: one page per listing opened ahead,
    plus the two batches of the listing being loaded. Any other listing is opened when its turn comes, or while the
    previous listing's last batch is loaded (`open_ahead`)."""

    def __init__(self, stack: contextlib.ExitStack, source: Source, streams: tuple[Stream, ...],
                 windows: Mapping[str, datetime | None], started_at: datetime, pages_per_batch: int) -> None:
        self._stack, self._source, self._streams = stack, source, streams
        self._windows, self._started_at, self._pages_per_batch = windows, started_at, pages_per_batch
        self._open: dict[int, Listing] = {}
        for position, stream in enumerate(streams):
            if windows.get(stream.name) is not None and source.filters(stream) and pages_per_batch > 1:
                self._open[position] = self._opened(stream, head_first=True)

    def take(self, position: int) -> Listing:
        """The listing of the stream at `position`, opened now unless it already is."""
        return self._open.pop(position, None) or self._opened(self._streams[position])

    def open_ahead(self, position: int) -> None:
        """Start fetching the listing at `position` (if there is one and it is not open yet)."""
        if position < len(self._streams) and position not in self._open:
            self._open[position] = self._opened(self._streams[position])

    def _opened(self, stream: Stream, head_first: bool = False) -> Listing:
        window = listing_window(self._source, stream, self._windows.get(stream.name), self._started_at)
        pages = _listed(self._source, stream, window)
        size = self._pages_per_batch
        batches = head_then_batches(pages, size) if head_first else batched_pages(pages, size)
        return Listing(window, self._stack.enter_context(prefetch(batches)), head_first)


def _listed(source: Source, stream: Stream, window: Window | None) -> Iterator[SourcePage]:
    """The listing's pages, asked of the source only once iterated: whatever it does before its first page (Buildium
    lists the staff user's tasks before work orders) happens in the prefetcher's thread, beside the other listings."""
    yield from source.pages(stream, window)
