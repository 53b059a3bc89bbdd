"""An integration has one identity, with blocks on a real Prefect server (issue 23): a block named like the
environment's integration syncs nothing of another company into its rows, `pmsync integration add` and the `enroll`
flow refuse a name bound to another account before saving, deploying or reinstating anything, `retire` named for the
environment's integration changes nothing, and `retire` run again finishes what an earlier one left."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.exceptions import ObjectNotFound
from pydantic import SecretStr

from flows.delta_sync import delta_sync
from flows.integrations import enroll_integration, retire_integration
from pmsync.integrations.blocks import PropertywareIntegration
from pmsync.integrations.enrollment import BLOCK_TYPE, INTEGRATION_TAG, integration_deployments, refuse_other_account
from pmsync.integrations.identity import IntegrationNeedsRepoint
from pmsync.integrations.integration import CONFIGURED_IN_BLOCK, integration_from_block, integration_from_environment
from pmsync.jobs import JOBS
from pmsync.jobs.steps import PLAIN_STEPS
from pmsync.jobs.sync import sync_integration
from pmsync.integrations.retirement import retire_integration as retire_on_platform
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER, SANDBOX_SYSTEM_ID, SandboxServer
from schemas.tables import integrations, units
from tests.conftest import source_env
from tests.flows.test_cli import run_pmsync
from tests.flows.test_integration_identity import platform_rows, source_unit_names
from tests.flows.three_companies import give_own_names
from tests.unit.test_cli_exit_codes import error_line

pytestmark = pytest.mark.flow
REPO_ROOT = str(Path(__file__).resolve().parents[2])


@pytest.fixture
def sources() -> Iterator[tuple[SandboxServer, SandboxServer]]:
    with SandboxServer(units=6, seed=7) as first, SandboxServer(units=6, seed=7) as other:
        give_own_names(other.store, "birch")
        yield first, other


def save_block(name: str, source: SandboxServer) -> None:
    PropertywareIntegration(base_url=source.base_url, client_id=SANDBOX_CLIENT_ID,
                            client_secret=SecretStr(SANDBOX_CLIENT_SECRET), system_id=SANDBOX_SYSTEM_ID,
                            integration_user=SANDBOX_INTEGRATION_USER).save(name, overwrite=True)


def delete_block(name: str) -> None:
    with get_client(sync_client=True) as client:
        try:
            client.delete_block_document(client.read_block_document_by_name(name, BLOCK_TYPE).id)
        except ObjectNotFound:
            pass


def registered_as_block(monkeypatch, platform_url: str, name: str, source: SandboxServer) -> None:
    """`name` synced from `source` as a block configures it (the library's job, no Prefect)."""
    for variable, value in source_env(platform_url, source, PMSYNC_INTEGRATION_NAME=name).items():
        monkeypatch.setenv(variable, value)
    account = replace(integration_from_environment(), configured_in=CONFIGURED_IN_BLOCK)
    sync_integration(PLAIN_STEPS, account, "initial", account.rules.streams)


def test_a_block_named_like_the_environments_integration_for_another_account_is_refused_until_repointed(
    monkeypatch, platform_url, platform_engine, sources
):
    first, other = sources
    name = "identity-home"
    env = source_env(platform_url, first, PMSYNC_INTEGRATION_NAME=name)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    JOBS["initial-sync"]()
    save_block(name, other)
    before = platform_rows(platform_engine)
    other.store.clear_requests_log()
    try:
        refused = run_pmsync("sync", "delta", "--integration", name, env=env)

        assert refused.returncode == 2, refused.stderr[-3000:]
        assert error_line(refused).startswith(
            f"error: integration '{name}' is bound on the platform to propertyware system id 1001 at 127.0.0.1:"
            f"{first.port}, configured in the environment, but this configuration names propertyware system id 1001 at "
            f"127.0.0.1:{other.port}, configured in the block (host, where it is configured differ)"), error_line(refused)
        assert f"`pmsync integration repoint {name} --to block`" in error_line(refused)
        assert SANDBOX_CLIENT_SECRET not in refused.stdout + refused.stderr
        assert other.store.requests_log == [] and platform_rows(platform_engine) == before

        repointed = run_pmsync("integration", "repoint", name, "--to", "block", "--yes", env=env)

        assert repointed.returncode == 0, repointed.stderr[-3000:]
        assert f"{name} re-pointed: propertyware system id 1001 at 127.0.0.1:{first.port}, configured in the environment " \
               f"→ propertyware system id 1001 at 127.0.0.1:{other.port}, configured in the block" in repointed.stdout
        assert delta_sync(integration=name)["counts"]["unit"]["updated"] == len(before["units"])
        assert all(unit.startswith("Birch unit ") for unit in source_unit_names(platform_engine))
        with pytest.raises(IntegrationNeedsRepoint, match=f"`pmsync integration repoint {name} --to environment`"):
            JOBS["delta-sync"]()
    finally:
        delete_block(name)


def test_add_and_enroll_refuse_a_name_bound_to_another_account_before_saving_deploying_or_reinstating(
    monkeypatch, platform_url, platform_engine, sources
):
    first, other = sources
    name = "identity-dune"
    registered_as_block(monkeypatch, platform_url, name, first)
    retire_on_platform(platform_engine, name, environment_integration="default")
    env = {**source_env(platform_url, first, PMSYNC_INTEGRATION_NAME="default"), "PMSYNC_ADD_CLIENT_SECRET": SANDBOX_CLIENT_SECRET}
    try:
        added = run_pmsync("integration", "add", name, "--base-url", other.base_url, "--client-id", SANDBOX_CLIENT_ID,
                           "--system-id", SANDBOX_SYSTEM_ID, "--integration-user", SANDBOX_INTEGRATION_USER,
                           "--project-dir", REPO_ROOT, "--no-initial-sync", env=env)

        assert added.returncode == 2, added.stdout[-2000:] + added.stderr[-2000:]
        assert added.stdout == "" and error_line(added).endswith(
            f"nothing was saved. Pick another name, or pass --repoint if {name} itself moved to this account (its rows "
            "are kept; its next sync applies every record again)")
        assert f"at 127.0.0.1:{first.port}, configured in the block, but this configuration names" in error_line(added)
        with get_client(sync_client=True) as client, pytest.raises(ObjectNotFound):
            client.read_block_document_by_name(name, BLOCK_TYPE)

        save_block(name, other)  # as the Prefect UI saves it; its creation runs `enroll`
        enrolled = enroll_integration(name, return_state=True)

        assert enrolled.is_failed()
        assert f"`pmsync integration repoint {name} --to block` binds it" in enrolled.message, enrolled.message
        assert "nothing was deployed or started" in enrolled.message
        assert integration_deployments(name) == []
        with platform_engine.connect() as connection:
            assert connection.execute(sa.select(integrations.c.removed_at).where(integrations.c.name == name)
                                      ).scalar_one() is not None, "not reinstated"

        repointed = run_pmsync("integration", "repoint", name, "--yes", env=env)

        assert repointed.returncode == 0 and f"{name} re-pointed: " in repointed.stdout, repointed.stderr[-3000:]
        refuse_other_account(integration_from_block(name), "enroll goes on now")
    finally:
        delete_block(name)


def task_runs_of(flow_run_id) -> dict[str, int]:
    """Each task of the flow run by name, and how many times it ran."""
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {task.name.rsplit("-", 1)[0]: task.run_count for task in tasks}


def test_retire_named_for_the_environments_integration_changes_nothing_and_is_not_retried(
    monkeypatch, platform_url, platform_engine, sources
):
    first, _ = sources
    name = "identity-env"
    for variable, value in source_env(platform_url, first, PMSYNC_INTEGRATION_NAME=name).items():
        monkeypatch.setenv(variable, value)
    JOBS["initial-sync"]()
    before = platform_rows(platform_engine)

    retired = retire_integration(name, return_state=True)

    assert retired.is_failed()
    assert f"integration '{name}' is configured by the PMSYNC_* environment, not by a block" in retired.message
    assert platform_rows(platform_engine) == before
    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(units).where(units.c.active)).scalar_one() > 0
    assert task_runs_of(retired.state_details.flow_run_id)["retire on the platform"] == 1, "a refusal is not retried"


def test_retire_run_again_finishes_what_an_earlier_run_left(monkeypatch, platform_url, platform_engine, sources):
    first, _ = sources
    name = "identity-gone"
    registered_as_block(monkeypatch, platform_url, name, first)
    retire_on_platform(platform_engine, name, environment_integration="default")
    with get_client(sync_client=True) as client:  # a deployment an earlier retire did not get to delete
        flow_id = client.create_flow_from_name("delta-sync")
        client.create_deployment(flow_id=flow_id, name=f"delta-{name}", tags=[INTEGRATION_TAG.format(name=name)],
                                 parameters={"integration": name})
    assert integration_deployments(name) == [f"delta-sync/delta-{name}"]

    retired = retire_integration(name, return_state=True)

    assert retired.is_completed(), retired.message
    result = retired.result()
    assert result["retired"]["already_removed"] and result["deleted_deployments"] == [f"delta-sync/delta-{name}"]
    assert integration_deployments(name) == []
