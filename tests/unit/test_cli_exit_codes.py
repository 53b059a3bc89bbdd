"""`pmsync` ends a failure with one `error:` line on stderr and an exit code by its class: 2 configuration or credentials
(and a request the source rejects), 3 run again later (source unavailable, integration busy), 4 refused by a guard (and
a work order the source refuses), 1 anything else (data the source sends that cannot be read). The real console entry in a process of its own, no Prefect server
configured (the job runs in process), against the real sandbox and a real SQLite file and PostgreSQL database."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from pmsync.cli.common import EXIT_CODES, EXIT_CONFIGURATION, EXIT_OTHER, EXIT_REFUSED, EXIT_SOURCE_UNAVAILABLE
from pmsync.integrations.integration import Integration
from pmsync.jobs import JOBS
from pmsync.platform.database import migrate
from pmsync.runs.bookkeeping import ensure_integration, utc_now
from pmsync.push.workorders import create_work_order
from sandbox.faults import ignore_offset_fault, status_fault, total_header_fault
from schemas.tables import integration_locks, properties, units


def run_pmsync(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`pmsync ARGS` as a user runs it with no Prefect server configured."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PMSYNC_"))}
    return subprocess.run(
        [sys.executable, "-c", "from pmsync.cli import app; app()", *args],
        env={**inherited, **env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=300,
    )


def error_line(done: subprocess.CompletedProcess) -> str:
    """The failure's line: the last on stderr (the job's log lines come before it)."""
    return done.stderr.strip().splitlines()[-1]


@pytest.fixture
def registered(platform_engine: sa.Engine) -> sa.Engine:
    """A migrated platform with the default integration registered (an import needs no source connection)."""
    migrate(platform_engine)
    with platform_engine.begin() as connection:
        ensure_integration(connection, Integration("default", "http://unused.example", "id", SecretStr("s"), "1", "u@example.com"))
    return platform_engine


def test_every_class_the_table_names_exists_where_it_is_defined():
    """The table is looked up by a failure's own `__module__.__qualname__`: a name that only re-exports the class (it
    moved to another module) would never match, and its failures would exit 1."""
    for dotted in EXIT_CODES:
        module, name = dotted.rsplit(".", 1)
        named = getattr(importlib.import_module(module), name)
        assert issubclass(named, Exception), dotted
        assert f"{named.__module__}.{named.__qualname__}" == dotted, f"{dotted} is defined as {named.__module__}.{named.__qualname__}"


def test_a_missing_setting_exits_2_with_its_line_on_stderr_and_nothing_on_stdout(integration_env):
    failed = run_pmsync("sync", "initial", env={**integration_env, "PMSYNC_INTEGRATION_USER": ""})

    assert failed.returncode == EXIT_CONFIGURATION, failed.stderr[-2000:]
    assert failed.stdout == ""
    assert failed.stderr.strip() == "error: set PMSYNC_INTEGRATION_USER (the default integration needs them)"


def test_credentials_the_source_refuses_exit_2(integration_env):
    failed = run_pmsync("sync", "initial", env={**integration_env, "PMSYNC_PW_CLIENT_SECRET": "wrong-secret"})

    assert failed.returncode == EXIT_CONFIGURATION, failed.stderr[-2000:]
    assert failed.stdout == ""
    assert error_line(failed).startswith("error: ") and "401" in error_line(failed)


def test_a_source_nothing_listens_on_exits_3(integration_env, sandbox):
    sandbox.stop()

    failed = run_pmsync("sync", "initial", env=integration_env)

    assert failed.returncode == EXIT_SOURCE_UNAVAILABLE, failed.stderr[-2000:]
    assert failed.stdout == ""
    assert error_line(failed).startswith("error: ") and "GET /buildings" in error_line(failed)


def test_a_quality_stop_exits_4(integration_env, sandbox):
    active = [u["id"] for u in sandbox.store.records("units") if u["active"]]
    for unit_id in active[::2]:
        sandbox.store.update("units", unit_id, buildingID=None)

    failed = run_pmsync("sync", "initial", env=integration_env)

    assert failed.returncode == EXIT_REFUSED, failed.stderr[-2000:]
    assert failed.stdout == ""
    assert error_line(failed).startswith("error: unit: ") and "failed data-quality checks" in error_line(failed)


def test_a_mass_deactivation_refused_exits_4(integration_env, sandbox, monkeypatch):
    for name, value in integration_env.items():
        monkeypatch.setenv(name, value)
    JOBS["initial-sync"]()
    for unit in sandbox.store.records("units"):
        sandbox.store.delete("units", unit["id"])

    failed = run_pmsync("reconcile", env=integration_env)

    assert failed.returncode == EXIT_REFUSED, failed.stderr[-2000:]
    assert failed.stdout == ""
    assert error_line(failed).startswith("error: would deactivate ")


def test_a_rejected_csv_file_exits_4_with_its_problems_on_stderr(registered, platform_url, tmp_path):
    bad = tmp_path / "vendors.csv"
    bad.write_text("vendor_id,company_name,email\n30003,Gone Co,not-an-email\n", encoding="utf-8")

    rejected = run_pmsync("import", "service-providers", str(bad), env={"PMSYNC_DATABASE_URL": platform_url})

    assert rejected.returncode == EXIT_REFUSED, rejected.stderr[-2000:]
    assert rejected.stdout == ""
    assert "row 2, column email, value 'not-an-email': not a valid e-mail address" in rejected.stderr
    assert error_line(rejected) == f"error: {bad} was not imported: fix the rows above and upload it again"


@pytest.mark.parametrize("platform_url", ["sqlite"], indirect=True)
def test_a_file_that_is_not_csv_is_refused_with_4(registered, platform_url, tmp_path):
    binary = tmp_path / "vendors.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

    refused = run_pmsync("import", "service-providers", str(binary), env={"PMSYNC_DATABASE_URL": platform_url})

    assert refused.returncode == EXIT_REFUSED, refused.stderr[-2000:]
    assert error_line(refused) == f"error: {binary} was not imported: the file is binary (a NUL byte at byte 8), not CSV text"


def test_an_integration_another_run_holds_exits_3(integration_env, platform_engine):
    migrate(platform_engine)
    with platform_engine.begin() as connection:
        connection.execute(sa.insert(integration_locks).values(
            integration_name="default", holder="other-host:9 flow run z", flow="delta",
            acquired_at=utc_now(), expires_at=utc_now() + timedelta(hours=1),
        ))

    busy = run_pmsync("sync", "delta", env={**integration_env, "PMSYNC_LOCK_WAIT_MINUTES": "0"})

    assert busy.returncode == EXIT_SOURCE_UNAVAILABLE, busy.stderr[-2000:]
    assert busy.stdout == ""
    assert error_line(busy).startswith("error: integration 'default' is still being synced by other-host:9 flow run z")
    assert error_line(busy).endswith("run again later, or `pmsync unlock default` if it crashed")


def test_a_request_the_source_rejects_exits_2(integration_env, sandbox):
    sandbox.store.inject(status_fault("/buildings", 403))

    rejected = run_pmsync("sync", "initial", env=integration_env)

    assert rejected.returncode == EXIT_CONFIGURATION, rejected.stderr[-2000:]
    assert rejected.stdout == ""
    assert error_line(rejected).startswith("error: source rejected the request (403") and "GET /buildings" in error_line(rejected)


@pytest.mark.parametrize("platform_url", ["sqlite"], indirect=True)
def test_data_the_source_sends_that_cannot_be_read_exits_1(integration_env, sandbox):
    sandbox.store.inject(total_header_fault("/units", "not-a-number"))
    unreadable = run_pmsync("sync", "initial", env=integration_env)
    sandbox.store.clear_faults()
    sandbox.store.inject(ignore_offset_fault("/units", times=10_000))
    stuck = run_pmsync("sync", "initial", env={**integration_env, "PMSYNC_PW_PAGE_SIZE": "10"})

    assert unreadable.returncode == EXIT_OTHER, unreadable.stderr[-2000:]
    assert error_line(unreadable).startswith("error: units: list response has no usable X-Total-Count header")
    assert stuck.returncode == EXIT_OTHER, stuck.stderr[-2000:]
    assert error_line(stuck).startswith("error: units page at offset ") and "brought no record not already seen" in error_line(stuck)


def test_a_change_by_hand_the_platform_refuses_exits_4(integration_env, monkeypatch, platform_engine):
    for name, value in integration_env.items():
        monkeypatch.setenv(name, value)
    JOBS["initial-sync"]()
    with platform_engine.connect() as connection:
        active = connection.execute(sa.select(units.c.source_id).where(units.c.active).limit(1)).scalar_one()

    refused = run_pmsync("unit", "reactivate", str(active), env=integration_env)

    assert refused.returncode == EXIT_REFUSED, refused.stderr[-2000:]
    assert refused.stdout == ""
    assert error_line(refused) == f"error: unit {active} is already active; nothing to undo"


def test_workorder_sync_now_says_why_it_did_not_sync_and_exits_3_or_4(integration_env, monkeypatch, sandbox, platform_engine):
    for name, value in integration_env.items():
        monkeypatch.setenv(name, value)
    JOBS["initial-sync"]()
    with platform_engine.connect() as connection:
        place = connection.execute(
            sa.select(properties.c.id, properties.c.source_id).where(properties.c.active).order_by(properties.c.id)
        ).first()
    work_order_id = create_work_order(platform_engine, "default", property_id=place.id, description="Gate is stuck")

    sandbox.store.inject(status_fault("/workorders", 503, times=10, method="POST"))
    unavailable = run_pmsync("workorder", "sync-now", f"WO-{work_order_id}", env=integration_env)
    sandbox.store.clear_faults()
    sandbox.store.update("buildings", place.source_id, active=False)
    refused = run_pmsync("workorder", "sync-now", f"WO-{work_order_id}", env=integration_env)

    assert unavailable.returncode == EXIT_SOURCE_UNAVAILABLE, (unavailable.stdout + unavailable.stderr)[-2000:]
    assert f"work order WO-{work_order_id}: pending" in unavailable.stdout
    assert error_line(unavailable) == (
        f"error: work order WO-{work_order_id} is still pending: run `pmsync workorder sync-now WO-{work_order_id}` "
        "again later (the daily sweep also retries it)"
    )
    assert refused.returncode == EXIT_REFUSED, (refused.stdout + refused.stderr)[-2000:]
    assert f"work order WO-{work_order_id}: failed" in refused.stdout and "does not exist or is deactivated" in refused.stdout
    assert error_line(refused) == (
        f"error: work order WO-{work_order_id} was refused by the source; fix it (`pmsync workorder update "
        f"WO-{work_order_id} …`) and run `pmsync workorder sync-now WO-{work_order_id}` again"
    )


def test_workorder_create_and_update_exit_3_when_left_pending_and_4_when_refused(
    integration_env, monkeypatch, sandbox, platform_engine
):
    for name, value in integration_env.items():
        monkeypatch.setenv(name, value)
    JOBS["initial-sync"]()
    with platform_engine.connect() as connection:
        building = connection.execute(
            sa.select(properties.c.source_id).where(properties.c.active).order_by(properties.c.id).limit(1)
        ).scalar_one()

    sandbox.store.inject(status_fault("/workorders", 503, times=10, method="POST"))
    pending = run_pmsync("workorder", "create", "--property", str(building), "--description", "Gate is stuck",
                         env=integration_env)
    sandbox.store.clear_faults()
    sandbox.store.update("buildings", building, active=False)
    number = pending.stdout.split()[2]
    refused = run_pmsync("workorder", "update", number, "--note", "Still stuck", env=integration_env)

    assert pending.returncode == EXIT_SOURCE_UNAVAILABLE, (pending.stdout + pending.stderr)[-2000:]
    assert pending.stdout.startswith(f"work order {number} saved on the platform\nwork order {number}: pending")
    assert error_line(pending) == (
        f"error: work order {number} is still pending: run `pmsync workorder sync-now {number}` again later "
        "(the daily sweep also retries it)"
    )
    assert refused.returncode == EXIT_REFUSED, (refused.stdout + refused.stderr)[-2000:]
    assert f"work order {number}: failed" in refused.stdout and "does not exist or is deactivated" in refused.stdout
    assert error_line(refused) == (
        f"error: work order {number} was refused by the source; fix it (`pmsync workorder update {number} …`) "
        f"and run `pmsync workorder sync-now {number}` again"
    )
