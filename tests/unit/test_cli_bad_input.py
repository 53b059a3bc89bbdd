"""Every `pmsync` command given bad input ends the same way: exactly one `error:` line on stderr, no traceback, nothing
on stdout, and the exit code of its kind (2 usage or configuration, 3 run again later, 1 anything else). The commands
are read from the app itself, so a command added without a row here fails the test. Real `pmsync` processes, no
Prefect server configured (but in the row that names one nobody runs), on a real SQLite file and PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
import typer.main
from pydantic import SecretStr

from pmsync.cli.app import app
from pmsync.cli.common import EXIT_CONFIGURATION, EXIT_OTHER, EXIT_SOURCE_UNAVAILABLE
from pmsync.integrations.integration import Integration
from pmsync.platform.database import make_engine, migrate
from pmsync.runs.bookkeeping import ensure_integration
from schemas.tables import sync_runs
from tests.unit.test_cli_integration_option import all_commands

UNREACHABLE_PREFECT = "http://127.0.0.1:9/api"
TEMPORARY_SERVER = "starting a temporary local Prefect server"


@dataclass(frozen=True)
class Bad:
    """One command given one bad input: the code it must exit with and a piece of its one `error:` line."""

    args: tuple[str, ...]
    code: int
    says: str
    env: dict[str, str] = field(default_factory=dict)


MISSPELLED = "unknown integration 'acm': neither the PMSYNC_* environment's integration nor on the platform"
NOT_ON_PLATFORM = "integration 'acme-typo' is not on the platform; name one of: default"
ROWS: dict[str, list[Bad]] = {
    "sync initial": [Bad(("--integration", "acm"), EXIT_CONFIGURATION, MISSPELLED)],
    "sync delta": [
        Bad(("--integration", "acm"), EXIT_CONFIGURATION, MISSPELLED),
        Bad((), EXIT_SOURCE_UNAVAILABLE, "does not answer (ConnectError): is the Prefect server running?",
            {"PREFECT_API_URL": UNREACHABLE_PREFECT}),
    ],
    "sync leases": [Bad(("--integration", "acm"), EXIT_CONFIGURATION, MISSPELLED)],
    "sync batch": [Bad(("default", "acm"), EXIT_CONFIGURATION, MISSPELLED)],
    "sync now": [Bad(("--integration", "acm"), EXIT_CONFIGURATION, MISSPELLED)],
    "reconcile": [Bad(("--integration", "acm"), EXIT_CONFIGURATION, MISSPELLED)],
    "balance": [Bad(("1", "--integration", "acm"), EXIT_CONFIGURATION, MISSPELLED)],
    "workorder push-pending": [Bad(("--integration", "acm"), EXIT_CONFIGURATION, MISSPELLED)],
    "workorder sync-now": [Bad(("424242", "--integration", "acm"), EXIT_CONFIGURATION, MISSPELLED)],
    "workorder create": [
        Bad(("--property", "424242", "--description", "Leak"), EXIT_CONFIGURATION,
            "no property with Propertyware id 424242 in integration 'default'; --property takes the property's "
            "Propertyware id"),
    ],
    "workorder update": [Bad(("424242", "--note", "hi", "--no-push"), EXIT_OTHER,
                             "no work order with Propertyware id 424242 in integration 'default'")],
    "workorder show": [Bad(("WO-x",), EXIT_CONFIGURATION, "'WO-x' names no work order")],
    "workorder list": [Bad(("--status", "bogus"), EXIT_CONFIGURATION, "'bogus' is no sync status")],
    "explain": [Bad(("widget", "1"), EXIT_CONFIGURATION, "unknown entity 'widget'; use one of: property, unit")],
    "changes": [Bad(("--since", "yesterdayish"), EXIT_CONFIGURATION, "--since 'yesterdayish' is not a time: give 24h")],
    "runs": [Bad(("--integration", "acme-typo"), EXIT_CONFIGURATION, NOT_ON_PLATFORM)],
    "runs show": [Bad(("999",), EXIT_OTHER, "no run 999 on the platform")],
    "state": [Bad(("--integration", "acme-typo"), EXIT_CONFIGURATION, NOT_ON_PLATFORM)],
    "state reset": [Bad(("widget",), EXIT_CONFIGURATION, "unknown entity 'widget'")],
    "quality": [Bad(("--integration", "acme-typo"), EXIT_CONFIGURATION, NOT_ON_PLATFORM)],
    "unlock": [Bad(("--integration", "acme-typo"), EXIT_CONFIGURATION, NOT_ON_PLATFORM)],
    "unit reactivate": [Bad(("424242",), EXIT_OTHER, "unit 424242 is not on the platform for integration 'default'")],
    "property disable": [Bad(("424242",), EXIT_OTHER, "property 424242 is not on the platform")],
    "property enable": [Bad(("424242",), EXIT_OTHER, "property 424242 is not on the platform")],
    "report deactivated": [Bad(("--out", "report.txt"), EXIT_CONFIGURATION, "end it in .csv or .xlsx")],
    "report snapshots": [Bad(("--integration", "acme-typo"), EXIT_CONFIGURATION, NOT_ON_PLATFORM)],
    "reports serve": [
        Bad((), EXIT_CONFIGURATION, "PMSYNC_REPORTS_TOKEN is shorter than 16 characters", {"PMSYNC_REPORTS_TOKEN": "short"}),
        Bad(("--host", "0.0.0.0"), EXIT_CONFIGURATION, "without an access token"),
        Bad((), EXIT_CONFIGURATION, "PMSYNC_IMPORT_RETENTION_DAYS", {"PMSYNC_IMPORT_RETENTION_DAYS": "0"}),
    ],
    "import owners": [Bad(("/no/such.csv",), EXIT_CONFIGURATION, "file '/no/such.csv' does not exist")],
    "import service-providers": [Bad(("/no/such.csv",), EXIT_CONFIGURATION, "file '/no/such.csv' does not exist")],
    "bench": [Bad(("--units", "nope"), EXIT_CONFIGURATION, "--units must be whole numbers")],
    "sandbox serve": [Bad(("--port", "http"), EXIT_CONFIGURATION, "Invalid value for '--port'")],
    "deploy": [Bad((), EXIT_CONFIGURATION, "no Prefect server configured")],
    "automations apply": [Bad((), EXIT_CONFIGURATION, "no Prefect server configured")],
    "integration add": [Bad(("Acme Corp", "--base-url", "https://x.example", "--client-id", "c", "--system-id", "1",
                             "--integration-user", "u@x.example"), EXIT_CONFIGURATION, "must be block slugs",
                            {"PMSYNC_ADD_CLIENT_SECRET": "s"})],
    "integration remove": [Bad(("Bad_Name", "--yes"), EXIT_CONFIGURATION, "must be block slugs")],
    "integration repoint": [Bad(("acme", "--to", "nowhere"), EXIT_CONFIGURATION, "'nowhere' is not one of")],
    "integration list": [Bad((), EXIT_CONFIGURATION, "no Prefect server configured")],
}
"""Per command (its words), one or more bad inputs; every command of the app has a row."""
CASES = [(command, bad) for command, bads in ROWS.items() for bad in bads]


def pmsync(*args: str, env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    """`pmsync ARGS` as a user runs it: no Prefect server configured (a Prefect home of its own, empty)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PMSYNC_"))}
    return subprocess.run(
        [sys.executable, "-c", "from pmsync.cli import app; app()", *args], cwd=cwd,
        env={**inherited, "PREFECT_HOME": str(cwd / "prefect-home"), "COLUMNS": "200", **env},
        capture_output=True, text=True, timeout=120,
    )


