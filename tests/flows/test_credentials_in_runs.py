"""A credential the HTTP stack refuses (CR/LF) never reaches sync_runs.error, a log line, an artifact or the CLI; the
environment or a stored block holding one is refused."""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogWorker
from pydantic import SecretStr

from pmsync.blocks import PropertywareIntegration
from pmsync.integrations import Integration, IntegrationNotConfigured, integration_from_block
from pmsync.jobs.sync import sync_integration
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_INTEGRATION_USER, SANDBOX_SYSTEM_ID
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
