"""A listing with several pages in flight: the next pages are fetched speculatively and judged in order."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from pmsync.source.paging import PageCursor, Paginator, PageRequest, Record, SourcePage

if TYPE_CHECKING:
    from pmsync.source.client import PropertywareClient


@dataclass
class _Flight:
    """One list request sent (or queued) ahead of its turn."""

    request: PageRequest
    future: Future = field(init=False)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def drop(self) -> None:
        self.cancelled.set()
        self.future.cancel()


class _WorkerSessions:
    """One requests.Session per worker thread of a listing, all closed when the listing ends."""

    def __init__(self, client: PropertywareClient) -> None:
        self._client = client
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[requests.Session] = []

    def current(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._client.new_session()
            with self._lock:
                self._opened.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            for session in self._opened:
                session.close()
            self._opened.clear()


def concurrent_pages(
    client: PropertywareClient,
    path: str,
    model: type[Record],
    *,
    entity: str,
    params: Mapping[str, Any] | None,
) -> Iterator[SourcePage[Record]]:
    """Every page of a listing, exactly the pages a one-request-at-a-time listing yields, with up to
    `client.concurrency` requests in flight.

    Once a full page told X-Total-Count, the following pages' requests are predictable (each starts one record before
    the previous page's end), so they are sent ahead by worker threads, never past the listing's end. Answers are
    judged in order by the same Paginator as `list_page`; an answer to a request the paginator does not ask for (the
    previous page was not full, or records left the listing and it stepped back) is discarded with every one after
    it, and the listing goes on from the paginator's request. Closing the iterator cancels what is in flight and joins
    the workers.
    """
    sessions = _WorkerSessions(client)
    pool = ThreadPoolExecutor(max_workers=client.concurrency, thread_name_prefix=f"pmsync-{entity}")
    ahead: deque[_Flight] = deque()

    def send(wanted: PageRequest) -> _Flight:
        flight = _Flight(wanted)
        flight.future = pool.submit(
            lambda: client.fetch_listing_page(path, params, wanted, entity, session=sessions.current(),
                                              cancelled=flight.cancelled)
        )
        return flight

    def discard_ahead() -> None:
        while ahead:
            ahead.popleft().drop()

    def flight_for(wanted: PageRequest) -> _Flight:
        if ahead and ahead[0].request == wanted:
            return ahead.popleft()
        discard_ahead()
        return send(wanted)

    try:
        cursor: PageCursor | None = PageCursor()
        while cursor is not None:
            paginator = Paginator(cursor, client.page_size, entity=entity)
            while True:
                flight = flight_for(paginator.request())
                predicted = paginator.speculate(client.concurrency - 1)
                if predicted[: len(ahead)] == [f.request for f in ahead]:
                    ahead.extend(send(wanted) for wanted in predicted[len(ahead):])
                raw, total, request = flight.future.result()
                cut = paginator.judge(raw, total, request=request)
                if cut is not None:
                    break
                discard_ahead()
            if cut.next_cursor is None:
                discard_ahead()
            yield client.page_of(cut, model, entity, request)
            cursor = cut.next_cursor
    finally:
        discard_ahead()
        pool.shutdown(wait=True, cancel_futures=True)
        sessions.close()
