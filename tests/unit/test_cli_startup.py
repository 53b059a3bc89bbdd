"""A read-only `pmsync` command pays for nothing it does not use: no Prefect, Great Expectations or pandas, and no
Alembic once the schema is current; a real process on a real SQLite file and PostgreSQL database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from schemas.tables import integrations

UNPAID = ("prefect", "great_expectations", "pandas")
MODULES_PROBE = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("modules: " + json.dumps(sorted(sys.modules)) + "\\n"))
from pmsync.cli import app
app()
"""


def run_probed(*args: str, database_url: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run `pmsync ARGS` as a user would (no Prefect server configured); return the process and its modules."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PMSYNC_"))}
    env.update({"PMSYNC_DATABASE_URL": database_url, "COLUMNS": "200"})
    done = subprocess.run([sys.executable, "-c", MODULES_PROBE, *args], env=env, capture_output=True, text=True,
                          timeout=120)
    line = next(line for line in done.stderr.splitlines() if line.startswith("modules: "))
    return done, {name.split(".")[0] for name in json.loads(line.removeprefix("modules: "))}


def test_help_imports_no_database_prefect_gx_or_pandas():
    done, modules = run_probed("--help", database_url="sqlite:///unused.db")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "sync" in done.stdout and "runs" in done.stdout
    assert not modules & {*UNPAID, "sqlalchemy", "alembic", "pydantic"}


@pytest.mark.parametrize("command", [("runs",), ("state",), ("quality",), ("report", "snapshots")])
def test_read_only_commands_import_no_prefect_gx_or_pandas(platform_url, platform_engine, command):
    first, modules = run_probed(*command, database_url=platform_url)  # a new database: migrated first
    assert first.returncode in (0, 1), first.stderr[-2000:]
    assert not modules & set(UNPAID)
    now = datetime.now(timezone.utc)
    with platform_engine.begin() as connection:
        connection.execute(sa.insert(integrations).values(
            name="default", source_system="propertyware", base_url="http://127.0.0.1:1/pw/api/rest/v1",
            system_id="1", integration_user="pmsync@example.com", created_at=now, updated_at=now,
        ))

    again, modules = run_probed(*command, database_url=platform_url)
    assert again.returncode == 0, (again.stdout + again.stderr)[-2000:]
    assert not modules & set(UNPAID)
    expected = {
        "runs": "no runs yet",
        "state": "no stream has completed a pass yet",
        "quality": "quarantine is empty",
        "report": "no reconciliation snapshot yet",
    }[command[0]]
    assert expected in again.stdout
