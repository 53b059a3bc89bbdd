"""A sync flow run's progress artifact in the Prefect UI: attached to the flow run, 100 once it succeeded, below 100 when
it failed; what its creation and each update cost (a real Prefect server: the test harness)."""

from __future__ import annotations

import time

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterType,
)

from flows.initial_sync import initial_sync
from pmsync.progress import SyncProgress
from tasks.progress import ProgressArtifact
from tests.flows.test_progress import make_units_fail_quality

pytestmark = pytest.mark.flow


def progress_artifacts(flow_run_id):
    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]), type=ArtifactFilterType(any_=["progress"])))


def test_a_sync_flow_run_s_progress_artifact_reaches_100_and_the_artifacts_page_shows_it(integration_env):
    state = initial_sync(return_state=True)

    assert state.is_completed(), state.message
    run_id = state.result()["run_id"]
    [artifact] = progress_artifacts(state.state_details.flow_run_id)
    assert artifact.type == "progress" and float(artifact.data) == 100.0
    assert artifact.key == "initial-sync-progress-default" and artifact.task_run_id is None
    assert f"run {run_id} · initial sync of 'default'" in artifact.description
    assert "6 of 6 streams done · 100 % · succeeded" in artifact.description
    with get_client(sync_client=True) as client:
        [latest] = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[artifact.key])))
    assert latest.latest_id == artifact.id and float(latest.data) == 100.0


def test_a_failed_sync_flow_run_s_progress_artifact_stays_below_100(integration_env, sandbox):
    make_units_fail_quality(sandbox.store)

    state = initial_sync(return_state=True)

    assert state.is_failed()
    [artifact] = progress_artifacts(state.state_details.flow_run_id)
    assert 0 < float(artifact.data) < 100.0
    assert artifact.description.startswith("run 1 · initial sync of 'default' · units: ")
    assert "a failed run stays where it stopped" in artifact.description


def test_what_creating_and_updating_the_progress_artifact_costs(report_measurement):
    updates = 30

    @flow(name="progress-artifact-cost")
    def report_progress() -> tuple[float, float]:
        report = ProgressArtifact()
        started = time.perf_counter()
        report(SyncProgress(1, "cost", "initial", "units", 0, None, 0, 6, 0.0))
        created = time.perf_counter()
        for done in range(1, updates + 1):
            report(SyncProgress(1, "cost", "initial", "units", done * 100, updates * 100, 1, 6, 16.67 + done))
        return created - started, (time.perf_counter() - created) / updates

    state = report_progress(return_state=True)

    create_seconds, update_seconds = state.result()
    [artifact] = progress_artifacts(state.state_details.flow_run_id)
    assert float(artifact.data) == 16.67 + updates
    report_measurement(f"progress artifact: create {create_seconds * 1000:.1f} ms, "
                       f"update {update_seconds * 1000:.1f} ms each (mean of {updates})")
