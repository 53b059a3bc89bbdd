"""A Buildium integration as a Prefect block: the flow syncs the account its block names, and the block refuses
settings Buildium cannot take without showing them."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from pydantic import SecretStr, ValidationError

from flows.initial_sync import initial_sync
from pmsync.integrations.blocks import BuildiumIntegration
from pmsync.integrations.integration import integration_from_block
from sandbox.buildium import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_STAFF_USER_ID, BuildiumSandboxServer
from schemas.tables import integrations, work_orders


@pytest.mark.flow
def test_a_flow_syncs_the_buildium_account_its_block_names(platform_url, platform_engine, monkeypatch):
    for name in [name for name in os.environ if name.startswith("PMSYNC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PMSYNC_DATABASE_URL", platform_url)
    with BuildiumSandboxServer(units=30, seed=4) as buildium:
        BuildiumIntegration(base_url=buildium.base_url, client_id=SANDBOX_CLIENT_ID,
                            client_secret=SecretStr(SANDBOX_CLIENT_SECRET), staff_user_id=SANDBOX_STAFF_USER_ID,
                            max_requests_per_second=8).save("lakeside-rentals", overwrite=True)

        integration = integration_from_block("lakeside-rentals")
        state = initial_sync(integration="lakeside-rentals", return_state=True)

    assert integration.source_system == "buildium" and integration.integration_user == str(SANDBOX_STAFF_USER_ID)
    assert integration.max_requests_per_second == 8 and integration.backoff_seconds == 0.2
    assert SANDBOX_CLIENT_SECRET in integration.secrets()
    assert state.is_completed()
    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(integrations.c.name)).scalars().all() == ["lakeside-rentals"]
        assert connection.execute(sa.select(sa.func.count()).select_from(work_orders)).scalar_one() > 0


@pytest.mark.parametrize("field, value", [("staff_user_id", 0), ("staff_user_id", 2**31), ("vendor_id", -3),
                                          ("base_url", "http://api.buildium.com"), ("client_secret", "two words"),
                                          ("concurrency", 9)])
def test_a_block_refuses_what_buildium_cannot_take_without_showing_it(field, value):
    fields = {"client_id": "client", "client_secret": "secret-value", "staff_user_id": 7, field: value}

    with pytest.raises(ValidationError) as refused:
        BuildiumIntegration(**fields)

    assert field in str(refused.value) and "two words" not in str(refused.value)
