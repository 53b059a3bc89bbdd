"""A sync's or reconciliation's progress in the Prefect UI: one progress artifact per flow run, updated as each batch is loaded."""

from __future__ import annotations

import contextvars
import threading
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact

from pmsync.runs.progress import SyncProgress, tell_listeners
from tasks.artifacts import slug


RUN_LABELS = {"reconcile": "reconciliation", "reconcile-dry-run": "reconciliation dry run"}
"""What a progress artifact calls a run of these flows; any other is `<flow> sync` (`initial sync`)."""


def run_label(flow: str) -> str:
    return RUN_LABELS.get(flow, f"{flow} sync")


def progress_key(progress: SyncProgress) -> str:
    """The artifact's key: `initial-sync-progress-acme-west`, `reconciliation-progress-acme-west` (the latest run's
    bar on the Artifacts page)."""
    return f"{slug(run_label(progress.flow))}-progress-{slug(progress.integration)}"


def progress_description(progress: SyncProgress) -> str:
    """What the artifact says beside its bar, percentage and counts first: `42 % — 4,200 of 10,000 units · 2 of 6
    streams done · run 7 · delta sync of 'acme' · …`."""
    finished = " · succeeded" if progress.finished else ""
    parts = "stages" if progress.flow in RUN_LABELS else "streams"
    return (f"{progress.headline()} · {progress.streams_done} of {progress.streams_total} {parts} done{finished} · "
            f"run {progress.run_id} · {run_label(progress.flow)} of {progress.integration!r} · "
            "100 % once the run has succeeded; a failed run stays where it stopped")


class ProgressArtifact:
    """The `report_progress` step of one flow run: its first report creates the flow run's progress artifact, the
    next ones update it (a plain call inside the flow, not a task run per batch); every report also reaches this
    process's listeners (a command showing a progress bar) at once.

    Updates go to the server from a thread of their own, the latest one only when several wait, so the sync never
    waits on them; `flush()` (the run's end: RunProgress.close) and the final report wait for what is on its way."""

    def __init__(self) -> None:
        self.artifact_id: UUID | None = None
        self._waiting: SyncProgress | None = None
        self._sender: threading.Thread | None = None
        self._lock = threading.Lock()
        self._error: Exception | None = None

    def __call__(self, progress: SyncProgress) -> None:
        if self.artifact_id is None:
            self.artifact_id = create_progress_artifact(progress.percent, key=progress_key(progress),
                                                        description=progress_description(progress))
        elif progress.finished:
            self.flush()
            self._update(progress)
        else:
            with self._lock:
                self._waiting = progress
                if self._sender is None:
                    caller = contextvars.copy_context()  # the Prefect settings and client the flow runs with
                    self._sender = threading.Thread(target=caller.run, args=(self._send_waiting,), name="pmsync-progress")
                    self._sender.start()
        tell_listeners(progress)

    def flush(self) -> None:
        """Wait until every update handed over so far is on the server (its last error, if any, raised here)."""
        with self._lock:
            sender = self._sender
        if sender is not None:
            sender.join()
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _send_waiting(self) -> None:
        while True:
            with self._lock:
                progress, self._waiting = self._waiting, None
                if progress is None:
                    self._sender = None
                    return
            try:
                self._update(progress)
            except Exception as error:  # raised again by flush(), in the flow
                self._error = error

    def _update(self, progress: SyncProgress) -> None:
        update_progress_artifact(self.artifact_id, progress.percent, description=progress_description(progress))