def environment(platform_url: str) -> dict[str, str]:
    """A complete PMSYNC_* integration 'default' (its source is never reached: every row is refused before)."""
    return {
        "PMSYNC_DATABASE_URL": platform_url, "PMSYNC_PW_BASE_URL": "http://127.0.0.1:1/pw/api/rest/v1",
        "PMSYNC_PW_CLIENT_ID": "id", "PMSYNC_PW_CLIENT_SECRET": "secret", "PMSYNC_PW_SYSTEM_ID": "1",
        "PMSYNC_INTEGRATION_USER": "pmsync@example.com",
    }


def registered_platform(platform_url: str) -> None:
    """The platform migrated with the default integration on it, and nothing synced."""
    engine = make_engine(platform_url)
    migrate(engine)
    with engine.begin() as connection:
        ensure_integration(connection, Integration("default", "http://127.0.0.1:1/pw/api/rest/v1", "id",
                                                   SecretStr("secret"), "1", "pmsync@example.com"))
    engine.dispose()


def test_every_command_has_a_row():
    commands = {" ".join(words) for words, _ in all_commands(typer.main.get_command(app))}
    assert commands - set(ROWS) == set(), "add a row of bad input for each new command"
    assert set(ROWS) - commands == set(), "a row names a command the app no longer has"


@pytest.mark.parametrize("platform_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("command", "bad"), CASES, ids=[f"{c}:{' '.join(b.args)}" for c, b in CASES])
def test_bad_input_ends_in_one_error_line_and_its_exit_code(command, bad, platform_url, tmp_path):
    registered_platform(platform_url)

    done = pmsync(*command.split(), *bad.args, env={**environment(platform_url), **bad.env}, cwd=tmp_path)

    assert done.returncode == bad.code, (done.returncode, done.stdout[-1000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr and "╭" not in done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ") and bad.says in line, line


def test_a_missing_file_records_no_run(platform_url, tmp_path):
    registered_platform(platform_url)

    done = pmsync("import", "owners", str(tmp_path / "owners.csv"), env=environment(platform_url), cwd=tmp_path)

    assert done.returncode == EXIT_CONFIGURATION, done.stderr[-2000:]
    engine = make_engine(platform_url)
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(sync_runs)).scalar_one() == 0
    engine.dispose()


@pytest.mark.parametrize("command", [("sync", "delta"), ("reconcile",), ("balance", "7"), ("workorder", "push-pending")])
def test_a_misspelled_integration_on_a_job_command_fails_fast_without_a_temporary_server(
    command, platform_url, tmp_path, report_measurement,
):
    registered_platform(platform_url)

    started = time.perf_counter()
    done = pmsync(*command, "--integration", "defualt", env=environment(platform_url), cwd=tmp_path)
    took = time.perf_counter() - started

    assert done.returncode == EXIT_CONFIGURATION, done.stderr[-2000:]
    assert TEMPORARY_SERVER not in done.stderr and not (tmp_path / "prefect-home").exists()
    assert done.stderr.splitlines() == [
        "error: unknown integration 'defualt': neither the PMSYNC_* environment's integration nor on the platform, and "
        "no Prefect server is configured (PREFECT_API_URL) to hold its block; name one of: default "
        "(`pmsync integration list`)"
    ]
    report_measurement(f"pmsync {' '.join(command)} --integration defualt (misspelled) refused in {took:.2f} s "
                       f"({platform_url.split(':')[0]})")
