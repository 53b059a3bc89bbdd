"""A sync's progress on the command line: a rich bar when stdout is a terminal, else one plain stderr line a stream."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.text import Text

from pmsync.cli.common import console
from pmsync.runs.progress import SyncProgress

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


class _PrintAboveTheBar(logging.Filter):
    """Put on a handler that writes to the terminal's stderr while the bar is shown: the record is printed above the
    bar instead (the same line), so log lines and the redrawn bar do not overwrite each other."""

    def __init__(self, handler: logging.Handler, shown_on: Console) -> None:
        super().__init__()
        self.handler, self.shown_on = handler, shown_on

    def filter(self, record: logging.LogRecord) -> bool:
        self.shown_on.print(Text(self.handler.format(record)), soft_wrap=True, highlight=False)
        return False


def _terminal_stderr_handlers() -> list[logging.Handler]:
    """Every logging handler that writes to stderr (the library's, Prefect's console handler), each once."""
    loggers = [logging.getLogger(), *(logger for logger in logging.Logger.manager.loggerDict.values()
                                      if isinstance(logger, logging.Logger))]
    streams = {id(sys.stderr), id(sys.__stderr__)}
    found = {id(handler): handler for logger in loggers for handler in logger.handlers
             if isinstance(handler, logging.StreamHandler) and id(handler.stream) in streams}
    return list(found.values())


class ProgressDisplay:
    """Shows each progress event of a sync: on a terminal a bar (started by the first event, left at its last state
    when the run ends); otherwise a line on stderr as each stream's listing ends and as the run succeeds, so stdout
    keeps only the command's result."""

    def __init__(self, on_terminal: bool) -> None:
        self.on_terminal = on_terminal
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._rerouted: list[tuple[logging.Handler, logging.Filter]] = []
        self._streams_done = 0

    def __call__(self, progress: SyncProgress) -> None:
        if self.on_terminal:
            self._show_on_bar(progress)
        elif progress.finished or progress.streams_done > self._streams_done:
            print(f"progress: {progress.flow} sync · {progress.describe()}", file=sys.stderr, flush=True)
        self._streams_done = progress.streams_done

    def _show_on_bar(self, progress: SyncProgress) -> None:
        detail = progress.position() + (" · succeeded" if progress.finished else "")
        if self._bar is None:
            self._start_bar(f"{progress.flow} sync", progress.percent, detail)
        else:
            self._bar.update(self._task, completed=progress.percent, detail=detail)  # type: ignore[arg-type]

    def _start_bar(self, title: str, percent: float, detail: str) -> None:
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

        stderr_on_terminal = sys.stderr.isatty()
        logging_to_terminal = _terminal_stderr_handlers() if stderr_on_terminal else []
        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"), console=console, redirect_stderr=stderr_on_terminal,
        )
        self._task = self._bar.add_task(title, total=100.0, completed=percent, detail=detail)
        for handler in logging_to_terminal:
            reroute = _PrintAboveTheBar(handler, console)
            handler.addFilter(reroute)
            self._rerouted.append((handler, reroute))
        self._bar.start()

    def close(self) -> None:
        """Stop the bar where it stands (a failed run's stays below 100 %) and give the log lines back to stderr."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        for handler, reroute in self._rerouted:
            handler.removeFilter(reroute)
        self._rerouted.clear()


@contextmanager
def progress_shown() -> Iterator[ProgressDisplay]:
    """A progress display for a job run in this command: a bar when stdout is a terminal, plain lines otherwise."""
    display = ProgressDisplay(on_terminal=sys.stdout.isatty())
    try:
        yield display
    finally:
        display.close()
