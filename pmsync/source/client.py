"""Propertyware REST v1 client: auth headers, id-ordered offset paging, retries, readable errors."""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3.exceptions
from pydantic import SecretStr

from pmsync.source.answers import (as_record_list, error_message, listing_total, parse_json, parse_record, parse_records,
                                   rejection)
from pmsync.source.budget import DEFAULT_CONCURRENCY, RequestBudget, check_concurrency
from pmsync.source.errors import (FetchAbandoned, SourceAuthError, SourceDataError, SourceOutcomeUnknown,
                                  SourceRequestRejected, SourceRequestUnsendable, SourceUnavailable)
from pmsync.source.listing import concurrent_pages
from pmsync.source.paging import (MAX_PAGE_SIZE, PageCursor, PageCut, Paginator, PageRequest, Record, SourcePage,
                                  check_page_size, format_source_time)
from pmsync.source.retry import TRANSIENT_READ_ERRORS, RetryPolicy, retry_after_seconds

__all__ = ["MAX_PAGE_SIZE", "PageCursor", "PropertywareClient", "RetryPolicy", "SourcePage", "format_source_time"]

RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
HTTP_STACK_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    http.client.HTTPException,
    urllib3.exceptions.HTTPError,
    ValueError,
)
"""What requests, urllib3 and http.client raise for a request they cannot build or send; their text may repeat
header values (credentials), so only the exception's type is ever reported."""
HEADER_ERRORS: tuple[type[BaseException], ...] = (requests.exceptions.InvalidHeader, UnicodeError)


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
    ) -> None:
        secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.page_size = check_page_size(page_size)
        self.concurrency = check_concurrency(concurrency)
        self._budget = RequestBudget(max_requests_per_second, burst=self.concurrency) if max_requests_per_second else None
        self._requests_made = 0
        self._count_lock = threading.Lock()
        self._sleep = sleep
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
        body, headers, request = self._get(path, query, entity, session=session, cancelled=cancelled)
        total = listing_total(headers, request, entity)
        return as_record_list(body, request, entity), total, request

    @staticmethod
    def page_of(cut: PageCut, model: type[Record], entity: str, request: str) -> SourcePage[Record]:
        """The accepted page with its new records parsed into `model` (those it refuses kept apart, for quarantine)."""
        records, raw, refused = parse_records(cut.fresh, model, request, entity)
        return SourcePage(entity, request, records, raw, cut.total, cut.next_cursor, cut.offset, cut.calls,
                          complete=cut.complete, refused=refused)

    def new_session(self) -> requests.Session:
        """A session with this client's headers, for a worker thread (a requests.Session is not shared by threads)."""
        session = requests.Session()
        session.headers.update(self._session.headers)
        return session

    def get_one(self, path: str, model: type[Record], *, entity: str) -> Record | None:
        """One record by its path (e.g. `/units/12`); None when the source says 404."""
        try:
            body, _, request = self._get(path, {}, entity)
        except SourceRequestRejected as rejected:
            if rejected.status == 404:
                return None
            raise
        return parse_record(body, model, request, entity)

    def send_write(self, method: str, path: str, body: Any, *, entity: str) -> Any:
        """One POST or PUT with a JSON body; the parsed answer (None when empty).

        Only 429 is retried here (the source applied nothing). A timeout, a dropped or cut connection, a 5xx or an
        unreadable answer raises SourceOutcomeUnknown: the write may have landed, so the caller must look before
        sending it again.
        """
        request = f"{method} {path}"
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                response = self._request(method, path, request, json=body)
            except TRANSIENT_READ_ERRORS as error:
                raise SourceOutcomeUnknown(
                    f"no complete answer ({type(error).__name__}); it may have been applied", request=request
                ) from None
            if response.status_code == 429 and attempt < self.retry.max_attempts:
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                self._sleep(self.retry.delay(attempt, retry_after, self._rng))
                continue
            if response.status_code in RETRIABLE_STATUSES:
                raise SourceOutcomeUnknown(f"HTTP {response.status_code}{error_message(response)}", request=request)
            if response.status_code >= 400:
                raise rejection(response, request)
            if not response.content:
                return None
            try:
                return parse_json(response.content)
            except ValueError:
                raise SourceOutcomeUnknown(
                    f"HTTP {response.status_code} with an answer that is not valid JSON; it was probably applied",
                    request=request,
                ) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    def get_page_of_one(self, path: str, model: type[Record], *, entity: str) -> SourcePage[Record]:
        """One record by its path (e.g. `/leases/12`) as a one-record page, raw JSON kept (a record its model refuses
        is the page's refused record, for quarantine); a 404 is an error."""
        body, _, request = self._get(path, {}, entity)
        if not isinstance(body, dict):
            raise SourceDataError("response is not a JSON object", request=request, entity=entity)
        records, raw, refused = parse_records([body], model, request, entity)
        return SourcePage(entity, request, records, raw, 1, None, refused=refused)

    def _get(self, path: str, params: Mapping[str, Any], entity: str, *, session: requests.Session | None = None,
             cancelled: threading.Event | None = None) -> tuple[Any, Mapping[str, str], str]:
        """A GET's parsed JSON body. Reads are idempotent: 429/5xx, timeouts, dropped or reset connections, a body
        cut mid-transfer and a 200 whose body is not JSON are all sent again within the retry budget. A speculative
        fetch whose `cancelled` is set stops before its next attempt (FetchAbandoned)."""
        request = f"GET {path}" + (f"?{urlencode(params)}" if params else "")
        failure = "no attempt made"
        for attempt in range(1, self.retry.max_attempts + 1):
            if cancelled is not None and cancelled.is_set():
                raise FetchAbandoned(request)
            retry_after: float | None = None
            try:
                response = self._request("GET", path, request, session=session, params=params)
            except TRANSIENT_READ_ERRORS as error:
                failure = type(error).__name__
            else:
                if response.status_code in RETRIABLE_STATUSES:
                    failure = f"HTTP {response.status_code}"
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                elif response.status_code >= 400:
                    raise rejection(response, request)
                else:
                    try:
                        return parse_json(response.content), response.headers, request
                    except ValueError:
                        failure = f"HTTP {response.status_code} with a body that is not valid JSON ({len(response.content)} bytes)"
            if attempt < self.retry.max_attempts:
                self._pause(self.retry.delay(attempt, retry_after, self._rng), cancelled)
        raise SourceUnavailable(
            f"source still failing after {self.retry.max_attempts} attempts (last: {failure}); run again later",
            request=request,
        )

    def _pause(self, seconds: float, cancelled: threading.Event | None) -> None:
        """A backoff wait; a speculative fetch's real-time wait ends early when it is cancelled."""
        if cancelled is not None and self._sleep is time.sleep:
            cancelled.wait(seconds)
        else:
            self._sleep(seconds)

    def _request(self, method: str, path: str, request: str, *, session: requests.Session | None = None,
                 **kwargs: Any) -> requests.Response:
        """One HTTP exchange, body read, within the request budget. Transient failures propagate for the caller to
        retry; anything else the HTTP stack raises becomes our own error built from the exception's type alone (its
        text may hold a credential)."""
        if self._budget is not None:
            self._budget.spend()
        with self._count_lock:
            self._requests_made += 1
        try:
            return (session or self._session).request(
                method, self.base_url + path, timeout=(self.retry.connect_timeout, self.retry.read_timeout), **kwargs
            )
        except TRANSIENT_READ_ERRORS:
            raise
        except HEADER_ERRORS as error:
            raise SourceAuthError(
                f"the request could not be sent ({type(error).__name__}): a credential holds characters an HTTP header "
                "cannot carry (whitespace, CR, LF, non-Latin-1); fix PMSYNC_PW_CLIENT_ID, PMSYNC_PW_CLIENT_SECRET and "
                "PMSYNC_PW_SYSTEM_ID or the integration block",
                request=request,
            ) from None
        except HTTP_STACK_ERRORS as error:
            raise SourceRequestUnsendable(
                f"the request could not be built or sent ({type(error).__name__}); check PMSYNC_PW_BASE_URL (or the "
                "block's base_url), then the request's parameters and body",
                request=request,
            ) from None
