"""Propertyware REST v1 client: auth headers, id-ordered offset paging, retries, readable errors."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import requests
from pydantic import SecretStr

from pmsync.source.answers import (as_record_list, error_message, listing_total, parse_json, parse_record, parse_records,
                                   rejection)
from pmsync.source.base_url import check_base_url
from pmsync.source.exchange import Answer, AnswerLimits, AnswerOverLimit, exchange
from pmsync.source.budget import DEFAULT_CONCURRENCY, RequestBudget, check_concurrency
from pmsync.source.errors import (FetchAbandoned, SourceDataError, SourceError, SourceOutcomeUnknown,
                                  SourceRequestRejected, SourceUnavailable)
from pmsync.source.listing import concurrent_pages
from pmsync.source.paging import (MAX_PAGE_SIZE, PageCursor, PageCut, Paginator, PageRequest, Record, SourcePage,
                                  check_page_size, format_source_time)
from pmsync.source.retry import TRANSIENT_READ_ERRORS, RetryPolicy, retry_after_seconds
from pmsync.source.scrub import CredentialScrubber

__all__ = ["MAX_PAGE_SIZE", "PageCursor", "PropertywareClient", "RetryPolicy", "SourcePage", "format_source_time"]

RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class PropertywareClient:
    """Talks to one Propertyware account; knows the dialect, not the platform."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: SecretStr | str,
        system_id: str,
        *,
        retry: RetryPolicy = RetryPolicy(),
        page_size: int = MAX_PAGE_SIZE,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_requests_per_second: float | None = None,
        limits: AnswerLimits = AnswerLimits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        self.base_url = check_base_url(base_url, "base_url").rstrip("/")
        self.retry = retry
        self.limits = limits
        self.page_size = check_page_size(page_size)
        self.concurrency = check_concurrency(concurrency)
        self._budget = RequestBudget(max_requests_per_second, burst=self.concurrency, clock=clock, sleep=sleep)
        self._scrubber = CredentialScrubber([secret.get_secret_value(), client_id])
        self._requests_made = 0
        self._count_lock = threading.Lock()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._session = session or requests.Session()
        self._session.headers.update(
            {
                "x-propertyware-client-id": client_id,
                "x-propertyware-client-secret": secret.get_secret_value(),
                "x-propertyware-system-id": system_id,
                "Accept": "application/json",
            }
        )

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far by every thread of this client (speculative pages included)."""
        return self._requests_made

    def __repr__(self) -> str:
        return f"PropertywareClient({self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def list_page(
        self,
        path: str,
        model: type[Record],
        *,
        entity: str,
        cursor: PageCursor = PageCursor(),
        params: Mapping[str, Any] | None = None,
    ) -> SourcePage[Record]:
        """Fetch one id-ordered page holding only records above the previous page's last id; the paginator
        (pmsync.source.paging.Paginator) decides the requests and proves progress."""
        paginator = Paginator(cursor, self.page_size, entity=entity)
        while True:
            raw, total, request = self.fetch_listing_page(path, params, paginator.request(), entity)
            cut = paginator.judge(raw, total, request=request)
            if cut is not None:
                return self.page_of(cut, model, entity, request)

    def iter_pages(
        self,
        path: str,
        model: type[Record],
        *,
        entity: str,
        params: Mapping[str, Any] | None = None,
    ) -> Iterator[SourcePage[Record]]:
        """Every page of a listing, streamed; with a concurrency above 1, the next pages are fetched speculatively
        while earlier ones are judged and consumed (the same pages as one request at a time)."""
        if self.concurrency > 1:
            yield from concurrent_pages(self, path, model, entity=entity, params=params)
            return
        cursor: PageCursor | None = PageCursor()
        while cursor is not None:
            page = self.list_page(path, model, entity=entity, cursor=cursor, params=params)
            yield page
            cursor = page.next_cursor

    def iter_batches(
        self,
        path: str,
        model: type[Record],
        *,
        entity: str,
        params: Mapping[str, Any] | None = None,
        pages_per_batch: int,
    ) -> Iterator[list[SourcePage[Record]]]:
        """A listing's pages in batches of up to `pages_per_batch` consecutive pages; the last batch ends where the
        listing ends (its last page has no next cursor)."""
        if pages_per_batch < 1:
            raise ValueError(f"pages_per_batch must be at least 1, got {pages_per_batch!r}")
        pages = self.iter_pages(path, model, entity=entity, params=params)
        batch: list[SourcePage[Record]] = []
        try:
            for page in pages:
                batch.append(page)
                if len(batch) == pages_per_batch or page.next_cursor is None:
                    yield batch
                    batch = []
        finally:
            pages.close()

    def fetch_listing_page(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        wanted: PageRequest,
        entity: str,
        *,
        session: requests.Session | None = None,
        cancelled: threading.Event | None = None,
    ) -> tuple[list[dict[str, Any]], int, str]:
        """One list request as the paginator asked for it: the raw records, X-Total-Count and the request's name."""
        query = {**(params or {}), "orderby": "id asc", "limit": wanted.limit, "offset": wanted.offset}
        with self._scrubbed():
            body, headers, request = self._get(path, query, entity, session=session, cancelled=cancelled)
            total = listing_total(headers, request, entity)
            return as_record_list(body, request, entity), total, request

    def page_of(self, cut: PageCut, model: type[Record], entity: str, request: str) -> SourcePage[Record]:
        """The accepted page with its new records parsed into `model` (those it refuses kept apart, for quarantine)."""
        with self._scrubbed():
            records, raw, refused = parse_records(cut.fresh, model, request, entity, self._scrubber.text)
        return SourcePage(entity, request, records, raw, cut.total, cut.next_cursor, cut.offset, cut.calls,
                          complete=cut.complete, refused=refused)

    def new_session(self) -> requests.Session:
        """A session with this client's headers, for a worker thread (a requests.Session is not shared by threads)."""
        session = requests.Session()
        session.headers.update(self._session.headers)
        return session

    def get_one(self, path: str, model: type[Record], *, entity: str) -> Record | None:
        """One record by its path (e.g. `/units/12`); None when the source says 404."""
        with self._scrubbed():
            try:
                body, _, request = self._get(path, {}, entity)
            except SourceRequestRejected as rejected:
                if rejected.status == 404:
                    return None
                raise
            return parse_record(body, model, request, entity, self._scrubber.text)

    def send_write(self, method: str, path: str, body: Any, *, entity: str) -> Any:
        """One POST or PUT with a JSON body; the parsed answer (None when empty).

        Only 429 is retried here (the source applied nothing). A timeout, a dropped or cut connection, an answer past
        the deadline or the size cap, a 5xx or an unreadable answer raises SourceOutcomeUnknown: the write may have
        landed, so the caller must look before sending it again.
        """
        request = f"{method} {path}"
        with self._scrubbed():
            for attempt in range(1, self.retry.max_attempts + 1):
                try:
                    answer = self._request(method, path, request, json=body)
                except TRANSIENT_READ_ERRORS as error:
                    raise SourceOutcomeUnknown(
                        f"no complete answer ({type(error).__name__}); it may have been applied", request=request
                    ) from None
                except AnswerOverLimit as over:
                    raise SourceOutcomeUnknown(f"{over}; it may have been applied", request=request) from None
                if answer.status_code == 429 and attempt < self.retry.max_attempts:
                    self._back_off(attempt, answer, None)
                    continue
                if answer.status_code in RETRIABLE_STATUSES:
                    raise SourceOutcomeUnknown(f"HTTP {answer.status_code}{error_message(answer, self._scrubber.text)}",
                                               request=request)
                if answer.status_code >= 400:
                    raise rejection(answer, request, self._scrubber.text)
                if not answer.content:
                    return None
                try:
                    return parse_json(answer.content)
                except ValueError:
                    raise SourceOutcomeUnknown(
                        f"HTTP {answer.status_code} with an answer that is not valid JSON; it was probably applied",
                        request=request,
                    ) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    def get_page_of_one(self, path: str, model: type[Record], *, entity: str) -> SourcePage[Record]:
        """One record by its path (e.g. `/leases/12`) as a one-record page, raw JSON kept (a record its model refuses
        is the page's refused record, for quarantine); a 404 is an error."""
        with self._scrubbed():
            body, _, request = self._get(path, {}, entity)
            if not isinstance(body, dict):
                raise SourceDataError("response is not a JSON object", request=request, entity=entity)
            records, raw, refused = parse_records([body], model, request, entity, self._scrubber.text)
        return SourcePage(entity, request, records, raw, 1, None, refused=refused)

    def _get(self, path: str, params: Mapping[str, Any], entity: str, *, session: requests.Session | None = None,
             cancelled: threading.Event | None = None) -> tuple[Any, Mapping[str, str], str]:
        """A GET's parsed JSON body. Reads are idempotent: 429/5xx, timeouts, dropped or reset connections, a body
        cut mid-transfer, an answer past the deadline or the size cap and a 200 whose body is not JSON are all sent
        again within the retry budget. A speculative fetch whose `cancelled` is set stops before its next attempt
        (FetchAbandoned)."""
        request = f"GET {path}" + (f"?{urlencode(params)}" if params else "")
        failure = "no attempt made"
        for attempt in range(1, self.retry.max_attempts + 1):
            answer: Answer | None = None
            try:
                answer = self._request("GET", path, request, session=session, cancelled=cancelled, params=params)
            except TRANSIENT_READ_ERRORS as error:
                failure = type(error).__name__
            except AnswerOverLimit as over:
                failure = str(over)
            else:
                if answer.status_code in RETRIABLE_STATUSES:
                    failure = f"HTTP {answer.status_code}"
                elif answer.status_code >= 400:
                    raise rejection(answer, request, self._scrubber.text)
                else:
                    try:
                        return parse_json(answer.content), answer.headers, request
                    except ValueError:
                        failure = f"HTTP {answer.status_code} with a body that is not valid JSON ({len(answer.content)} bytes)"
            if attempt < self.retry.max_attempts:
                self._back_off(attempt, answer, cancelled)
        raise SourceUnavailable(
            f"source still failing after {self.retry.max_attempts} attempts (last: {failure}); run again later",
            request=request,
        )

    def _back_off(self, attempt: int, answer: Answer | None, cancelled: threading.Event | None) -> None:
        """Wait before the next attempt. A Retry-After, and any 429, is the source asking the whole client to slow
        down: every thread of it waits (the request budget's pause), this one too; other failures delay this thread."""
        retry_after = retry_after_seconds(answer.headers.get("Retry-After")) if answer is not None else None
        delay = self.retry.delay(attempt, retry_after, self._rng)
        if retry_after is not None or (answer is not None and answer.status_code == 429):
            self._budget.pause(delay)
        self._pause(delay, cancelled)

    def _pause(self, seconds: float, cancelled: threading.Event | None) -> None:
        """A wait; a speculative fetch's real-time wait ends early when it is cancelled."""
        if cancelled is not None and self._sleep is time.sleep:
            cancelled.wait(seconds)
        else:
            self._sleep(seconds)

    @contextmanager
    def _scrubbed(self) -> Iterator[None]:
        """Every error raised inside leaves without this client's credentials in its text: the source may echo them
        (an error body, a redirect, a record's values), and the message goes on to Prefect, logs and the CLI."""
        try:
            yield
        except SourceError as error:
            self._scrubber.error(error)
            raise

    def _request(self, method: str, path: str, request: str, *, session: requests.Session | None = None,
                 cancelled: threading.Event | None = None, **kwargs: Any) -> Answer:
        """One HTTP exchange (pmsync.source.exchange) once the request budget lets it go: no redirect followed, its
        body read within the deadline and the size cap."""
        self._budget.spend(lambda seconds: self._pause(seconds, cancelled))
        if cancelled is not None and cancelled.is_set():
            raise FetchAbandoned(request)
        with self._count_lock:
            self._requests_made += 1
        return exchange(session or self._session, method, self.base_url + path, request, retry=self.retry,
                        limits=self.limits, clock=self._clock, **kwargs)
