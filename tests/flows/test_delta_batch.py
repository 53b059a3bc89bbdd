"""The delta batch (issue 27): several integrations' deltas in one flow run, each its own locked run, subflow and
artifacts; one whose source fails holds up no other; a batch refuses a name twice and leaves late starters."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterParentFlowRunId
from prefect.settings import PREFECT_API_URL
from pydantic import SecretStr

from flows.delta_batch import delta_batch
from flows.delta_sync import delta_sync
from flows.initial_sync import initial_sync
from pmsync.integrations.blocks import PropertywareIntegration
from pmsync.jobs import JOBS
from pmsync.jobs.batch import run_batch
from pmsync.runs.parameters import ParameterRejected
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER, SANDBOX_SYSTEM_ID, SandboxServer
from schemas.tables import integrations, sync_runs
from tests.flows.test_cli import PMSYNC
from tests.flows.test_run_names import task_run_names_of


def save_block(name: str, base_url: str) -> None:
    PropertywareIntegration(base_url=base_url, client_id=SANDBOX_CLIENT_ID, client_secret=SecretStr(SANDBOX_CLIENT_SECRET),
                            system_id=SANDBOX_SYSTEM_ID, integration_user=SANDBOX_INTEGRATION_USER).save(name, overwrite=True)


def delta_runs(engine: sa.Engine) -> dict[str, tuple[str, str | None]]:
    """Integration → (status, Prefect flow run id) of its delta runs' latest."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(integrations.c.name, sync_runs.c.status, sync_runs.c.prefect_flow_run_id)
            .join(integrations, integrations.c.id == sync_runs.c.integration_id)
            .where(sync_runs.c.flow == "delta").order_by(sync_runs.c.id)).all()
    return {name: (status, flow_run) for name, status, flow_run in rows}


@pytest.mark.flow
def test_a_batch_syncs_each_integration_in_its_own_subflow_and_one_failing_source_stops_no_other(
        integration_env, platform_engine, monkeypatch):
    monkeypatch.setenv("PMSYNC_PW_MAX_ATTEMPTS", "1")
    with SandboxServer(units=20, seed=3) as first, SandboxServer(units=20, seed=4) as second:
        save_block("batch-first", first.base_url)
        save_block("batch-second", second.base_url)
        save_block("batch-gone", "http://127.0.0.1:9/pw/api/rest/v1")  # nothing answers there
        for name in ("batch-first", "batch-second"):
            assert initial_sync(integration=name, return_state=True).is_completed()

        state = delta_batch(integrations=["batch-first", "batch-gone", "batch-second"], return_state=True)

    assert state.is_failed()
    assert "2 of 3 integrations synced" in state.message and "batch-gone" in state.message
    runs = delta_runs(platform_engine)
    assert runs["batch-first"][0] == runs["batch-second"][0] == "succeeded"
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[state.state_details.flow_run_id])))
        by_integration = {run.parameters["integration"]: run for run in children}
        assert set(by_integration) == {"batch-first", "batch-gone", "batch-second"}
        for name in ("batch-first", "batch-second"):
            run = by_integration[name]
            assert run.state.is_completed() and run.name.startswith(f"delta-sync · {name} · ")
            assert runs[name][1] == str(run.id)  # its own run record names its own flow run (the lock holder too)
            artifacts = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
            assert {a.key for a in artifacts} >= {f"delta-sync-{name}", f"delta-sync-progress-{name}"}
        assert by_integration["batch-gone"].state.is_failed()


@pytest.mark.flow
def test_a_batch_naming_an_integration_twice_or_none_is_refused_before_anything_runs(integration_env, platform_engine):
    for integrations_given in (["acme", "acme"], [], ["Not A Name"]):
        state = delta_batch(integrations=integrations_given, return_state=True)
        assert state.is_failed()
    with pytest.raises(ParameterRejected, match="more than once"):
        JOBS["delta-batch"](integrations=["acme", "acme"])
    with pytest.raises(ParameterRejected, match="integrations"):
        JOBS["delta-batch"](integrations=["x"] * 201)
    assert not sa.inspect(platform_engine).has_table("sync_runs")  # no run started: the platform was never opened


def test_a_slow_integration_holds_only_its_own_place_and_late_starters_are_left_to_the_next_run():
    release = threading.Event()
    started: list[str] = []
    finished: list[str] = []

    def sync_one(name: str) -> dict:
        started.append(name)
        if name == "slow":
            release.wait(10)
        elif name == "broken":
            raise RuntimeError("the source answered 500")
        finished.append(name)
        return {"run_id": name}

    threading.Timer(1.0, release.set).start()
    results, failed = run_batch(sync_one, ["slow", "broken", "a", "b", "c"], 2, time.monotonic() + 0.5)
    assert set(results) == {"slow", "a", "b", "c"} and failed == {"broken": "RuntimeError: the source answered 500"}
    assert finished == ["a", "b", "c", "slow"]  # the others went on beside the slow one, not after it

    release.clear()
    started.clear()
    threading.Timer(1.0, release.set).start()
    results, failed = run_batch(sync_one, ["slow", "a", "b"], 1, time.monotonic() + 0.3)
    assert (set(results), failed, started) == ({"slow"}, {}, ["slow"])  # a and b: left, the start window had passed


QUIET_DELTA_TASK_RUNS = ["open the quality gate", "plan the windows", "publish the run's summary"]
"""A delta with nothing to do and no work order waiting: no task run for its streams, none to start a push."""


@pytest.mark.flow
def test_a_delta_with_nothing_in_its_windows_makes_no_task_run_for_its_streams(integration_env, platform_engine):
    JOBS["initial-sync"]()
    state = delta_sync(overlap_hours=0, return_state=True)  # each window from its stream's mark: nothing in any
    assert state.is_completed()
    names = task_run_names_of(state.state_details.flow_run_id, set(QUIET_DELTA_TASK_RUNS))
    time.sleep(2)  # a task run recorded late would show here
    names = task_run_names_of(state.state_details.flow_run_id, set(QUIET_DELTA_TASK_RUNS))
    assert sorted(names) == QUIET_DELTA_TASK_RUNS, names
    with platform_engine.connect() as connection:
        statuses = connection.execute(sa.select(sync_runs.c.status).where(sync_runs.c.flow == "delta")).scalars().all()
    assert statuses == ["succeeded"]


@pytest.mark.flow
def test_pmsync_sync_batch_runs_the_batch_and_prints_each_integrations_counts(integration_env, platform_engine):
    env = {k: v for k, v in os.environ.items() if k != "PMSYNC_INTEGRATION_NAME"}
    env.update({"PREFECT_API_URL": PREFECT_API_URL.value(), "COLUMNS": "200"})
    with SandboxServer(units=20, seed=5) as first, SandboxServer(units=20, seed=6) as second:
        save_block("cli-first", first.base_url)
        save_block("cli-second", second.base_url)
        done = subprocess.run([PMSYNC, "sync", "batch", "cli-first", "cli-second"],
                              env=env, capture_output=True, text=True, timeout=600)
        twice = subprocess.run([PMSYNC, "sync", "batch", "cli-first", "cli-first"],
                               env=env, capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert re.search(r"delta sync of cli-first — run \d+ · cli-first", done.stdout), done.stdout
    assert re.search(r"delta sync of cli-second — run \d+ · cli-second", done.stdout), done.stdout
    assert set(delta_runs(platform_engine)) == {"cli-first", "cli-second"}
    assert twice.returncode == 2 and "more than once" in twice.stderr, twice.stderr[-2000:]
