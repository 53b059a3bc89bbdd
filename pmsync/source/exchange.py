"""One HTTP exchange with the source: no redirect followed, the body read within a deadline and a size cap."""

from __future__ import annotations

import http.client
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions

from pmsync.source.dialect import OffsetDialect
from pmsync.source.errors import SourceAuthError, SourceRequestUnsendable
from pmsync.source.retry import TRANSIENT_READ_ERRORS, RetryPolicy

DEFAULT_REQUEST_DEADLINE_SECONDS = 120.0
"""Twice the read timeout: a page of 500 leases takes 0.02–0.09 s from the bundled sandbox on a 2-core machine (measured);
a source still sending one after two minutes is stuck (a body trickling in never trips a per-read timeout)."""
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""Measured: a sandbox page of 500 leases is 0.39 MB, and 5.7 MB with every string of every lease and contact at 500+
characters; 64 MiB leaves an elevenfold margin over that and bounds what one answer can take of memory."""
CHUNK_BYTES = 256 * 1024
"""The most one read takes from the connection (a read returns what has arrived, up to this)."""


@dataclass(frozen=True)
class AnswerLimits:
    """How long one request may take from sending to its body's last byte, and how big its body may be (decoded)."""

    deadline_seconds: float = DEFAULT_REQUEST_DEADLINE_SECONDS
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


@dataclass(frozen=True)
class Answer:
    """One HTTP answer of the source, its body read whole."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes


class AnswerOverLimit(Exception):
    """The answer took longer than the deadline or grew beyond the size cap; its text names the limit and its setting."""


HTTP_STACK_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    http.client.HTTPException,
    urllib3.exceptions.HTTPError,
    ValueError,
)
"""What requests, urllib3 and http.client raise for a request they cannot build or send; their text may repeat
header values (credentials), so only the exception's type is ever reported."""
HEADER_ERRORS: tuple[type[BaseException], ...] = (requests.exceptions.InvalidHeader, UnicodeError)


def exchange(session: requests.Session, method: str, url: str, request: str, *, retry: RetryPolicy,
             limits: AnswerLimits, settings: OffsetDialect, clock: Callable[[], float] = time.monotonic,
             **kwargs: Any) -> Answer:
    """Send one request and read its answer within `limits` (AnswerOverLimit past them). Transient failures
    propagate for the caller to retry; a redirect is fatal (the API key would follow it to wherever it points);
    anything else the HTTP stack raises becomes our own error built from the exception's type alone (its text may
    hold a credential). Errors name the source package's own `settings` (credentials, base URL) to fix."""
    started = clock()
    timeout = (retry.connect_timeout, min(retry.read_timeout, limits.deadline_seconds))
    try:
        response = session.request(method, url, timeout=timeout, allow_redirects=False, stream=True, **kwargs)
        if response.is_redirect or 300 <= response.status_code < 400:
            response.close()
            raise redirected(response, request, settings.base_url_setting)
        return read_answer(response, limits, started, retry.read_timeout, clock)
    except requests.exceptions.ReadTimeout:
        if clock() - started >= limits.deadline_seconds:
            raise _too_slow(limits, 0) from None
        raise
    except (*TRANSIENT_READ_ERRORS, AnswerOverLimit, SourceRequestUnsendable):
        raise
    except HEADER_ERRORS as error:
        raise SourceAuthError(
            f"the request could not be sent ({type(error).__name__}): a credential holds characters an HTTP header "
            f"cannot carry (whitespace, CR, LF, non-Latin-1); fix {settings.credential_settings}",
            request=request,
        ) from None
    except HTTP_STACK_ERRORS as error:
        raise SourceRequestUnsendable(
            f"the request could not be built or sent ({type(error).__name__}); check {settings.base_url_setting} (or "
            "the block's base_url), then the request's parameters and body",
            request=request,
        ) from None


def redirected(response: requests.Response, request: str, base_url_setting: str) -> SourceRequestUnsendable:
    """A redirect is never followed: the API key travels in every request's headers, to any host it points to."""
    location = (response.headers.get("Location") or "").strip()
    target = urlsplit(urljoin(response.url, location)).netloc.rpartition("@")[2] if location else None
    where = f"to {target}" if target else "without a Location"
    return SourceRequestUnsendable(
        f"the source answered {response.status_code}, redirecting {where}; pmsync follows no redirect (the API key "
        f"would go along): fix the base URL ({base_url_setting} or the block's base_url) to the address the API "
        "answers at",
        request=request,
    )


def check_deadline(seconds: float) -> float:
    """A deadline above 0 seconds; ValueError naming PMSYNC_PW_REQUEST_DEADLINE_SECONDS."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"PMSYNC_PW_REQUEST_DEADLINE_SECONDS must be a number of seconds above 0, got {seconds!r}")
    return float(seconds)


def check_max_bytes(size: int) -> int:
    """A body-size cap of at least 1 KiB; ValueError naming PMSYNC_PW_MAX_RESPONSE_BYTES."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1024:
        raise ValueError(f"PMSYNC_PW_MAX_RESPONSE_BYTES must be a whole number of bytes, at least 1024, got {size!r}")
    return size


def read_answer(response: requests.Response, limits: AnswerLimits, started: float, read_timeout: float,
                clock: Callable[[], float] = time.monotonic) -> Answer:
    """The answer of a request sent with `stream=True` at `started` (on `clock`), its body read chunk by chunk as it
    arrives: past `limits` it is AnswerOverLimit and the connection is dropped. A read waits at most what is left of
    the deadline (the request was sent with a read timeout no longer than the deadline). Transport failures while
    reading raise what requests raises for them."""
    try:
        return Answer(response.status_code, response.headers, _body(response, limits, started, read_timeout, clock))
    except AnswerOverLimit:
        response.close()
        raise


def _body(response: requests.Response, limits: AnswerLimits, started: float, read_timeout: float,
          clock: Callable[[], float]) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_large(limits, f"it announced {int(declared)} bytes")
    deadline = started + limits.deadline_seconds
    raw = response.raw
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - clock()
        if left <= 0:
            raise _too_slow(limits, size)
        connection = raw.connection
        if left < read_timeout and connection is not None and connection.sock is not None:
            connection.sock.settimeout(left)  # else the request's read timeout, already no longer than what is left
        try:
            chunk = raw.read1(CHUNK_BYTES, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError:
            if clock() >= deadline:
                raise _too_slow(limits, size) from None
            raise requests.ConnectionError("read timed out") from None
        except urllib3.exceptions.ProtocolError:
            raise requests.exceptions.ChunkedEncodingError("connection broken mid-body") from None
        except urllib3.exceptions.DecodeError:
            raise requests.exceptions.ContentDecodingError("body does not decode") from None
        except urllib3.exceptions.SSLError:
            raise requests.exceptions.SSLError("TLS failure mid-body") from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limits.max_bytes:
            raise _too_large(limits, f"{size} bytes had arrived")
        chunks.append(chunk)


def _too_large(limits: AnswerLimits, seen: str) -> AnswerOverLimit:
    return AnswerOverLimit(f"answer larger than the {limits.max_bytes}-byte cap ({seen}; PMSYNC_PW_MAX_RESPONSE_BYTES)")


def _too_slow(limits: AnswerLimits, size: int) -> AnswerOverLimit:
    return AnswerOverLimit(f"answer not complete within the {limits.deadline_seconds:g} s deadline ({size} bytes of the "
                           "body had arrived; PMSYNC_PW_REQUEST_DEADLINE_SECONDS)")
