"""An integration has one identity (issue 23): the environment's integration, once registered, is not silently
re-pointed to another source account by a changed configuration. Every run that uses it is refused (exit 2) before
it reads or writes anything until `pmsync integration repoint`, after which the next sync applies every record again
(SQLite and PostgreSQL; `pmsync` processes and the jobs with the plain steps, no Prefect server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from pmsync.integrations.identity import IntegrationNeedsRepoint
from pmsync.jobs import JOBS
from pmsync.integrations.retirement import integration_tables
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SandboxServer
from schemas.tables import integrations, leases, properties, property_logs, sync_runs, sync_state, units
from tests.conftest import source_env
from tests.flows.three_companies import give_own_names
from tests.unit.test_cli_exit_codes import error_line, run_pmsync

REFUSED_JOBS = {
    "delta-sync": {}, "lease-sync": {}, "property-reconciliation": {},
    "property-reconciliation (dry run)": {"dry_run": True}, "work-order-push": {}, "lease-balance": {"lease_id": 1},
}
"""Every job that uses the integration's source account (a CSV import names the integration only)."""


@pytest.fixture
def sources() -> Iterator[tuple[SandboxServer, SandboxServer]]:
    """The account the integration was registered with, and another company's (the same ids, other names)."""
    with SandboxServer(units=6, seed=7) as first, SandboxServer(units=6, seed=7) as other:
        give_own_names(other.store, "birch")
        yield first, other


def platform_rows(engine: sa.Engine) -> dict[str, list]:
    """Every row of every table holding an integration's rows, and the runs."""
    with engine.connect() as connection:
        found = {table.name: [tuple(row) for row in connection.execute(sa.select(table).order_by(*table.primary_key))]
                 for table in integration_tables()}
        found["sync_runs"] = connection.execute(sa.select(sync_runs.c.id, sync_runs.c.status)).all()
    return found


def source_unit_names(engine: sa.Engine) -> list[str]:
    """Each unit's name as its source record last applied says (the name column itself is not updatable by policy)."""
    with engine.connect() as connection:
        return [data["name"] for data in connection.execute(sa.select(units.c.source_data)).scalars()]


def test_another_account_in_the_environment_is_refused_until_repointed_then_everything_is_applied_again(
    monkeypatch, platform_url, platform_engine, sources
):
    first, other = sources
    registered_env, other_env = source_env(platform_url, first), source_env(platform_url, other)
    for name, value in registered_env.items():
        monkeypatch.setenv(name, value)
    JOBS["initial-sync"]()
    before = platform_rows(platform_engine)
    other.store.clear_requests_log()

    refused = run_pmsync("sync", "delta", env=other_env)

    assert refused.returncode == 2, refused.stderr[-2000:]
    line = error_line(refused)
    assert line.startswith(f"error: integration 'default' is bound on the platform to propertyware system id 1001 at "
                           f"127.0.0.1:{first.port}, configured in the environment, but this configuration names "
                           f"propertyware system id 1001 at 127.0.0.1:{other.port}, configured in the environment "
                           "(host differs); the run read and wrote nothing."), line
    assert "`pmsync integration repoint default --to environment`" in line
    assert SANDBOX_CLIENT_SECRET not in refused.stdout + refused.stderr and SANDBOX_CLIENT_ID not in line
    for name, value in other_env.items():
        monkeypatch.setenv(name, value)
    for job, parameters in REFUSED_JOBS.items():
        with pytest.raises(IntegrationNeedsRepoint, match="is bound on the platform to"):
            JOBS[job.split(" ")[0]](**parameters)
    assert other.store.requests_log == [], "a refused run reads nothing"
    assert platform_rows(platform_engine) == before, "a refused run writes nothing"

    repointed = run_pmsync("integration", "repoint", "default", "--yes", env=other_env)

    assert repointed.returncode == 0, repointed.stderr[-2000:]
    assert (f"default re-pointed: propertyware system id 1001 at 127.0.0.1:{first.port}, configured in the environment "
            f"→ propertyware system id 1001 at 127.0.0.1:{other.port}, configured in the environment; its rows are kept"
            ) in repointed.stdout
    with platform_engine.connect() as connection:
        logged = connection.execute(sa.select(sa.func.count()).select_from(property_logs)
                                    .where(property_logs.c.event == "integration_repointed")).scalar_one()
        marks = connection.execute(sa.select(sa.func.count()).select_from(sync_state)).scalar_one()
        hashes = set(connection.execute(sa.select(leases.c.source_hash)).scalars())
        bound = connection.execute(sa.select(integrations.c.base_url)).scalar_one()
    assert logged == len(before["properties"]) and marks == 0 and hashes == {None}
    assert bound == other.base_url
    assert len(platform_rows(platform_engine)["units"]) == len(before["units"]), "re-pointing keeps the rows"

    delta = JOBS["delta-sync"]()

    assert delta["counts"]["unit"]["updated"] == len(before["units"]), "every record applied again"
    assert all(name.startswith("Birch unit ") for name in source_unit_names(platform_engine)), "the new account's data"
    refused_now = run_pmsync("sync", "delta", env=registered_env)
    assert refused_now.returncode == 2 and f"bound on the platform to propertyware system id 1001 at 127.0.0.1:{other.port}" \
        in error_line(refused_now), refused_now.stderr[-2000:]


def test_the_same_account_by_another_path_rule_table_or_user_syncs_as_before(monkeypatch, platform_url, platform_engine,
                                                                             sources):
    first, _ = sources
    for name, value in source_env(platform_url, first).items():
        monkeypatch.setenv(name, value)
    JOBS["initial-sync"]()
    monkeypatch.setenv("PMSYNC_PW_BASE_URL", first.base_url.replace("http://", "HTTP://") + "/")
    monkeypatch.setenv("PMSYNC_SOURCE_SYSTEM", "propertyware-contact-updates")
    monkeypatch.setenv("PMSYNC_INTEGRATION_USER", "another.user@sandbox.example")

    JOBS["delta-sync"]()

    with platform_engine.connect() as connection:
        row = connection.execute(sa.select(integrations)).one()
    assert (row.source_system, row.integration_user, row.configured_in) == (
        "propertyware-contact-updates", "another.user@sandbox.example", "environment")


def test_a_row_registered_before_its_origin_was_recorded_adopts_the_first_runs_if_the_account_matches(
    monkeypatch, platform_url, platform_engine, sources
):
    first, _ = sources
    for name, value in source_env(platform_url, first).items():
        monkeypatch.setenv(name, value)
    JOBS["initial-sync"]()
    with platform_engine.begin() as connection:
        connection.execute(sa.update(integrations).values(configured_in=None))

    JOBS["delta-sync"]()

    with platform_engine.begin() as connection:
        assert connection.execute(sa.select(integrations.c.configured_in)).scalar_one() == "environment"
        connection.execute(sa.update(integrations).values(configured_in=None, base_url="https://old-host.example/pw"))
        properties_before = connection.execute(sa.select(properties)).all()
    with pytest.raises(IntegrationNeedsRepoint, match=r"bound on the platform to propertyware system id 1001 at "
                                                      r"old-host.example, configured in an unrecorded place"):
        JOBS["delta-sync"]()
    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(properties)).all() == properties_before
        assert connection.execute(sa.select(integrations.c.configured_in)).scalar_one() is None
