"""A read-only `pmsync` command pays for nothing it does not use: no Prefect, Great Expectations or pandas, no HTTP
client, no Alembic once the schema is current, no garbage collection while it runs; and what it reads in a few
queries shows each run's own counts and reasons. A real process on a real SQLite file and PostgreSQL database."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from pmsync.cli.common import short_lived
from pmsync.platform.database import migrate
from pmsync.runs.bookkeeping import add_counts, finish_run, start_run
from schemas.tables import integrations, quarantine, unapplied_records

UNPAID = ("prefect", "great_expectations", "pandas")
NOT_FOR_READING = (*UNPAID, "alembic", "requests")
"""Once the schema is current, reading the platform needs neither Alembic nor the source's HTTP client."""
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
    with platform_engine.connect():  # a new, empty database (a missing SQLite file is refused: no file is created)
        pass
    first, modules = run_probed(*command, database_url=platform_url)  # migrated first
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
    assert not modules & set(NOT_FOR_READING)
    expected = {
        "runs": "no runs yet",
        "state": "no stream has completed a pass yet",
        "quality": "quarantine is empty",
        "report": "no reconciliation snapshot yet",
    }[command[0]]
    assert expected in again.stdout


def add_integration(engine: sa.Engine) -> int:
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        return connection.execute(sa.insert(integrations).values(
            name="default", source_system="propertyware", base_url="http://127.0.0.1:1/pw/api/rest/v1",
            system_id="1", integration_user="pmsync@example.com", created_at=now, updated_at=now,
        )).inserted_primary_key[0]


def unapplied(integration_id: int, run_id: int, entity: str, status: str, reason: str, source_ids: range) -> list[dict]:
    now = datetime.now(timezone.utc)
    return [
        {"integration_id": integration_id, "entity": entity, "source_id": source_id, "status": status,
         "reason": reason, "detail": reason, "run_id": run_id, "first_seen_at": now, "last_seen_at": now}
        for source_id in source_ids
    ]


def test_runs_shows_each_run_with_its_own_counts_and_reasons(platform_url, platform_engine):
    migrate(platform_engine)
    integration_id = add_integration(platform_engine)
    now = datetime.now(timezone.utc)
    first = start_run(platform_engine, integration_id, "initial", ["unit", "lease"], (None, now))
    second = start_run(platform_engine, integration_id, "delta", ["lease", "unit"], (now, now))
    with platform_engine.begin() as connection:
        add_counts(connection, first, {"unit": Counter(fetched=3, created=3), "lease": Counter(fetched=2, parked=2)})
        add_counts(connection, second, {"lease": Counter(fetched=5, unchanged=4, excluded=1)})
        connection.execute(sa.insert(unapplied_records), [
            *unapplied(integration_id, first, "lease", "parked", "parent_missing", range(1, 3)),
            *unapplied(integration_id, second, "resident", "excluded", "no_active_lease", range(10, 11)),
        ])
    finish_run(platform_engine, first, error=None, source_requests=7)
    finish_run(platform_engine, second, error="the source stopped answering", source_requests=2)

    done, modules = run_probed("runs", database_url=platform_url)
    shown, show_modules = run_probed("runs", "show", str(second), database_url=platform_url)
    shown_first, _ = run_probed("runs", "show", str(first), database_url=platform_url)

    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    assert not modules & set(NOT_FOR_READING)
    lines = [line.split() for line in done.stdout.splitlines() if re.match(rf"\s*({first}|{second}) ", line)]
    assert [line[:3] + line[6:] for line in lines] == [  # id, flow, integration, (started, took,) "s", state, totals
        [str(second), "delta", "default", "s", "failed", "5", "0", "0", "0"],
        [str(first), "initial", "default", "s", "succeeded", "5", "3", "0", "0"],
    ], done.stdout
    assert "not applied:" not in done.stdout and "the source stopped answering" not in done.stdout
    assert "pmsync runs show ID" in done.stdout

    assert shown.returncode == 0, (shown.stdout + shown.stderr)[-2000:]
    assert not show_modules & set(NOT_FOR_READING)
    assert f"run {second} · delta · default · failed" in shown.stdout and "the source stopped answering" in shown.stdout
    assert "not applied: resident excluded no_active_lease 1" in shown.stdout and "parent_missing" not in shown.stdout
    assert re.search(r"│ lease +│ +5 │ +0 │ +0 │ +4 │ +1 │ +0 │ +0 │", shown.stdout)
    assert re.search(r"│ unit +│ +0 │ +0 │ +0 │ +0 │ +0 │ +0 │ +0 │", shown.stdout)
    assert f"run {first} · initial · default · succeeded" in shown_first.stdout
    assert re.search(r"· 7\s+requests", shown_first.stdout)
    assert "not applied: lease parked parent_missing 2" in shown_first.stdout and "no_active_lease" not in shown_first.stdout


def test_quality_counts_every_held_record_and_lists_only_the_newest(platform_url, platform_engine):
    migrate(platform_engine)
    integration_id = add_integration(platform_engine)
    run_id = start_run(platform_engine, integration_id, "initial", ["resident"], (None, None))
    start = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)
    held = [("open", ["email", "phone"])] * 3 + [("warning", ["clock"])] + [("released", ["email"])]
    with platform_engine.begin() as connection:
        connection.execute(sa.insert(quarantine), [
            {"integration_id": integration_id, "entity": "resident", "source_id": str(100 + n), "status": status,
             "expectations": expectations, "record": {"id": 100 + n}, "run_id": run_id, "first_seen_at": start,
             "last_seen_at": start + timedelta(minutes=n)}
            for n, (status, expectations) in enumerate(held)
        ])

    done, modules = run_probed("quality", "--limit", "2", database_url=platform_url)

    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    assert not modules & set(NOT_FOR_READING)
    lines = done.stdout.splitlines()
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if "│ default" in line]
    assert rows == [
        ["default", "resident", "open", "email", "3"],
        ["default", "resident", "open", "phone", "3"],
        ["default", "resident", "warning", "clock", "1"],
    ]
    items = [line for line in lines if line.startswith("resident ")]
    assert [item.split()[1] for item in items] == ["103", "102"]
    assert "loaded with a warning" in items[0] and "kept out" in items[1] and items[1].endswith("email; phone")


def test_a_short_lived_command_runs_without_collections_and_leaves_the_collector_as_it_was():
    seen = []

    @short_lived
    def command(limit: int = 3) -> int:
        """Doc kept for --help."""
        seen.append(gc.isenabled())
        return limit

    try:
        gc.enable()
        assert command(limit=5) == 5 and gc.isenabled()
        frozen = gc.get_freeze_count()
        gc.disable()
        assert command() == 3 and not gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()
    assert seen == [False, False]
    assert frozen > 0
    assert command.__doc__ == "Doc kept for --help." and command.__wrapped__.__name__ == "command"
