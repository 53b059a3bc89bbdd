"""A credential the HTTP stack refuses (CR/LF) never reaches sync_runs.error, a log line, an artifact or the CLI; the
environment or a stored block holding one is refused; and the API key a source echoes back in an error reaches none of
the CLI's line, the flow run's state, logs and events, the failure notification or the run record."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId, LogFilter,
                                            LogFilterFlowRunId)
from prefect.client.schemas.objects import State, StateType
from prefect.events.filters import EventAnyResourceFilter, EventFilter
from prefect.logging.handlers import APILogWorker
from pydantic import SecretStr

from pmsync.integrations.blocks import PropertywareIntegration
from pmsync.integrations.integration import Integration, IntegrationNotConfigured, integration_from_block
from pmsync.jobs.sync import sync_integration
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER, SANDBOX_SYSTEM_ID
from sandbox.faults import echo_credentials_fault
from schemas.tables import sync_runs
from tasks.steps import prefect_steps
from tests.flows.test_cli import run_pmsync

SECRET = "Leaky-Part-One\r\nX-Injected: Leaky-Part-Two"


def leaks(text: str) -> bool:
    return "Leaky-Part-One" in text or "Leaky-Part-Two" in text


@pytest.mark.flow
def test_a_secret_with_a_line_break_fails_the_run_without_being_recorded_logged_or_published(
    integration_env, sandbox, platform_engine, caplog, capfd
):
    integration = Integration(
        "default", sandbox.base_url, SANDBOX_CLIENT_ID, SecretStr(SECRET), SANDBOX_SYSTEM_ID, SANDBOX_INTEGRATION_USER
    )

    @flow(name="initial-sync-of-a-given-integration")
    def initial_sync_of_given_integration() -> dict:
        return sync_integration(prefect_steps(), integration, "initial", integration.rules.streams)

    with caplog.at_level(logging.DEBUG):
        state = initial_sync_of_given_integration(return_state=True)

    assert state.is_failed()
    with platform_engine.connect() as connection:
        run = connection.execute(sa.select(sync_runs).order_by(sync_runs.c.id.desc()).limit(1)).one()
    assert run.status == "failed" and "SourceAuthError: the request could not be sent (InvalidHeader)" in run.error
    assert "GET /buildings" in run.error and not leaks(run.error)
    flow_run_id = state.state_details.flow_run_id
    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200)
        artifacts = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        final_state = client.read_flow_run(flow_run_id).state
    published = json.dumps([log.message for log in logs]) + json.dumps([(a.data, a.description) for a in artifacts], default=str)
    assert any("run 1: initial run of integration" in log.message for log in logs), "the run's own lines reached the API"
    assert any("InvalidHeader" in log.message for log in logs), "its failure reached the API's logs"
    assert artifacts and any("InvalidHeader" in (a.description or "") for a in artifacts)
    captured = capfd.readouterr()
    for text in (published, caplog.text, captured.out, captured.err, final_state.message or ""):
        assert not leaks(text)


@pytest.mark.flow
def test_a_stored_block_whose_secret_has_a_line_break_is_refused_naming_the_field_not_the_value(sandbox):
    PropertywareIntegration.model_construct(
        base_url=sandbox.base_url, client_id=SANDBOX_CLIENT_ID, client_secret=SecretStr(SECRET),
        system_id=SANDBOX_SYSTEM_ID, integration_user=SANDBOX_INTEGRATION_USER, source_system="propertyware",
    ).save("leaky-block", overwrite=True)
    with pytest.raises(IntegrationNotConfigured, match=r"block 'leaky-block' is invalid: client_secret contains a line break") as refused:
        integration_from_block("leaky-block")
    assert not leaks(str(refused.value)) and refused.value.__cause__ is None


def test_the_cli_refuses_a_secret_with_a_line_break_in_one_line_that_names_the_variable_only(integration_env):
    refused = run_pmsync("sync", "initial", env={**integration_env, "PMSYNC_PW_CLIENT_SECRET": SECRET})
    assert refused.returncode == 2
    assert "PMSYNC_PW_CLIENT_SECRET contains a line break (CR or LF)" in refused.stderr
    assert not leaks(refused.stdout + refused.stderr)


ECHOED = {401: "source refused the credentials (401: Request refused for the API key sent",
          400: "source rejected the request (400: Request refused for the API key sent"}
"""The start of the one `error:` line a sync ends with when the source echoes the API key in its error body."""
FAILURE_AUTOMATION = "pmsync sync run failed or crashed"


def shows_the_key(text: str) -> bool:
    return SANDBOX_CLIENT_SECRET in text or SANDBOX_CLIENT_ID in text


def latest_run_error(engine) -> str:
    with engine.connect() as connection:
        return connection.execute(sa.select(sync_runs.c.error).order_by(sync_runs.c.id.desc()).limit(1)).scalar_one()


def assert_one_scrubbed_error_line(done, status: int) -> str:
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {ECHOED[status]} (client id '[credential removed]', secret '[credential removed]')")
    assert "GET /buildings" in last and not shows_the_key(done.stdout + done.stderr)
    return last


@pytest.mark.parametrize("status", [401, 400])
def test_a_key_the_source_echoes_in_an_error_is_scrubbed_from_the_cli_line_and_the_run_record(
    integration_env, sandbox, platform_engine, status
):
    sandbox.store.inject(echo_credentials_fault("/buildings", status))
    assert_one_scrubbed_error_line(run_pmsync("sync", "initial", env=integration_env), status)
    error = latest_run_error(platform_engine)
    assert ECHOED[status] in error and "[credential removed]" in error and not shows_the_key(error)


def initial_sync_runs() -> set:
    with get_client(sync_client=True) as client:
        return {run.id for run in client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["initial-sync"])))}


def events_of(flow_run_id, final: str, timeout: float = 60.0) -> list:
    """Every event the server stored about the flow run, once its `final` state event is among them (the server
    persists events a moment after they arrive)."""
    watched = EventFilter(any_resource=EventAnyResourceFilter(id=[f"prefect.flow-run.{flow_run_id}"]))
    deadline = time.monotonic() + timeout
    while True:
        with get_client(sync_client=True) as client:
            events = client.read_events(watched, limit=50).events
        if any(event.event == final for event in events) or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


def failure_notification(event, flow_run, flow) -> str:
    """What automations.yaml's failure automation sends for this event: its body rendered as Prefect's action renders
    it, the flow run's state taken from the triggering event."""
    from prefect.server.events.jinja_filters import all_filters
    from prefect.server.utilities.user_templates import register_user_template_filters, render_user_template_sync

    spec = yaml.safe_load((Path(__file__).resolve().parents[2] / "automations.yaml").read_text())
    automation = next(entry for entry in spec["automations"] if entry["name"] == FAILURE_AUTOMATION)
    action = next(action for action in automation["actions"] if action["type"] == "send-notification")
    register_user_template_filters(all_filters)
    resource = event.resource
    flow_run.state = State(type=StateType(resource["prefect.state-type"]), name=resource["prefect.state-name"],
                           message=resource["prefect.state-message"])
    context = {"flow_run": flow_run, "flow": flow, "event": event}
    return "\n".join(render_user_template_sync(action[part], context) for part in ("subject", "body"))


