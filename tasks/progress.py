"""A sync's or reconciliation's progress in the Prefect UI: one progress artifact per flow run, updated as each batch is loaded."""

from __future__ import annotations

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
    process's listeners (a command showing a progress bar)."""

    def __init__(self) -> None:
        self.artifact_id: UUID | None = None

    def __call__(self, progress: SyncProgress) -> None:
        description = progress_description(progress)
        if self.artifact_id is None:
            self.artifact_id = create_progress_artifact(progress.percent, key=progress_key(progress),
                                                        description=description)
        else:
            update_progress_artifact(self.artifact_id, progress.percent, description=description)
        tell_listeners(progress)
