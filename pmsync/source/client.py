"""Propertyware REST v1 client: auth headers, id-ordered offset paging, retries, readable errors."""

from __future__ import annotations

import http.client
import random
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3.exceptions
from pydantic import SecretStr

from pmsync.source.answers import as_record_list, error_message, listing_total, parse_json, parse_records, rejection
from pmsync.source.errors import (
    SourceAuthError,
    SourceDataError,
    SourceOutcomeUnknown,
    SourceRequestRejected,
    SourceRequestUnsendable,
    SourceUnavailable,
)
from pmsync.source.paging import (
    MAX_PAGE_SIZE,
    PageCursor,
    Record,
    SourcePage,
    check_page_size,
    check_progress,
    check_total_steady,
    is_new,
    overlaps,
)
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


def format_source_time(moment: datetime) -> str:
    """A timezone-aware moment in the vendor's date-time format (UTC, `Z`)."""
    if moment.tzinfo is None:
        raise ValueError("source times must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    ) -> None:
        secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.page_size = check_page_size(page_size)
        self.requests_made = 0
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
        """Fetch one id-ordered page holding only records above the previous page's last id.

        Each page after the first starts one record early; if that record is not one we have seen, the
        listing shifted under us (records left it), so we step further back until the page overlaps. Such an
        overlapping page asks for at least 2 records (one seen, one new), whatever the page size.

        Every page must prove progress, or the listing stops with an error instead of looping: a page overlapping by
        one record that brings no new id while X-Total-Count says more remain (SourcePagingBroken), a total that
        jumps by more than one page size between consecutive responses (SourceListingUnstable), a page that ends
        short of the total (SourceUnavailable). `complete` is set only on the page where the listing reached its end.
        """
        resuming = cursor.last_id is not None and cursor.offset > 0
        limit = max(self.page_size, 2) if resuming else self.page_size
        query = {**(params or {}), "orderby": "id asc", "limit": limit}
        step_back = 1 if resuming else 0
        previous_total = cursor.total
        calls = 0
        while True:
            offset = max(0, cursor.offset - step_back)
            body, headers, request = self._get(path, {**query, "offset": offset}, entity)
            calls += 1
            total = listing_total(headers, request, entity)
            check_total_steady(previous_total, total, limit, entity=entity, request=request)
            previous_total = total
            raw = as_record_list(body, request, entity)
            if step_back == 0 or offset == 0 or overlaps(raw, cursor.last_id):
                break
            step_back *= 4
        if len(raw) < limit and offset + len(raw) < total:
            raise SourceUnavailable(
                f"{entity} listing ended at {offset + len(raw)} of {total} records", request=request
            )
        fresh = [r for r in raw if is_new(r, cursor.last_id)]
        next_offset = offset + len(raw)
        done = len(raw) < limit or next_offset >= total
        check_progress(fresh, done, step_back, entity=entity, offset=offset, total=total, request=request)
        records = parse_records(fresh, model, request, entity)
        last_id = max((r.id for r in records), default=cursor.last_id)  # type: ignore[attr-defined]
        next_cursor = None if done else PageCursor(next_offset, last_id, total)
        return SourcePage(entity, request, records, fresh, total, next_cursor, offset, calls, complete=done)

    def iter_pages(
        self,
        path: str,
        model: type[Record],
        *,
        entity: str,
        params: Mapping[str, Any] | None = None,
    ) -> Iterator[SourcePage[Record]]:
        """Every page of a listing, streamed."""
        cursor: PageCursor | None = PageCursor()
        while cursor is not None:
            page = self.list_page(path, model, entity=entity, cursor=cursor, params=params)
            yield page
            cursor = page.next_cursor

    def get_one(self, path: str, model: type[Record], *, entity: str) -> Record | None:
        """One record by its path (e.g. `/units/12`); None when the source says 404."""
        try:
            body, _, request = self._get(path, {}, entity)
        except SourceRequestRejected as rejected:
            if rejected.status == 404:
                return None
            raise
        return parse_records([body], model, request, entity)[0]

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
        """One record by its path (e.g. `/leases/12`) as a one-record page, raw JSON kept; a 404 is an error."""
        body, _, request = self._get(path, {}, entity)
        if not isinstance(body, dict):
            raise SourceDataError("response is not a JSON object", request=request, entity=entity)
        return SourcePage(entity, request, parse_records([body], model, request, entity), [body], 1, None)

    def _get(self, path: str, params: Mapping[str, Any], entity: str) -> tuple[Any, Mapping[str, str], str]:
        """A GET's parsed JSON body. Reads are idempotent: 429/5xx, timeouts, dropped or reset connections, a body
        cut mid-transfer and a 200 whose body is not JSON are all sent again within the retry budget."""
        request = f"GET {path}" + (f"?{urlencode(params)}" if params else "")
        failure = "no attempt made"
        for attempt in range(1, self.retry.max_attempts + 1):
            retry_after: float | None = None
            try:
                response = self._request("GET", path, request, params=params)
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
                self._sleep(self.retry.delay(attempt, retry_after, self._rng))
        raise SourceUnavailable(
            f"source still failing after {self.retry.max_attempts} attempts (last: {failure}); run again later",
            request=request,
        )

    def _request(self, method: str, path: str, request: str, **kwargs: Any) -> requests.Response:
        """One HTTP exchange, body read. Transient failures propagate for the caller to retry; anything else the HTTP
        stack raises becomes our own error built from the exception's type alone (its text may hold a credential)."""
        self.requests_made += 1
        try:
            return self._session.request(
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
