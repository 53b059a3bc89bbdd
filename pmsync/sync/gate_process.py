"""The quality gate's Great Expectations runs in a child process (`python -m pmsync.sync.gate_process`): GX's import,
about 2.7 s of CPU, and its validations use another core than the sync's fetching, parsing and loading."""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Any

SUITES_KEPT = 8
"""Suite sets the process keeps built (a run opens one; a test session opens a few, from different folders)."""


class QualityGateStopped(RuntimeError):
    """Retriable: the quality gate's process ended before it answered (killed, out of memory); run the sync again."""


class QualityGateFailed(RuntimeError):
    """Fatal: Great Expectations raised what the gate does not expect; the message carries its type and traceback."""


class GateProcess:
    """One child process and the two pipes to it (pickled requests and answers); one request at a time, in order."""

    def __init__(self) -> None:
        self._child = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._child.stdin is not None and self._child.stdout is not None
        self._requests = Connection(os.dup(self._child.stdin.fileno()), readable=False)
        self._answers = Connection(os.dup(self._child.stdout.fileno()), writable=False)
        self._child.stdin.close()
        self._child.stdout.close()
        self._asking = threading.Lock()
        self._stopped = False

    @property
    def pid(self) -> int:
        return self._child.pid

    def alive(self) -> bool:
        return not self._stopped and self._child.poll() is None

    def ask(self, *request: Any) -> Any:
        """Send a request (`open` or `check`) and wait for its answer; what the child raised is raised here."""
        with self._asking:
            try:
                self._requests.send(request)
                kind, answer = self._answers.recv()
            except (EOFError, OSError):
                self._stopped = True
                self._child.kill()  # a child whose pipe broke is done for, whatever its state
                raise QualityGateStopped(
                    f"the quality gate's process (pid {self._child.pid}) ended before it answered (exit code "
                    f"{self._child.wait()}); run the sync again"
                ) from None
        if kind == "refused":
            from pmsync.sync.gate_results import DataQualityError  # not at the top: the child never imports it

            raise DataQualityError(answer)
        if kind == "failed":
            raise QualityGateFailed(answer)
        return answer

    def close(self) -> None:
        """Close the pipes (the child ends on end of input) and wait a moment for it."""
        self._requests.close()
        self._answers.close()
        try:
            self._child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()


_shared: GateProcess | None = None
_starting = threading.Lock()


def gate_process() -> GateProcess:
    """This process's quality-gate process: started on first use (it imports GX at once), kept for every gate after,
    started again if it has ended."""
    global _shared
    with _starting:
        if _shared is None:
            atexit.register(_close_shared)
        if _shared is None or not _shared.alive():
            _shared = GateProcess()
        return _shared


def started() -> bool:
    """Whether this process has started a quality-gate process (a gate opened its suites, or a full read began)."""
    return _shared is not None


def start_gate_process() -> None:
    """Start this process's quality-gate process now, if it is not running: for a run that reads whole listings, so
    GX imports on another core while this process imports Prefect and plans the run, instead of when the first batch
    waits for its check."""
    gate_process()


def _close_shared() -> None:
    if _shared is not None:
        _shared.close()


def serve(requests: Connection, answers: Connection) -> None:
    """The child's loop: GX imported first, then each request answered, until the parent closes the pipe."""
    from pmsync.sync.gate_suites import load_great_expectations

    load_great_expectations()
    suites: dict[str, Any] = {}
    while True:
        try:
            request = requests.recv()
        except EOFError:
            return
        answers.send(_answer(suites, request))


def _answer(suites: dict[str, Any], request: tuple) -> tuple[str, Any]:
    """("ok", result), ("refused", a DataQualityError's message) or ("failed", what else was raised)."""
    from pmsync.sync.collector import freeze_long_lived_objects
    from pmsync.sync.gate_suites import GxSuites, SuiteRefused

    kind, key, *arguments = request
    try:
        if kind == "open":
            if key not in suites:
                if len(suites) >= SUITES_KEPT:
                    suites.pop(next(iter(suites)))
                suites[key] = GxSuites(*arguments)
                freeze_long_lived_objects()
            return "ok", None
        if kind == "check":
            if key not in suites:
                return "failed", f"the quality gate's process has no suites opened as {key[:12]} (it was restarted?)"
            return "ok", suites[key].broken_rows(*arguments)
        return "failed", f"the quality gate's process got an unknown request {kind!r}"
    except SuiteRefused as refused:
        return "refused", str(refused)
    except Exception as failure:  # noqa: BLE001 -- answered, and raised in the parent as QualityGateFailed
        return "failed", f"{type(failure).__name__}: {failure}\n{''.join(traceback.format_exc(limit=-6))}"


if __name__ == "__main__":
    parent_requests = Connection(os.dup(0), writable=False)
    parent_answers = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # whatever GX prints goes to stderr, never into the answers
    serve(parent_requests, parent_answers)
