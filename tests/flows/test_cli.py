"""The `pmsync` command line as a user runs it: a real process, the sandbox over HTTP, a real Prefect server (or,
with none configured, the library jobs in process)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.settings import PREFECT_API_URL

from pmsync.jobs import JOBS
from sandbox import SANDBOX_CLIENT_SECRET

PMSYNC = str(Path(sys.executable).with_name("pmsync"))
LOG_LINE = re.compile(r"\d\d:\d\d:\d\d\.\d{3} \| (INFO|WARNING) +\| ")
"""A log line a job run in the command's process writes on stderr (a traceback's lines are not)."""


def run_pmsync(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`pmsync` against the test harness's Prefect server in a flow test; elsewhere with none (its job runs in process)."""
    full_env = {**os.environ, **env, "PREFECT_API_URL": PREFECT_API_URL.value() or "", "COLUMNS": "200"}
    return subprocess.run([PMSYNC, *args], env=full_env, capture_output=True, text=True, timeout=300)


def test_cli_is_installed_next_to_the_interpreter():
    assert shutil.which(PMSYNC), "pmsync console script missing: `make venv` installs it"


def flow_runs_on_the_server(flow_name: str) -> int:
    with get_client(sync_client=True) as client:
        return len(client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name]))))


@pytest.mark.flow
def test_sync_initial_prints_counts_and_runs_lists_the_run(integration_env):
    seen_before = flow_runs_on_the_server("initial-sync")
    synced = run_pmsync("sync", "initial", env=integration_env)
    assert synced.returncode == 0, synced.stderr[-2000:]
    assert "initial sync — run 1" in synced.stdout
    assert flow_runs_on_the_server("initial-sync") == seen_before + 1, "with a server configured, runs show in its UI"
    assert "resident" in synced.stdout and "platform rows of default: properties" in synced.stdout

    listed = run_pmsync("runs", env=integration_env)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert re.search(r"(?m)^\s*1\s+initial\s+default\s.*\ssucceeded\s", listed.stdout), listed.stdout


def test_a_failed_run_exits_non_zero_with_one_line_and_no_secret(integration_env):
    env = {**integration_env, "PMSYNC_PW_CLIENT_SECRET": "cli-wrong-secret-456"}
    failed = run_pmsync("sync", "initial", env=env)
    assert failed.returncode == 2, "refused credentials are configuration"
    *before, last_line = failed.stderr.strip().splitlines()
    assert last_line.startswith("error: ") and "401" in last_line and "GET /buildings" in last_line
    assert [line for line in before if not LOG_LINE.match(line)] == [], "only the run's log lines before it"
    for text in (failed.stdout, failed.stderr):
        assert "cli-wrong-secret-456" not in text and SANDBOX_CLIENT_SECRET not in text


def test_missing_configuration_is_named(integration_env):
    env = {**integration_env, "PMSYNC_INTEGRATION_USER": ""}
    failed = run_pmsync("sync", "initial", env=env)
    assert failed.returncode == 2 and failed.stdout == ""
    assert failed.stderr.splitlines() == ["error: set PMSYNC_INTEGRATION_USER (the default integration needs them)"]


def test_state_shows_marks_reset_rereads_one_stream_and_explain_answers(integration_env, sandbox):
    JOBS["initial-sync"]()
    shown = run_pmsync("state", env=integration_env)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for stream in ("buildings", "units", "leases", "workorders"):
        assert stream in shown.stdout

    reset = run_pmsync("state", "reset", "unit", env=integration_env)
    assert reset.returncode == 0 and "stream units reset" in reset.stdout
    after = run_pmsync("state", env=integration_env).stdout
    assert "units" not in after and "buildings" in after

    delta = run_pmsync("sync", "delta", env=integration_env)
    assert delta.returncode == 0, delta.stderr[-2000:]
    active_units = sum(1 for u in sandbox.store.records("units") if u["active"])
    unit_row = next(line for line in delta.stdout.splitlines() if line.strip("│ ").startswith("unit "))
    assert f"│ {active_units:>7} │" in unit_row

    order = next(o for o in sandbox.store.records("workorders") if (o.get("managedBy") or "").strip() == "")
    explained = run_pmsync("explain", "work_order", str(order["id"]), env=integration_env)
    assert explained.returncode == 0, explained.stderr[-2000:]
    assert "managed_by_nobody" in explained.stdout and "source now: excluded" in explained.stdout


def test_text_from_the_source_prints_literally_never_as_markup(integration_env, sandbox):
    JOBS["initial-sync"]()
    building = sandbox.store.records("buildings")[0]
    odd_name = "Tower [/b] [bold]North[/bold] [red]"
    sandbox.store.update("buildings", building["id"], name=odd_name)

    explained = run_pmsync("explain", "property", str(building["id"]), env=integration_env)
    assert explained.returncode == 0, explained.stderr[-2000:]
    assert f"source {odd_name!r} — not updatable by policy" in explained.stdout


