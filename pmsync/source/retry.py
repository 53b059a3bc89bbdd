"""How the client retries: the retry budget, jittered exponential backoff, Retry-After in every HTTP form."""

from __future__ import annotations

import email.utils
import http.client
import random
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import requests
import urllib3.exceptions

TRANSIENT_READ_ERRORS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.ProtocolError,
    http.client.IncompleteRead,
    ConnectionResetError,
)
"""Failures of the transport or of a body cut mid-transfer: a GET (idempotent) is simply sent again."""

_DELTA_SECONDS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before a request counts as failed.

    Backoff uses "equal jitter": attempt n waits a random time in [b/2, b] with b = min(base · 2^(n-1), cap), so
    clients that failed together do not come back together, and each still waits at least half the backoff.
    A Retry-After the source sent is obeyed as given (up to `retry_after_cap`), without jitter.
    """

    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 300.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        backoff = min(self.backoff_base * 2 ** (attempt - 1), self.backoff_cap)
        return backoff / 2 + (rng or random).uniform(0, backoff / 2)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks us to wait; None (use the backoff) when absent or unreadable.

    Accepts delta-seconds and an HTTP-date in any of the forms HTTP allows (IMF-fixdate, RFC 850, asctime), also
    with a numeric zone such as `-0000` or `+0200`; a zone-less date is GMT, as HTTP defines. A date in the past
    means "now" (0). Anything else — a signed or fractional number, a malformed date — is ignored.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - (now or datetime.now(timezone.utc))).total_seconds())
