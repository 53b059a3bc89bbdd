"""Prefect refuses a flow parameter out of its bounds, from the flows' own types: a flow called with one fails before
its job starts (no platform database is even opened), and the Prefect API refuses to create a deployment's flow run
with one (Prefect deployments enforce their parameter schema). Both against the test harness's real Prefect server."""

from __future__ import annotations

import json
import math

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.exceptions import ParameterTypeError, PrefectHTTPStatusError
from prefect.settings import PREFECT_API_URL

from flows.delta_sync import delta_sync
from flows.integrations import retire_integration
from flows.lease_balance import lease_balance
from flows.reconciliation import reconcile
from flows.work_order_push import work_order_push

REFUSED_CALLS = [
    (delta_sync, {"overlap_hours": -1}),
    (delta_sync, {"overlap_hours": math.nan}),
    (delta_sync, {"overlap_hours": math.inf}),
    (delta_sync, {"overlap_hours": 8761}),
    (delta_sync, {"integration": "Acme Corp"}),
    (reconcile, {"max_deactivation_share": 1.5}),
    (lease_balance, {"lease_id": 0}),
    (work_order_push, {"work_order_id": 2**63}),
    (retire_integration, {"integration": "../default"}),
]


@pytest.mark.flow
def test_a_flow_called_with_a_value_out_of_bounds_fails_before_its_job_starts(monkeypatch, tmp_path):
    platform = tmp_path / "never-opened.db"
    monkeypatch.setenv("PMSYNC_DATABASE_URL", f"sqlite:///{platform}")
    for flow, values in REFUSED_CALLS:
        state = flow(**values, return_state=True)

        assert state.is_failed(), (flow.name, values)
        with pytest.raises(ParameterTypeError, match=next(iter(values))):
            state.result()
    assert not platform.exists(), "no run was recorded: the platform database was never opened"


@pytest.mark.flow
def test_the_prefect_api_refuses_a_deployment_run_with_a_value_out_of_bounds():
    deployment_id = delta_sync.to_deployment(name="parameter-bounds").apply()
    refused = [{"overlap_hours": -1}, {"overlap_hours": 8761}, {"overlap_hours": 72, "integration": "Acme Corp"}]
    with get_client(sync_client=True) as client:
        try:
            for parameters in refused:
                with pytest.raises(PrefectHTTPStatusError) as answer:
                    client.create_flow_run_from_deployment(deployment_id, parameters=parameters)
                assert answer.value.response.status_code == 409, parameters
                assert "Validation failed" in answer.value.response.text, answer.value.response.text
            infinite = httpx.post(  # the client's JSON would send inf as null: here it goes as JSON's Infinity
                f"{PREFECT_API_URL.value()}/deployments/{deployment_id}/create_flow_run",
                content=json.dumps({"parameters": {"overlap_hours": math.inf}}),
                headers={"content-type": "application/json"}, timeout=30,
            )
            assert infinite.status_code == 409, infinite.text
            accepted = client.create_flow_run_from_deployment(deployment_id, parameters={"overlap_hours": 8760})
            client.delete_flow_run(accepted.id)
        finally:
            client.delete_deployment(deployment_id)
