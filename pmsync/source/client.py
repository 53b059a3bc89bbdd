"""Propertyware REST v1 client: auth headers, id-ordered offset paging, retries, readable errors."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import pydantic
import pydantic_core
import requests
from pydantic import BaseModel, SecretStr

from pmsync.source.errors import (
    SourceAuthError,
    SourceDataError,
    SourceOutcomeUnknown,
    SourceRequestRejected,
    SourceUnavailable,
)

MAX_PAGE_SIZE = 500
RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
Record = TypeVar("Record", bound=BaseModel)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before a request counts as failed."""

    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 300.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        return min(self.backoff_base * 2 ** (attempt - 1), self.backoff_cap)


@dataclass(frozen=True)
class PageCursor:
    """Where the next page of an id-ordered listing starts."""

    offset: int = 0
    last_id: int | None = None


@dataclass
class SourcePage(Generic[Record]):
    """One page of a listing, parsed: new records only (ids above the previous page's)."""

    entity: str
    request: str
    records: list[Record]
    raw: list[dict[str, Any]]
    total: int
    next_cursor: PageCursor | None
    offset: int = 0
    requests_made: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


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
    ) -> None:
        secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.page_size = min(page_size, MAX_PAGE_SIZE)
        self.requests_made = 0
        self._sleep = sleep
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
        listing shifted under us (records left it), so we step further back until the page overlaps.
        """
        query = {**(params or {}), "orderby": "id asc", "limit": self.page_size}
        step_back = 1 if cursor.last_id is not None and cursor.offset > 0 else 0
        calls = 0
        while True:
            offset = max(0, cursor.offset - step_back)
            body, headers, request = self._get(path, {**query, "offset": offset}, entity)
            calls += 1
            total = self._total(headers, request, entity)
            raw = self._as_list(body, request, entity)
            if step_back == 0 or offset == 0 or _overlaps(raw, cursor.last_id):
                break
            step_back *= 4
        if len(raw) < self.page_size and offset + len(raw) < total:
            raise SourceUnavailable(
                f"{entity} listing ended at {offset + len(raw)} of {total} records", request=request
            )
        fresh = [r for r in raw if _is_new(r, cursor.last_id)]
        records = self._parse(fresh, model, request, entity)
        next_offset = offset + len(raw)
        done = len(raw) < self.page_size or next_offset >= total
        last_id = max((r.id for r in records), default=cursor.last_id)  # type: ignore[attr-defined]
        next_cursor = None if done else PageCursor(next_offset, last_id)
        return SourcePage(entity, request, records, fresh, total, next_cursor, offset, calls)

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
        return self._parse([body], model, request, entity)[0]

    def send_write(self, method: str, path: str, body: Any, *, entity: str) -> Any:
        """One POST or PUT with a JSON body; the parsed answer (None when empty).

        Only 429 is retried here (the source applied nothing). A timeout, a dropped connection or a 5xx raises
        SourceOutcomeUnknown: the write may have landed, so the caller must look before sending it again.
        """
        request = f"{method} {path}"
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                self.requests_made += 1
                response = self._session.request(
                    method, self.base_url + path, json=body, timeout=(self.retry.connect_timeout, self.retry.read_timeout)
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                raise SourceOutcomeUnknown(f"no answer ({type(error).__name__}); it may have been applied", request=request) from None
            if response.status_code == 429 and attempt < self.retry.max_attempts:
                self._sleep(self.retry.delay(attempt, _retry_after_seconds(response.headers.get("Retry-After"))))
                continue
            if response.status_code in RETRIABLE_STATUSES:
                raise SourceOutcomeUnknown(f"HTTP {response.status_code}{_error_message(response)}", request=request)
            if response.status_code >= 400:
                raise self._rejection(response, request)
            if not response.content:
                return None
            try:
                return pydantic_core.from_json(response.content)
            except ValueError:
                raise SourceDataError("write answer is not valid JSON", request=request, entity=entity) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    def get_page_of_one(self, path: str, model: type[Record], *, entity: str) -> SourcePage[Record]:
        """One record by its path (e.g. `/leases/12`) as a one-record page, raw JSON kept; a 404 is an error."""
        body, _, request = self._get(path, {}, entity)
        if not isinstance(body, dict):
            raise SourceDataError("response is not a JSON object", request=request, entity=entity)
        return SourcePage(entity, request, self._parse([body], model, request, entity), [body], 1, None)

    def _get(self, path: str, params: Mapping[str, Any], entity: str) -> tuple[Any, Mapping[str, str], str]:
        request = f"GET {path}" + (f"?{urlencode(params)}" if params else "")
        response = self._send("GET", path, params, request)
        try:
            body = pydantic_core.from_json(response.content)
        except ValueError as bad_json:
            raise SourceDataError(
                f"response is not valid JSON ({bad_json}); {len(response.content)} bytes received",
                request=request,
                entity=entity,
            ) from None
        return body, response.headers, request

    def _send(self, method: str, path: str, params: Mapping[str, Any], request: str) -> requests.Response:
        failure = "no attempt made"
        for attempt in range(1, self.retry.max_attempts + 1):
            retry_after: float | None = None
            try:
                self.requests_made += 1
                response = self._session.request(
                    method,
                    self.base_url + path,
                    params=params,
                    timeout=(self.retry.connect_timeout, self.retry.read_timeout),
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                failure = f"{type(error).__name__}"
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRIABLE_STATUSES:
                    raise self._rejection(response, request)
                failure = f"HTTP {response.status_code}"
                retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            if attempt < self.retry.max_attempts:
                self._sleep(self.retry.delay(attempt, retry_after))
        raise SourceUnavailable(
            f"source still failing after {self.retry.max_attempts} attempts (last: {failure}); run again later",
            request=request,
        )

    @staticmethod
    def _rejection(response: requests.Response, request: str) -> Exception:
        detail = _error_message(response)
        if response.status_code == 401:
            return SourceAuthError(
                f"source refused the credentials (401{detail}); check PMSYNC_PW_CLIENT_ID, "
                "PMSYNC_PW_CLIENT_SECRET and PMSYNC_PW_SYSTEM_ID or the integration block",
                request=request,
            )
        return SourceRequestRejected(
            f"source rejected the request ({response.status_code}{detail})",
            request=request,
            status=response.status_code,
        )

    @staticmethod
    def _total(headers: Mapping[str, str], request: str, entity: str) -> int:
        value = headers.get("X-Total-Count")
        try:
            return int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise SourceDataError(
                f"list response has no usable X-Total-Count header ({value!r})", request=request, entity=entity
            ) from None

    @staticmethod
    def _as_list(body: Any, request: str, entity: str) -> list[dict[str, Any]]:
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise SourceDataError("list response is not a JSON array of objects", request=request, entity=entity)
        return body

    @staticmethod
    def _parse(raw: list[Any], model: type[Record], request: str, entity: str) -> list[Record]:
        try:
            return pydantic.TypeAdapter(list[model]).validate_python(raw)  # type: ignore[valid-type]
        except pydantic.ValidationError as invalid:
            first = invalid.errors(include_url=False, include_input=False)[0]
            index, *field_path = first["loc"]
            record = raw[index] if isinstance(index, int) and index < len(raw) else {}
            raise SourceDataError(
                f"{first['msg']} ({len(invalid.errors())} problem(s) on this page)",
                request=request,
                entity=entity,
                record_id=_record_id(record),
                field=".".join(str(part) for part in field_path) or None,
            ) from None


def _overlaps(raw: list[dict[str, Any]], last_id: int | None) -> bool:
    first = raw[0].get("id") if raw else None
    return isinstance(first, int) and last_id is not None and first <= last_id


def _is_new(record: dict[str, Any], last_id: int | None) -> bool:
    record_id = record.get("id")
    return last_id is None or not isinstance(record_id, int) or record_id > last_id


def _record_id(record: Any) -> Any:
    return record.get("id") if isinstance(record, dict) else None


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and body.get("userMessage"):
        return f": {str(body['userMessage'])[:200]}"
    return ""
