"""Injectable slowness of the sandbox: vendor requests that wait before they are handled (a slow source)."""

from __future__ import annotations

import dataclasses
import threading


@dataclasses.dataclass
class Slowdown:
    """Requests matching `path` (vendor path such as "/workorders", exact; None matches any), `method` (None matches
    any) and `page_offset` (a list request's offset; None matches any request) wait `seconds` before they are handled,
    `times` times (None: until cleared). The wait comes first: a slowed POST has not landed while it waits."""

    seconds: float
    path: str | None = None
    method: str | None = None
    times: int | None = None
    page_offset: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.seconds <= 600:
            raise ValueError("seconds must be above 0 and at most 600")
        if self.path is not None and not self.path.startswith("/"):
            raise ValueError(f"slowdown path must be a vendor path such as '/workorders', got {self.path!r}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 (or left out: until cleared)")
        self.method = self.method.upper() if self.method else None

    def matches(self, path: str, method: str, offset: str | None = None) -> bool:
        return ((self.path is None or self.path == path) and (self.method is None or self.method == method.upper())
                and (self.page_offset is None or str(self.page_offset) == (offset or "0")))


class Slowdowns:
    """The queued slowdowns; the first matching one applies to a request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: list[Slowdown] = []
        self.cuts = 0
        """How many times every wait in progress was cut short (cut_short): a waiting request compares it."""

    def add(self, slowdown: Slowdown) -> Slowdown:
        with self._lock:
            self._queued.append(slowdown)
        return slowdown

    def clear(self) -> int:
        with self._lock:
            cleared, self._queued = len(self._queued), []
        return cleared

    def cut_short(self) -> None:
        """End every wait in progress now: a test that held a request "as long as needed" has seen what it needed."""
        with self._lock:
            self.cuts += 1

    def listed(self) -> list[dict]:
        with self._lock:
            return [dataclasses.asdict(slowdown) for slowdown in self._queued]

    def delay_for(self, path: str, method: str, offset: str | None = None) -> float:
        """Seconds this request (a list request at `offset`) waits (0 when no slowdown matches); a counted slowdown is
        used up."""
        with self._lock:
            slowdown = next((s for s in self._queued if s.matches(path, method, offset)), None)
            if slowdown is None:
                return 0.0
            if slowdown.times is not None:
                slowdown.times -= 1
                if slowdown.times == 0:
                    self._queued.remove(slowdown)
            return slowdown.seconds


def slowdown_from_dict(body: object) -> Slowdown:
    """A Slowdown from the JSON body of POST /_sandbox/slowdowns; ValueError names what is wrong."""
    if not isinstance(body, dict) or "seconds" not in body:
        raise ValueError('a slowdown is a JSON object with at least "seconds"')
    unknown = set(body) - {field.name for field in dataclasses.fields(Slowdown)}
    if unknown:
        raise ValueError(f"unknown slowdown field(s): {', '.join(sorted(unknown))}")
    return Slowdown(**body)