@pytest.mark.flow
@pytest.mark.parametrize("status", [401, 400])
def test_a_key_the_source_echoes_in_an_error_reaches_no_state_log_event_notification_or_line_of_a_flow_run(
    integration_env, sandbox, platform_engine, status
):
    before = initial_sync_runs()
    sandbox.store.inject(echo_credentials_fault("/buildings", status))
    line = assert_one_scrubbed_error_line(run_pmsync("sync", "initial", env=integration_env), status)

    (flow_run_id,) = initial_sync_runs() - before
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        flow = client.read_flow(flow_run.flow_id)
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200)
    message = flow_run.state.message or ""
    assert flow_run.state.is_failed() and ECHOED[status] in message and "[credential removed]" in message
    logged = "\n".join(log.message for log in logs)
    assert ECHOED[status] in logged, "the failure is logged (with its traceback)"
    events = events_of(flow_run_id, "prefect.flow-run.Failed")
    failed = next(event for event in events if event.event == "prefect.flow-run.Failed")
    assert ECHOED[status] in failed.resource["prefect.state-message"]
    notification = failure_notification(failed, flow_run, flow)
    assert "ended Failed: Flow run encountered an exception: " in notification and ECHOED[status] in notification
    error = latest_run_error(platform_engine)
    published = json.dumps([event.model_dump(mode="json") for event in events])
    for text in (line, message, logged, published, notification, error):
        assert not shows_the_key(text)


@pytest.mark.flow
def test_a_stored_block_whose_base_url_is_plain_http_to_another_host_is_refused_naming_the_field():
    PropertywareIntegration.model_construct(
        base_url="http://api.propertyware.com/pw/api/rest/v1", client_id=SANDBOX_CLIENT_ID,
        client_secret=SecretStr(SANDBOX_CLIENT_SECRET), system_id=SANDBOX_SYSTEM_ID,
        integration_user=SANDBOX_INTEGRATION_USER, source_system="propertyware",
    ).save("plain-http-block", overwrite=True)
    with pytest.raises(IntegrationNotConfigured, match=r"block 'plain-http-block' is invalid: base_url must use https"):
        integration_from_block("plain-http-block")
