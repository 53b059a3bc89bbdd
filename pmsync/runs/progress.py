"""A sync's or reconciliation's progress, per batch: records done of what X-Total-Count announced, and the run's overall percentage."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

UNFINISHED_CAP = 99.0
"""The highest percentage a run shows before it has succeeded: 100 means the run's data is in and the run recorded."""


@dataclass(frozen=True)
class SyncProgress:
    """Where a sync run stands after a batch (or as a stream starts, or as the run succeeds).

    `records_done` and `records_announced` are the current stream's: the records read so far, and the X-Total-Count
    its listing's first page announced (a delta's: its window's), None before that page. `streams_done` counts the
    streams whose listing has ended, the current one included once its last batch is loaded. `percent` never goes
    down within a run, stays at most UNFINISHED_CAP until `finished` (the run succeeded), and is then exactly 100.
    """

    run_id: int | None
    integration: str
    flow: str
    stream: str
    records_done: int
    records_announced: int | None
    streams_done: int
    streams_total: int
    percent: float
    finished: bool = False

    def position(self) -> str:
        """Where the run stands: `units: 1,200 of 5,000 records · 1 of 6 streams done`."""
        announced = f"{self.records_announced:,}" if self.records_announced is not None else "?"
        return (f"{self.stream}: {self.records_done:,} of {announced} records · "
                f"{self.streams_done} of {self.streams_total} streams done")

    def headline(self) -> str:
        """The percentage and the current stream's counts: `42 % — 4,200 of 10,000 units`."""
        announced = f"{self.records_announced:,}" if self.records_announced is not None else "?"
        return f"{self.percent:.0f} % — {self.records_done:,} of {announced} {self.stream.replace('_', ' ')}"

    def describe(self) -> str:
        """The position and the percentage: `units: 1,200 of 5,000 records · 1 of 6 streams done · 28 %`."""
        return f"{self.position()} · {self.percent:.0f} %" + (" · succeeded" if self.finished else "")


ProgressReport = Callable[[SyncProgress], object]


class RunProgress:
    """Counts a sync run's progress and hands it to `report` (a job's `report_progress` step) once per event.

    Each stream weighs the same share of the run (its total is unknown until its first page is read); within a
    stream, the share done is records read / records announced. A listing that grows while it is read cannot push
    its stream past its share, and a stream counts whole only once its listing has ended.
    """

    def __init__(self, report: ProgressReport, run_id: int | None, integration: str, flow: str,
                 streams: Sequence[str]) -> None:
        self._report = report
        self._run = (run_id, integration, flow)
        self._streams_total = len(streams)
        self._stream = streams[0] if streams else ""
        self._streams_done = 0
        self._records_done = 0
        self._announced: int | None = None
        self._stream_ended = False
        self._percent = 0.0

    def stream_started(self, stream: str) -> None:
        """A stream's listing is about to be read."""
        self._stream, self._records_done, self._announced, self._stream_ended = stream, 0, None, False
        self._tell()

    def batch_loaded(self, records: int, announced: int, listing_ended: bool) -> None:
        """A batch of the current stream is loaded: `records` read in it, `announced` the X-Total-Count its first
        page told (the stream's first batch sets the stream's total), `listing_ended` when it was the last batch."""
        if self._announced is None:
            self._announced = announced
        self._records_done += records
        if listing_ended:
            self._streams_done += 1
            self._stream_ended = True
        self._tell()

    def succeeded(self) -> None:
        """The run succeeded and is recorded: 100 %."""
        self._percent = 100.0
        self._tell(finished=True)

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """The run has ended (succeeded or not): a report that sends in the background (it has `flush`) has sent
        everything it was handed, so a failed run's progress stays where it stopped, for anyone reading it now."""
        flush = getattr(self._report, "flush", None)
        if flush is not None:
            flush()

    def _current_share(self) -> float:
        if self._streams_total == 0:
            return 0.0
        in_stream = 0.0
        if not self._stream_ended and self._announced:
            in_stream = min(self._records_done / self._announced, 1.0)
        return (self._streams_done + in_stream) / self._streams_total

    def _tell(self, finished: bool = False) -> None:
        if not finished:
            self._percent = max(self._percent, min(round(100 * self._current_share(), 2), UNFINISHED_CAP))
        run_id, integration, flow = self._run
        self._report(SyncProgress(run_id, integration, flow, self._stream, self._records_done, self._announced,
                                  self._streams_done, self._streams_total, self._percent, finished))


_LISTENERS: list[ProgressReport] = []


@contextmanager
def listening(listener: ProgressReport) -> Iterator[None]:
    """Within the block, `listener` also gets every progress event that reaches `tell_listeners` in this process
    (how a command shows the progress of a Prefect flow it runs here)."""
    _LISTENERS.append(listener)
    try:
        yield
    finally:
        _LISTENERS.remove(listener)


def tell_listeners(progress: SyncProgress) -> None:
    """Hand `progress` to every listener of this process (none: nothing happens)."""
    for listener in tuple(_LISTENERS):
        listener(progress)
