"""The request side of a sandbox store: queued faults, slowdowns, the request and write logs, requests in flight."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

from .faults import Fault
from .slowdowns import Slowdowns

_REQUEST_LOG_LIMIT = 100_000


class Traffic:
    """What a sandbox records and injects about the requests it receives, whatever vendor dialect it speaks."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._faults: list[Fault] = []
        self.slowdowns = Slowdowns()
        self.requests_log: list[tuple[str, str, dict[str, str]]] = []
        self.request_times: list[float] = []
        """When each request of `requests_log` arrived (time.monotonic(), this process's clock)."""
        self.in_flight = 0
        self.most_in_flight = 0
        self.writes_log: list[dict[str, Any]] = []

    def log_request(self, method: str, path: str, query: dict[str, str]) -> None:
        with self.lock:
            self.requests_log.append((method, path, query))
            self.request_times.append(time.monotonic())
            if len(self.requests_log) > _REQUEST_LOG_LIMIT:
                del self.requests_log[: len(self.requests_log) - _REQUEST_LOG_LIMIT]
                del self.request_times[: len(self.request_times) - _REQUEST_LOG_LIMIT]

    def request_began(self) -> None:
        """A vendor request is being handled; `most_in_flight` keeps the most handled at once since the log was cleared."""
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def request_ended(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def log_write(self, method: str, path: str, raw_body: bytes, status: int) -> None:
        """Every write received, in order: method, vendor path, the body as sent (parsed when JSON), our answer."""
        try:
            body: Any = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = raw_body.decode("utf-8", "replace")
        with self.lock:
            self.writes_log.append({"method": method, "path": path, "body": body, "status": status})

    def clear_requests_log(self) -> None:
        with self.lock:
            self.requests_log.clear()
            self.request_times.clear()
            self.most_in_flight = self.in_flight

    def inject(self, fault: Fault) -> Fault:
        with self.lock:
            self._faults.append(fault)
            return fault

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        with self.lock:
            return list(self._faults)

    def pending_fault(self, path: str, method: str) -> Fault | None:
        """The first queued fault matching the request (not consumed)."""
        with self.lock:
            return next((f for f in self._faults if f.matches(path, method)), None)

    def consume_fault(self, fault: Fault) -> None:
        with self.lock:
            fault.times -= 1
            if fault.times <= 0:
                self._faults[:] = [f for f in self._faults if f is not fault]

    def claim_fault(self, path: str, method: str, kinds: tuple[str, ...],
                    applies: Callable[[Fault], bool] | None = None) -> Fault | None:
        """Consumes and returns the first matching fault if it is one of `kinds` (and `applies` to this request)."""
        with self.lock:
            fault = self.pending_fault(path, method)
            if fault is None or fault.kind not in kinds or (applies is not None and not applies(fault)):
                return None
            self.consume_fault(fault)
            return fault
