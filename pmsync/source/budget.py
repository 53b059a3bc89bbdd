"""How hard a client may press the source: requests in flight, a request rate and a pause shared by its threads."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable

MAX_CONCURRENCY = 4
DEFAULT_CONCURRENCY = 2
DEFAULT_MAX_REQUESTS_PER_SECOND = 100.0
"""Well above what the bundled sandbox serves pages of 500 at on a 2-core machine (so `make bench` is not slowed),
and a cap a source can count on. The vendor's spec announces (as future) 10 requests per second per client; set
PMSYNC_PW_MAX_REQUESTS_PER_SECOND=10 if the account enforces it (a 429 is retried either way)."""


def check_concurrency(concurrency: int) -> int:
    """The number of requests a listing may have in flight, if allowed (1–4); ValueError naming PMSYNC_PW_CONCURRENCY."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"PMSYNC_PW_CONCURRENCY must be a whole number from 1 to {MAX_CONCURRENCY}, got {concurrency!r}")
    return concurrency


def check_request_rate(per_second: float) -> float:
    """A request rate above 0 (requests per second); ValueError naming PMSYNC_PW_MAX_REQUESTS_PER_SECOND."""
    if isinstance(per_second, bool) or not isinstance(per_second, (int, float)) or not (
        math.isfinite(per_second) and per_second > 0
    ):
        raise ValueError(f"PMSYNC_PW_MAX_REQUESTS_PER_SECOND must be a number above 0, got {per_second!r}")
    return float(per_second)


SECOND_MARGIN = 0.05
"""Added to the second in which a budget starts at most its rate: requests reach the source a little later or earlier
than they start, and a source counting a sliding second of arrivals would refuse the one that lands inside it."""


class RequestBudget:
    """At most `per_second` requests a second on average (None: no cap), `burst` of them at once, across all threads of
    a client; and a pause nobody sends through (the source said "retry after").

    Each request takes the next free slot (slots are 1/per_second apart; up to `burst` may fall due together; none
    before the pause ends; never more than `per_second` in any second, as a source counting a sliding second sees
    them) and waits for it outside the lock, so threads are paced, never starved."""

    def __init__(self, per_second: float | None, burst: int = 1, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1 / check_request_rate(per_second) if per_second is not None else 0.0
        self._tolerance = self.interval * (max(burst, 1) - 1)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_due = -math.inf
        self._resume_at = -math.inf
        whole = int(per_second) if per_second is not None and per_second >= 1 else 0
        self._last_second: deque[float] | None = deque(maxlen=whole) if whole else None

    def pause(self, seconds: float) -> None:
        """No thread of the client sends a request in the next `seconds` (a later pause already set stands)."""
        with self._lock:
            self._resume_at = max(self._resume_at, self._clock() + seconds)

    def spend(self, sleep: Callable[[float], None] | None = None) -> float:
        """Wait for this request's slot (with `sleep`, else the budget's own); the seconds waited."""
        with self._lock:
            now = self._clock()
            start = max(now, self._resume_at, self._next_due - self._tolerance)
            window = self._last_second
            if window is not None and len(window) == window.maxlen:
                start = max(start, window[0] + 1.0 + SECOND_MARGIN)
            self._next_due = max(self._next_due, start) + self.interval
            if window is not None:
                window.append(start)
        wait = start - now
        if wait > 0:
            (sleep or self._sleep)(wait)
        return max(wait, 0.0)


def account_burst(per_second: float | None, concurrency: int) -> int:
    """How many requests of one account may start at once: as many as its rate allows in a second (10 at Buildium's
    10 a second, so a delta's windowed listings open together in a fresh second), never fewer than one listing has in
    flight. The budget still starts no more than `per_second` in any second."""
    return max(concurrency, int(per_second) if per_second is not None else 0)


_ACCOUNT_BUDGETS: dict[tuple[str, float | None, int], RequestBudget] = {}
_ACCOUNT_BUDGETS_LOCK = threading.Lock()


def account_budget(base_url: str, client_id: str, per_second: float | None, burst: int) -> RequestBudget:
    """The budget every client of one account (base URL and client id) shares in this process: its threads, and the
    clients of the runs, pushes and balances after or beside it, so a new client does not start a burst the source
    still counts against the last one's requests."""
    account = hashlib.blake2b(f"{base_url}\0{client_id}".encode(), digest_size=16).hexdigest()
    key = (account, per_second, burst)
    with _ACCOUNT_BUDGETS_LOCK:
        budget = _ACCOUNT_BUDGETS.get(key)
        if budget is None:
            budget = _ACCOUNT_BUDGETS[key] = RequestBudget(per_second, burst=burst)
        return budget
