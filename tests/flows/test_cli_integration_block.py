"""`--integration NAME` naming a Propertyware Integration block: the read-only commands show its runs, and `explain`
compares with the source through the block's credentials, read from a real Prefect server (no PMSYNC_PW_* set)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import sqlalchemy as sa
from prefect.settings import PREFECT_API_URL
from pydantic import SecretStr

from flows.initial_sync import initial_sync
from pmsync.integrations.blocks import PropertywareIntegration
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER, SANDBOX_SYSTEM_ID
from schemas.tables import units
from tests.flows.test_cli import PMSYNC

pytestmark = pytest.mark.flow
CREDENTIALS = ("PMSYNC_PW_CLIENT_ID", "PMSYNC_PW_CLIENT_SECRET", "PMSYNC_PW_SYSTEM_ID", "PMSYNC_INTEGRATION_USER")


def test_explain_and_runs_read_the_integration_of_the_block_named(integration_env, sandbox, platform_engine, monkeypatch):
    for name in CREDENTIALS:
        monkeypatch.delenv(name)
    PropertywareIntegration(
        base_url=sandbox.base_url, client_id=SANDBOX_CLIENT_ID, client_secret=SecretStr(SANDBOX_CLIENT_SECRET),
        system_id=SANDBOX_SYSTEM_ID, integration_user=SANDBOX_INTEGRATION_USER,
    ).save("harbour-view", overwrite=True)
    assert initial_sync(integration="harbour-view", return_state=True).is_completed()
    with platform_engine.connect() as connection:
        unit = connection.execute(sa.select(units.c.source_id).where(units.c.active).limit(1)).scalar_one()
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIALS and k != "PMSYNC_INTEGRATION_NAME"}
    env.update({"PREFECT_API_URL": PREFECT_API_URL.value(), "COLUMNS": "200"})

    def pmsync(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([PMSYNC, *args], env=env, capture_output=True, text=True, timeout=300)

    explained = pmsync("explain", "unit", str(unit), "--integration", "harbour-view")
    listed = pmsync("runs", "--integration", "harbour-view")
    by_default = pmsync("runs")

    assert explained.returncode == 0, (explained.stdout + explained.stderr)[-2000:]
    assert f"unit {unit}" in explained.stdout and "source now:" in explained.stdout
    assert SANDBOX_CLIENT_SECRET not in explained.stdout + explained.stderr
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert re.search(r"(?m)^\s*1\s+initial\s+harbour-view\s.*\ssucceeded\s", listed.stdout), listed.stdout
    assert by_default.returncode == 2 and by_default.stderr.strip() == (
        "error: integration 'default' is not on the platform; name one of: harbour-view "
        "(--integration NAME or PMSYNC_INTEGRATION_NAME)"
    )

    misspelled = pmsync("sync", "delta", "--integration", "harbour-veiw")
    assert misspelled.returncode == 2 and misspelled.stdout == "", misspelled.stderr[-2000:]
    [line] = misspelled.stderr.splitlines()
    assert line.startswith(f"error: unknown integration 'harbour-veiw': the Prefect server at {PREFECT_API_URL.value()} "
                           "has no Propertyware Integration block of that name; name one of: ")
    assert "harbour-view" in line.split("name one of: ")[1], line
