"""Runs are named for what they are in the Prefect UI: a flow run by its flow, integration and start in UTC (the name
pmsync gives a run it creates is the one it keeps), a task run in words by what its step works on."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.flow_engine import run_flow_sync
from prefect.settings import PREFECT_API_URL

from flows.delta_sync import delta_sync
from flows.initial_sync import initial_sync
from flows.lease_sync import lease_sync
from flows.reconciliation import reconcile
from flows.work_order_push import work_order_push
from pmsync.integrations.enrollment import start_initial_sync
from pmsync.runs.names import run_name as pmsync_run_name
from pmsync.push.workorders import create_work_order
from tests.flows.test_cli import run_pmsync

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
    assert "extract · units · batch 2" not in names, "batch 1 ended the listing: no step asks for another"
    assert not {name for name in names if name.startswith(("validate · units", "load · units"))} - {
        "validate · units · pages 1–6", "load · units · pages 1–6"}


TASK_RUNS_RECORDED_SECONDS = 30.0
"""Prefect 3 records task runs from their events, a moment after the flow returns (CI saw a finished reconciliation's
last three missing at once): the names are read again until those expected are there, or this long."""


def task_run_names_of(flow_run_id, expected: set[str]) -> list[str]:
    deadline = time.monotonic() + TASK_RUNS_RECORDED_SECONDS
    with get_client(sync_client=True) as client:
        while True:
            names = [run.name for run in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))]
            if expected <= set(names) or time.monotonic() > deadline:
                return names
            time.sleep(0.5)


def test_a_reconciliations_task_runs_are_named_in_words(integration_env, sandbox):
    initial_sync()
    gone = sorted(u["id"] for u in sandbox.store.records("units") if u.get("active") is not False)[:2]
    for unit_id in gone:
        sandbox.store.delete("units", unit_id)

    state = reconcile(return_state=True)

    assert state.is_completed(), state.message
    expected = {"scan · units · from page 1", "recount · units", "scan · buildings · from page 1", "recount · buildings",
                "compare with the platform", "check the mass-deactivation guard", "confirm gone · units · 2 records",
                "keep the lock", "commit the reconciliation", "publish the reconciliation report",
                "publish the run's summary"}
    names = task_run_names_of(state.state_details.flow_run_id, expected)
    assert expected <= set(names), names
    assert not [name for name in names if "_" in name or READABLE.search(name) is None], names


READABLE = re.compile(r"^[a-z][a-z' -]*( · [\w' –-]+)*$")
"""Words, then what the step worked on after ` · `: no function name (underscores), no random suffix of Prefect's."""


def test_a_work_order_pushs_task_runs_are_named_in_words(integration_env, platform_engine):
    initial_sync()
    place = first_property(platform_engine)
    work_order_id = create_work_order(platform_engine, "default", property_id=place, description="Tap drips")

    state = work_order_push(work_order_id=work_order_id, return_state=True)

    assert state.is_completed(), state.message
    expected = {f"select · work order {work_order_id}", "push · 1 work order", "publish the push summary"}
    names = set(task_run_names_of(state.state_details.flow_run_id, expected))
    assert expected <= names, names


def first_property(engine) -> int:
    from schemas.tables import properties

    with engine.connect() as connection:
        return connection.execute(sa.select(properties.c.id).order_by(properties.c.id).limit(1)).scalar_one()


def test_the_run_sync_now_creates_is_named_as_it_prints(integration_env):
    with get_client(sync_client=True) as client:
        client.create_deployment(flow_id=client.create_flow_from_name("delta-sync"), name="now")

    queued = run_pmsync("sync", "now", env=integration_env)

    assert queued.returncode == 0, queued.stderr[-2000:]
    printed = re.search(r"flow run (.+) \(([0-9a-f-]{36})\)", queued.stdout)
    assert printed and NAMED.match(printed[1]), queued.stdout
    assert NAMED.match(printed[1])["integration"] == "default"
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(printed[2]).name == printed[1], "the UI shows the name the command printed"


def test_a_run_created_with_its_name_keeps_it_when_it_starts_later(integration_env):
    asked_at = pmsync_run_name("delta-sync", None, datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    with get_client(sync_client=True) as client:
        deployment_id = client.create_deployment(flow_id=client.create_flow_from_name("delta-sync"), name="kept")
        created = client.create_flow_run_from_deployment(deployment_id, name=asked_at)

        state = run_flow_sync(delta_sync, flow_run=created, parameters={}, return_type="state")

        assert state.is_completed(), state.message
        assert client.read_flow_run(created.id).name == asked_at == "delta-sync · default · 2026-01-02 03:04:05 UTC"


def test_the_initial_sync_integration_add_and_enroll_start_is_named_at_creation(integration_env):
    name = "named-at-creation"
    with get_client(sync_client=True) as client:
        client.create_deployment(flow_id=client.create_flow_from_name("initial-sync"), name=f"initial-{name}")

    run = start_initial_sync(name, None)

    parts = NAMED.match(run.name)
    assert parts and parts["flow"] == "initial-sync" and parts["integration"] == name, run.name
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(run.id).name == run.name


def test_an_uploads_import_run_is_named_at_creation(integration_env):
    from reports.uploads import _start_import  # the upload page's queueing of its csv-import run

    with get_client(sync_client=True) as client:
        client.create_deployment(flow_id=client.create_flow_from_name("csv-import"), name="import")

    run_id = asyncio.run(_start_import(PREFECT_API_URL.value(), "owners", "upload-named-owners.csv", "north", "owners.csv"))

    with get_client(sync_client=True) as client:
        parts = NAMED.match(client.read_flow_run(run_id).name)
    assert parts and (parts["flow"], parts["integration"]) == ("csv-import", "north")
