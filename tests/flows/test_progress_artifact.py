"""A sync's or reconciliation's flow run progress artifact in the Prefect UI: attached to the flow run, 100 once it succeeded, below 100 when
it failed; what its creation and each update cost (a real Prefect server: the test harness)."""

from __future__ import annotations

import re
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
from flows.reconciliation import reconcile
from pmsync.runs.progress import SyncProgress
from tasks.progress import ProgressArtifact, progress_description, progress_key
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
    assert re.match(r"100 % — [\d,]+ of [\d,]+ [a-z ]+ · 6 of 6 streams done · succeeded · ", artifact.description), \
        "the description leads with the percentage and the counts"
    assert f" · run {run_id} · initial sync of 'default'" in artifact.description
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
    assert re.match(rf"{float(artifact.data):.0f} % — [\d,]+ of [\d,?]+ units · ", artifact.description), artifact.description
    assert " · run 1 · initial sync of 'default' · " in artifact.description
    assert "a failed run stays where it stopped" in artifact.description


def test_a_reconciliations_progress_artifact_leads_with_its_percentage_and_counts_and_reaches_100(integration_env, sandbox):
    initial_sync()
    gone = sorted(u["id"] for u in sandbox.store.records("units") if u.get("active") is not False)[:3]
    for unit_id in gone:
        sandbox.store.delete("units", unit_id)

    state = reconcile(return_state=True)

    assert state.is_completed(), state.message
    [artifact] = progress_artifacts(state.state_details.flow_run_id)
    assert float(artifact.data) == 100.0 and artifact.key == "reconciliation-progress-default"
    assert artifact.description.startswith("100 % — 3 of 3 confirmations · 3 of 3 stages done · succeeded · run "), \
        artifact.description
    assert "reconciliation of 'default'" in artifact.description


def test_a_progress_description_leads_with_the_percentage_and_counts():
    halfway = SyncProgress(7, "acme", "delta", "work_orders", 4200, 10000, 2, 6, 41.6)
    assert progress_description(halfway).startswith("42 % — 4,200 of 10,000 work orders · 2 of 6 streams done · run 7 · "
                                                     "delta sync of 'acme'")
    assert progress_key(halfway) == "delta-sync-progress-acme"


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
        handed = time.perf_counter()
        report.flush()
        return created - started, (handed - created) / updates, time.perf_counter() - handed

    state = report_progress(return_state=True)

    create_seconds, update_seconds, flush_seconds = state.result()
    [artifact] = progress_artifacts(state.state_details.flow_run_id)
    assert float(artifact.data) == 16.67 + updates, "the last update handed over is on the server once flushed"
    report_measurement(f"progress artifact: create {create_seconds * 1000:.1f} ms, update {update_seconds * 1000:.1f} "
                       f"ms each to hand over (mean of {updates}), {flush_seconds * 1000:.1f} ms to flush the rest")


def test_an_update_the_server_refuses_in_the_background_fails_the_flow_when_flushed():
    """Updates are sent from a thread of their own; one the server refuses is raised in the flow by `flush()`."""
    from uuid import uuid4

    from prefect.exceptions import PrefectHTTPStatusError

    @flow(name="progress-artifact-refused")
    def report_progress() -> None:
        report = ProgressArtifact()
        report(SyncProgress(1, "refused", "initial", "units", 0, None, 0, 6, 0.0))
        report.artifact_id = uuid4()  # an artifact the server does not have
        report(SyncProgress(1, "refused", "initial", "units", 100, 200, 0, 6, 8.3))
        report.flush()

    state = report_progress(return_state=True)
    assert state.is_failed()
    with pytest.raises(PrefectHTTPStatusError, match="404 Not Found"):
        state.result()


class SlowProgressArtifact(ProgressArtifact):
    """A progress artifact whose background updates take three seconds to reach the server."""

    def _update(self, progress: SyncProgress) -> None:
        time.sleep(3)
        super()._update(progress)


def test_a_run_that_fails_waits_for_its_last_progress_update_before_it_ends():
    """RunProgress's end flushes the report: the artifact read as soon as the failed flow returns shows its last batch."""
    from pmsync.runs.progress import RunProgress

    @flow(name="progress-artifact-failed-run")
    def fail_halfway() -> None:
        with RunProgress(SlowProgressArtifact(), 1, "slow", "initial", ["units"]) as progress:
            progress.stream_started("units")
            progress.batch_loaded(50, 100, listing_ended=False)
            raise RuntimeError("the source went away")

    state = fail_halfway(return_state=True)

    assert state.is_failed()
    [artifact] = progress_artifacts(state.state_details.flow_run_id)
    assert float(artifact.data) == 50.0, "the update handed over before the failure is on the server when the run ends"
