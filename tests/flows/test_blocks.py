"""Integrations as Prefect blocks: a flow takes the block's name; its secret never reaches logs, artifacts or parameters."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogWorker
from pydantic import SecretStr

from flows.initial_sync import initial_sync
from pmsync.integrations.blocks import PropertywareIntegration
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER, SANDBOX_SYSTEM_ID
from schemas.tables import integrations, units

pytestmark = pytest.mark.flow


def test_a_flow_syncs_the_integration_named_by_its_block_and_never_shows_the_secret(integration_env, sandbox, platform_engine, monkeypatch):
    for name in ("PMSYNC_PW_CLIENT_ID", "PMSYNC_PW_CLIENT_SECRET", "PMSYNC_PW_SYSTEM_ID", "PMSYNC_INTEGRATION_USER"):
        monkeypatch.delenv(name)
    PropertywareIntegration(
        base_url=sandbox.base_url,
        client_id=SANDBOX_CLIENT_ID,
        client_secret=SecretStr(SANDBOX_CLIENT_SECRET),
        system_id=SANDBOX_SYSTEM_ID,
        integration_user=SANDBOX_INTEGRATION_USER,
    ).save("harbour-view", overwrite=True)

    state = initial_sync(integration="harbour-view", return_state=True)

    assert state.is_completed()
    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(integrations.c.name)).scalars().all() == ["harbour-view"]
        assert connection.execute(sa.select(sa.func.count()).select_from(units)).scalar_one() > 0
    flow_run_id = state.state_details.flow_run_id
    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        logs, offset = [], 0
        while batch := client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200, offset=offset
        ):
            logs.extend(batch)
            offset += len(batch)
        artifacts = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    assert run.parameters == {"integration": "harbour-view"}
    assert logs and any("units: records 1–" in log.message for log in logs)
    stored = json.dumps([log.message for log in logs]) + json.dumps([(a.data, a.description) for a in artifacts], default=str)
    assert artifacts and SANDBOX_CLIENT_SECRET not in stored
    assert SANDBOX_CLIENT_SECRET not in json.dumps(run.parameters)
