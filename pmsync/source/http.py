"""The HTTP side every source package shares: its headers, retries, the request budget, writes, scrubbed errors."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import requests

from pmsync.source.answers import error_message, parse_json, rejection
from pmsync.source.base_url import check_base_url
from pmsync.source.budget import DEFAULT_CONCURRENCY, RequestBudget, account_budget, account_burst, check_concurrency
from pmsync.source.dialect import OffsetDialect
from pmsync.source.errors import FetchAbandoned, SourceError, SourceOutcomeUnknown, SourceUnavailable
from pmsync.source.exchange import Answer, AnswerLimits, AnswerOverLimit, exchange
from pmsync.source.retry import TRANSIENT_READ_ERRORS, RetryPolicy, retry_after_seconds
from pmsync.source.scrub import CredentialScrubber

RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class HttpTransport:
    """Talks to one source account over HTTP in its `dialect`: every request within the request budget, reads retried,
    writes never resent blindly, and every error leaving without the account's `secrets` in its text."""

    def __init__(
        self,
        base_url: str,
        dialect: OffsetDialect,
        headers: Mapping[str, str],
        secrets: Iterable[str],
        *,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_requests_per_second: float | None = None,
        limits: AnswerLimits = AnswerLimits(),
        clock: Callable[[], float] = time.monotonic,
        account: str | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url, "base_url").rstrip("/")
        self.dialect = dialect
        self.retry = retry
        self.limits = limits
        self.concurrency = concurrency
        if account is not None and clock is time.monotonic and sleep is time.sleep:
            self._budget = account_budget(self.base_url, account, max_requests_per_second,
                                          account_burst(max_requests_per_second, self.concurrency))
        else:
            self._budget = RequestBudget(max_requests_per_second, burst=account_burst(max_requests_per_second,
                                                                                      self.concurrency),
                                         clock=clock, sleep=sleep)
        self._scrubber = CredentialScrubber(secrets)
        self._requests_made = 0
        self._count_lock = threading.Lock()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._session = session or requests.Session()
        self._session.headers.update({**dialect.headers, **headers})

    @property
    def concurrency(self) -> int:
        """How many of this client's requests may be in flight at once, whatever listings they serve (1–4)."""
        return self._concurrency

    @concurrency.setter
    def concurrency(self, concurrency: int) -> None:
        self._concurrency = check_concurrency(concurrency)
        self._in_flight = threading.BoundedSemaphore(self._concurrency)

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far by every thread of this client (speculative pages included)."""
        return self._requests_made

    def close(self) -> None:
        self._session.close()

    def new_session(self) -> requests.Session:
        """A session with this client's headers, for a worker thread (a requests.Session is not shared by threads)."""
        session = requests.Session()
        session.headers.update(self._session.headers)
        return session

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
                    message = error_message(answer, self._scrubber.text, message_field=self.dialect.message_field)
                    raise SourceOutcomeUnknown(f"HTTP {answer.status_code}{message}", request=request)
                if answer.status_code >= 400:
                    raise self._rejection(answer, request)
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

    def _rejection(self, answer: Answer, request: str) -> Exception:
        return rejection(answer, request, self._scrubber.text, auth_hint=f"check {self.dialect.credential_settings}",
                         message_field=self.dialect.message_field)

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
                    raise self._rejection(answer, request)
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
        """One HTTP exchange (pmsync.source.exchange) once fewer than `concurrency` of this client's requests are in
        flight (whatever listing they serve) and the request budget lets it go: no redirect followed, its body read
        within the deadline and the size cap."""
        with self._in_flight:
            self._budget.spend(lambda seconds: self._pause(seconds, cancelled))
            if cancelled is not None and cancelled.is_set():
                raise FetchAbandoned(request)
            with self._count_lock:
                self._requests_made += 1
            return exchange(session or self._session, method, self.base_url + path, request, retry=self.retry,
                            limits=self.limits, settings=self.dialect, clock=self._clock, **kwargs)