PREFECT_IMPORTED_PROBE = """
import atexit, sys
atexit.register(lambda: sys.stderr.write(f"prefect imported: {'prefect' in sys.modules}\\n"))
from pmsync.cli import app
app()
"""


def _first_run_env(integration_env: dict[str, str], prefect_home: Path) -> dict[str, str]:
    """A user's first run: a Prefect home never used, and no Prefect server configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return {**env, **integration_env, "PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "COLUMNS": "200"}


def test_missing_or_malformed_settings_fail_before_prefect_is_imported(integration_env, tmp_path, report_measurement):
    import time

    env = _first_run_env(integration_env, tmp_path / "prefect-home")
    cases = {
        "PMSYNC_INTEGRATION_USER": ("", "error: set PMSYNC_INTEGRATION_USER (the default integration needs them)"),
        "PMSYNC_PW_MAX_ATTEMPTS": ("six-ish", "error: PMSYNC_PW_MAX_ATTEMPTS: Input should be a valid integer"),
        "PMSYNC_DATABASE_URL": ("not a url", "error: PMSYNC_DATABASE_URL is not a database URL"),
    }
    for variable, (value, expected) in cases.items():
        started = time.monotonic()
        failed = subprocess.run([sys.executable, "-c", PREFECT_IMPORTED_PROBE, "sync", "initial"],
                                env={**env, variable: value}, capture_output=True, text=True, timeout=60)
        report_measurement(f"first run, {variable} wrong: failed in {time.monotonic() - started:.2f} s")
        assert failed.returncode == 2, failed.stderr[-2000:]
        assert failed.stderr.strip().splitlines()[-2].startswith(expected)
        assert "prefect imported: False" in failed.stderr
        if value:
            assert value not in failed.stdout + failed.stderr
    assert not (tmp_path / "prefect-home").exists()


@pytest.mark.parametrize("platform_url", ["sqlite"], indirect=True)
def test_a_block_named_without_a_server_starts_a_temporary_server(integration_env, tmp_path):
    """Once, on SQLite: the command stops at the block lookup, before it opens the platform database. The name is the
    environment's integration, which a block may hold (a name pmsync knows nowhere is refused before any server)."""
    env = _first_run_env(integration_env, tmp_path / "prefect-home")
    failed = subprocess.run([PMSYNC, "sync", "delta", "--integration", "default"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert failed.returncode == 2, (failed.stdout + failed.stderr)[-3000:]
    announced = [line for line in failed.stderr.splitlines() if "starting a temporary local Prefect server" in line]
    assert len(announced) == 1 and "up to 180 s" in announced[0]
    assert "error: no Propertyware Integration block named 'default': create it in the Prefect UI" in (
        failed.stderr.splitlines()
    ), "the error line, before the temporary server's stop line"


def test_without_a_prefect_server_a_sync_runs_in_process_and_never_imports_prefect(
    integration_env, sandbox, platform_engine, tmp_path
):
    from sqlalchemy import func, select

    from schemas.tables import SYNCED_TABLES
    from tests.flows.test_initial_sync import expected_counts

    env = _first_run_env(integration_env, tmp_path / "prefect-home")
    synced = subprocess.run([sys.executable, "-c", PREFECT_IMPORTED_PROBE, "sync", "initial"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert synced.returncode == 0, (synced.stdout + synced.stderr)[-3000:]
    assert "initial sync — run 1" in synced.stdout
    assert "prefect imported: False" in synced.stderr
    assert "temporary local Prefect server" not in synced.stderr
    assert not (tmp_path / "prefect-home").exists()
    expected = expected_counts(sandbox.store, integration_env["PMSYNC_INTEGRATION_USER"])
    with platform_engine.connect() as connection:
        for entity in ("property", "unit", "lease", "resident", "work_order", "charge", "payment"):
            rows = connection.execute(select(func.count()).select_from(SYNCED_TABLES[entity])).scalar_one()
            assert rows == expected[entity]["created"], entity

    delta = subprocess.run([sys.executable, "-c", PREFECT_IMPORTED_PROBE, "sync", "delta"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
    assert delta.returncode == 0, (delta.stdout + delta.stderr)[-3000:]
    assert "delta sync — run 2" in delta.stdout and "prefect imported: False" in delta.stderr
    listed = subprocess.run([PMSYNC, "runs"], env=env, capture_output=True, text=True, timeout=120)
    assert re.search(r"(?m)^\s*2\s+delta\s+default\s.*\ssucceeded\s", listed.stdout), listed.stdout
    assert re.search(r"(?m)^\s*1\s+initial\s+default\s.*\ssucceeded\s", listed.stdout), listed.stdout
