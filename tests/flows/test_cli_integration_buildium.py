"""A Buildium company added, synced, listed and removed by `pmsync integration add|list|remove` on a real Prefect
server (the session's harness) against the bundled Buildium sandbox over HTTP, its secret never printed; a name held by
another vendor's block is refused."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from prefect.settings import PREFECT_API_URL

from pmsync.integrations.blocks import BuildiumIntegration
from pmsync.integrations.enrollment import block_of, integration_deployments
from sandbox.buildium import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_STAFF_USER_ID, BuildiumSandboxServer
from schemas.tables import integrations, properties, units
from tests.flows.test_cli import PMSYNC

pytestmark = pytest.mark.flow
REPO_ROOT = str(Path(__file__).resolve().parents[2])
PER_INTEGRATION = 9
"""The deployments of prefect.yaml copied per integration (tests/e2e/test_integration_lifecycle.py counts them too)."""


def pmsync(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`pmsync ARGS` against the harness's Prefect server, with no PMSYNC_* of this process (only `env`'s)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PMSYNC_")}
    return subprocess.run([PMSYNC, *args], env={**inherited, **env, "PREFECT_API_URL": PREFECT_API_URL.value(),
                                                 "COLUMNS": "200"},
                          capture_output=True, text=True, timeout=600)


def test_a_buildium_company_is_added_synced_listed_and_removed_by_the_cli(platform_url, platform_engine):
    name = f"lakeside-{platform_engine.dialect.name}"
    env = {"PMSYNC_DATABASE_URL": platform_url, "PMSYNC_ADD_CLIENT_SECRET": SANDBOX_CLIENT_SECRET}
    with BuildiumSandboxServer(units=20, seed=5) as buildium:
        settings = ["--source-system", "buildium", "--base-url", buildium.base_url, "--client-id", SANDBOX_CLIENT_ID,
                    "--staff-user-id", str(SANDBOX_STAFF_USER_ID), "--vendor-id", "12", "--max-requests-per-second", "8"]
        added = pmsync("integration", "add", name, *settings, "--project-dir", REPO_ROOT, "--no-initial-sync", env=env)

        assert added.returncode == 0, added.stdout[-3000:] + added.stderr[-3000:]
        assert f"saved block buildium-integration/{name}" in added.stdout
        assert f"deployed {PER_INTEGRATION} deployments for 1 integration(s): {name}" in added.stdout
        block = BuildiumIntegration.load(name)
        assert (block.staff_user_id, block.vendor_id, block.max_requests_per_second) == (SANDBOX_STAFF_USER_ID, 12, 8)
        assert block.client_secret.get_secret_value() == SANDBOX_CLIENT_SECRET and block.concurrency is None
        assert len(integration_deployments(name)) == PER_INTEGRATION

        synced = pmsync("sync", "initial", "--integration", name, env=env)

        assert synced.returncode == 0, synced.stdout[-3000:] + synced.stderr[-3000:]
    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(integrations.c.name)).scalars().all() == [name]
        assert connection.execute(sa.select(sa.func.count()).select_from(units)).scalar_one() > 0
        assert connection.execute(sa.select(sa.func.count()).select_from(properties)).scalar_one() > 0

    listed = pmsync("integration", "list", env=env)
    again = pmsync("integration", "add", name, *settings, "--project-dir", REPO_ROOT, "--no-initial-sync",
                   env={**env, "PMSYNC_ADD_CLIENT_SECRET": "another-secret-value"})
    as_propertyware = pmsync("integration", "add", name, "--base-url", "https://api.propertyware.com/pw/api/rest/v1",
                             "--client-id", "c", "--system-id", "1", "--integration-user", "sync@example.com",
                             "--project-dir", REPO_ROOT, "--no-initial-sync", env=env)

    assert listed.returncode == 0, listed.stderr[-3000:]
    assert re.search(rf"{name}\s*│\s*yes\s*│\s*active\s*│\s*buildium-integration", listed.stdout), listed.stdout
    assert again.returncode == 2 and again.stderr.strip() == (
        f"error: a Buildium Integration block named {name!r} exists already; pass --overwrite to replace its settings, "
        "or pick another name")
    assert as_propertyware.returncode == 2 and as_propertyware.stderr.strip() == (
        f"error: {name!r} is already an integration of another source: block buildium-integration/{name} exists; "
        f"remove it first (`pmsync integration remove {name}`) or pick another name")

    removed = pmsync("integration", "remove", name, "--yes", env=env)

    assert removed.returncode == 0, removed.stdout[-3000:] + removed.stderr[-3000:]
    assert f"{PER_INTEGRATION} deployments of {name} deleted" in removed.stdout
    assert f"deleted block buildium-integration/{name} and its secret" in removed.stdout
    assert block_of(name) is None and integration_deployments(name) == []
    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(integrations.c.removed_at)).scalar_one() is not None
        assert connection.execute(sa.select(sa.func.count()).select_from(units).where(units.c.active)).scalar_one() == 0
    for done in (added, synced, listed, again, as_propertyware, removed):
        assert SANDBOX_CLIENT_SECRET not in done.stdout + done.stderr
        assert "another-secret-value" not in done.stdout + done.stderr


@pytest.mark.parametrize("platform_url", ["sqlite"], indirect=True)
def test_a_block_not_found_is_named_by_the_setups_vendor(platform_url, monkeypatch):
    """Each message that no integration block has a name names the block type of the environment's source system:
    Buildium's in a Buildium setup; Propertyware's wording, as pinned by its tests, otherwise; every vendor's for a
    source system no package reads."""
    from pmsync.integrations.integration import IntegrationNotConfigured, _load_block
    from pmsync.runs.deployments import DeployMisconfigured, check_registered

    env = {"PMSYNC_DATABASE_URL": platform_url, "PMSYNC_SOURCE_SYSTEM": "buildium"}
    refused = pmsync("sync", "delta", "--integration", "no-such-block", env=env)

    assert refused.returncode == 2 and refused.stdout == "", refused.stderr[-2000:]
    [line] = refused.stderr.splitlines()
    assert line.startswith(f"error: unknown integration 'no-such-block': the Prefect server at {PREFECT_API_URL.value()} "
                           "has no Buildium Integration block of that name; name one of: "), line
    for system, said in (("buildium", "no Buildium Integration block named 'no-such-block'"),
                         ("propertyware", "no Propertyware Integration block named 'no-such-block'"),
                         ("gone-vendor", "no integration block (Propertyware Integration or Buildium Integration) "
                                         "named 'no-such-block'")):
        monkeypatch.setenv("PMSYNC_SOURCE_SYSTEM", system)
        with pytest.raises(IntegrationNotConfigured) as missing:
            _load_block("no-such-block")
        assert str(missing.value) == f"{said}: create it in the Prefect UI"
    monkeypatch.setenv("PMSYNC_SOURCE_SYSTEM", "buildium")
    with pytest.raises(DeployMisconfigured) as undeployable:
        check_registered(["no-such-block"])
    assert str(undeployable.value).startswith("no Buildium Integration block named no-such-block on the Prefect server, "
                                              "nor a Propertyware Integration block; create it")
