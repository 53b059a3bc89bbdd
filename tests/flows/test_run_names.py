"""Flow runs are named for what they are in the Prefect UI: the flow, the integration, the start in UTC."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.initial_sync import initial_sync
from flows.lease_sync import lease_sync

pytestmark = pytest.mark.flow
NAMED = re.compile(r"^(?P<flow>[a-z-]+) · (?P<integration>[\w-]+) · (?P<start>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$")


def run_name(state) -> str:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id).name


@pytest.mark.parametrize("integration_name", [None, "acme-west"])
def test_a_sync_run_is_named_flow_integration_and_utc_start(integration_env, monkeypatch, integration_name):
    if integration_name:
        monkeypatch.setenv("PMSYNC_INTEGRATION_NAME", integration_name)
    before = datetime.now(timezone.utc).replace(microsecond=0)

    names = [run_name(flow(return_state=True)) for flow in (initial_sync, lease_sync)]

    after = datetime.now(timezone.utc)
    for name, flow in zip(names, ("initial-sync", "lease-sync")):
        parts = NAMED.match(name)
        assert parts, name
        assert parts["flow"] == flow and parts["integration"] == (integration_name or "default")
        started = datetime.strptime(parts["start"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        assert before - timedelta(seconds=1) <= started <= after


def test_a_batch_s_task_runs_are_named_by_stream_and_pages(integration_env, monkeypatch):
    monkeypatch.setenv("PMSYNC_PW_PAGE_SIZE", "10")  # 60 units: one batch of pages 1–6

    state = initial_sync(return_state=True)

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    names = {run.name for run in runs}
    assert {"extract · units · batch 1", "validate · units · pages 1–6", "load · units · pages 1–6"} <= names, names
    assert "extract · units · batch 2" in names  # the call that found the listing ended
    assert not {name for name in names if name.startswith(("validate · units", "load · units"))} - {
        "validate · units · pages 1–6", "load · units · pages 1–6"}
