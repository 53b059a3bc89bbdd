"""A listing with several pages in flight: the next pages are fetched speculatively and judged in order."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from pmsync.source.paging import PageCursor, PageCut, Paginator, PageRequest, SourcePage

FetchPage = Callable[[PageRequest, requests.Session, threading.Event], tuple[list[dict[str, Any]], int, str]]
"""One list request as the paginator asked for it, on a worker's session, abandoned once `cancelled` is set: the raw
records, the listing's total and the request's name."""


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

    def __init__(self, new_session: Callable[[], requests.Session]) -> None:
        self._new_session = new_session
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[requests.Session] = []

    def current(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._new_session()
            with self._lock:
                self._opened.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            for session in self._opened:
                session.close()
            self._opened.clear()


def concurrent_pages(
    fetch: FetchPage,
    new_session: Callable[[], requests.Session],
    page_of: Callable[[PageCut, str], SourcePage],
    *,
    concurrency: int,
    page_size: int,
    key: str,
    entity: str,
) -> Iterator[SourcePage]:
    """Every page of a listing, exactly the pages a one-request-at-a-time listing yields, with up to `concurrency`
    requests in flight (`fetch` sends one, `page_of` parses an accepted page, `key` is the raw field the listing is
    ordered by).

    Once a full page told X-Total-Count, the following pages' requests are predictable (each starts one record before
    the previous page's end), so they are sent ahead by worker threads, never past the listing's end. Answers are
    judged in order by the same Paginator as `list_page`; an answer to a request the paginator does not ask for (the
    previous page was not full, or records left the listing and it stepped back) is discarded with every one after
    it, and the listing goes on from the paginator's request. Closing the iterator cancels what is in flight and joins
    the workers.
    """
    sessions = _WorkerSessions(new_session)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"pmsync-{entity}")
    ahead: deque[_Flight] = deque()

    def send(wanted: PageRequest) -> _Flight:
        flight = _Flight(wanted)
        flight.future = pool.submit(lambda: fetch(wanted, sessions.current(), flight.cancelled))
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
            paginator = Paginator(cursor, page_size, entity=entity, key=key)
            while True:
                flight = flight_for(paginator.request())
                predicted = paginator.speculate(concurrency - 1)
                if predicted[: len(ahead)] == [f.request for f in ahead]:
                    ahead.extend(send(wanted) for wanted in predicted[len(ahead):])
                raw, total, request = flight.future.result()
                cut = paginator.judge(raw, total, request=request)
                if cut is not None:
                    break
                discard_ahead()
            if cut.next_cursor is None:
                discard_ahead()
            yield page_of(cut, request)
            cursor = cut.next_cursor
    finally:
        discard_ahead()
        pool.shutdown(wait=True, cancel_futures=True)
        sessions.close()
