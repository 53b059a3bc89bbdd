"""`--json` on the read-only commands: one JSON document on stdout, the values the database holds after a real sync
from the sandbox over HTTP; a real `pmsync` process on a real SQLite file and PostgreSQL database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import pytest
import sqlalchemy as sa

from pmsync.jobs import JOBS
from pmsync.runs.bookkeeping import COUNTS
from pmsync.push.workorders import create_work_order, update_work_order
from schemas.tables import (
    quarantine, reconciliation_snapshots, snapshot_deactivated_units, sync_run_entities, sync_runs, sync_state, units,
    work_order_changes, work_orders,
)

UNPAID = ("prefect", "great_expectations", "pandas")
PMSYNC_PROBED = f"""
import atexit, sys
atexit.register(lambda: sys.stderr.write(f"unpaid imports: {{sorted(set(sys.modules) & set({UNPAID!r}))}}\\n"))
from pmsync.cli import app
app()
"""


def pmsync_json_and_stderr(*args: str, env: dict[str, str]) -> tuple[object, str]:
    """Run `pmsync ARGS --json` with no Prefect server configured; its stdout must be one JSON document, and it
    imports neither Prefect, Great Expectations nor pandas. Returns the document and stderr."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PMSYNC_"))}
    done = subprocess.run([sys.executable, "-c", PMSYNC_PROBED, *args, "--json"],
                          env={**clean, **env, "COLUMNS": "80"}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    assert "unpaid imports: []\n" in done.stderr
    return json.loads(done.stdout), done.stderr


def pmsync_json(*args: str, env: dict[str, str]) -> object:
    return pmsync_json_and_stderr(*args, env=env)[0]


def moment(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rows(engine: sa.Engine, query) -> list:
    with engine.connect() as connection:
        return connection.execute(query).all()


@pytest.fixture
def synced(integration_env, sandbox, platform_engine) -> dict[str, str]:
    """A platform after an initial sync, a delta and a reconciliation that deactivated one unit the source lost."""
    JOBS["initial-sync"]()
    gone = min(unit["id"] for unit in sandbox.store.records("units") if unit["active"])
    sandbox.store.delete("units", gone)
    JOBS["delta-sync"]()
    JOBS["property-reconciliation"]()
    return integration_env


def test_runs_json_lists_each_run_with_its_counts_as_sync_runs_holds_them(synced, platform_engine):
    listed = pmsync_json("runs", env=synced)

    stored = rows(platform_engine, sa.select(sync_runs).order_by(sync_runs.c.id.desc()))
    assert [run["id"] for run in listed] == [run.id for run in stored] and len(listed) == 3
    assert [run["flow"] for run in listed] == [run.flow for run in stored]
    for shown, run in zip(listed, stored):
        assert shown["status"] == run.status and shown["integration"] == "default"
        assert shown["source_requests"] == run.source_requests
        assert moment(shown["started_at"]) == run.started_at and moment(shown["finished_at"]) == run.finished_at
    counted = rows(platform_engine, sa.select(sync_run_entities))
    assert counted and any(entity.fetched for entity in counted), "the runs counted what they read"
    for entity in counted:
        shown = next(run for run in listed if run["id"] == entity.run_id)["counts"][entity.entity]
        assert shown == {name: getattr(entity, name) for name in COUNTS}, (entity.run_id, entity.entity)


def test_runs_json_sends_the_parked_records_warning_to_stderr(synced, platform_engine):
    listed, warnings = pmsync_json_and_stderr("runs", "--limit", "1", env={**synced, "PMSYNC_PARKED_ALERT_HOURS": "0"})

    [newest] = rows(platform_engine, sa.select(sync_runs.c.id).order_by(sync_runs.c.id.desc()).limit(1))
    assert [run["id"] for run in listed] == [newest.id]
    assert "record(s) parked longer than 0 h" in warnings


def test_state_json_gives_each_streams_high_water_mark(synced, platform_engine):
    shown = pmsync_json("state", env=synced)

    stored = rows(platform_engine, sa.select(sync_state).order_by(sync_state.c.stream))
    assert [row["stream"] for row in shown] == [row.stream for row in stored] and "units" in [row.stream for row in stored]
    for row, mark in zip(shown, stored):
        assert moment(row["high_water_mark"]) == mark.high_water_mark and row["run_id"] == mark.run_id
    assert next(row for row in shown if row["stream"] == "units")["entities"] == ["unit"]


def test_quality_json_counts_the_quarantined_records(synced, platform_engine):
    shown = pmsync_json("quality", "--limit", "1000", env=synced)

    held = rows(platform_engine, sa.select(quarantine).where(quarantine.c.status.in_(("open", "warning"))))
    assert held, "the sandbox's data fails some expectations"
    assert sorted((item["entity"], item["source_id"]) for item in shown["items"]) == sorted(
        (row.entity, row.source_id) for row in held
    )
    per_expectation = sum(len(row.expectations) for row in held)
    assert sum(row["records"] for row in shown["summary"]) == per_expectation
    item = shown["items"][0]
    assert item["expectations"] and moment(item["first_seen_at"]) and item["integration"] == "default"


def test_report_snapshots_json_gives_each_snapshot_and_what_it_deactivated(synced, platform_engine):
    shown = pmsync_json("report", "snapshots", env=synced)

    [snapshot] = rows(platform_engine, sa.select(reconciliation_snapshots))
    deactivated = rows(platform_engine, sa.select(snapshot_deactivated_units.c.unit_id))
    assert len(deactivated) == 1
    assert [(s["id"], s["run_id"], s["deactivated_units"]) for s in shown] == [(snapshot.id, snapshot.run_id, 1)]
    assert moment(shown[0]["taken_at"]) == snapshot.taken_at and shown[0]["mass_deactivation_allowed"] is False
    assert shown[0]["source_unit_count"] == snapshot.source_unit_count


def test_workorder_list_and_show_json_give_the_work_orders_and_their_changes(synced, platform_engine):
    [unit] = rows(platform_engine, sa.select(units.c.id, units.c.property_id).where(units.c.active.is_(True)).limit(1))
    made = [
        create_work_order(platform_engine, "default", property_id=unit.property_id, unit_id=unit.id, description=text)
        for text in ("Kitchen tap leaks", 'Door "sticks" — ünïcode')
    ]
    update_work_order(platform_engine, made[0], note="Plumber booked")

    listed = pmsync_json("workorder", "list", env=synced)
    stored = rows(platform_engine, sa.select(work_orders).where(work_orders.c.sync_status.is_not(None))
                  .order_by(work_orders.c.id.desc()))
    assert [(w["id"], w["description"], w["sync_status"]) for w in listed] == [
        (w.id, w.description, w.sync_status) for w in stored
    ]
    assert [w["id"] for w in listed] == made[::-1] and listed[0]["description"] == 'Door "sticks" — ünïcode'
    assert pmsync_json("workorder", "list", "--status", "failed", env=synced) == []

    shown = pmsync_json("workorder", "show", f"WO-{made[0]}", env=synced)
    changes = rows(platform_engine, sa.select(work_order_changes).where(work_order_changes.c.work_order_id == made[0])
                   .order_by(work_order_changes.c.id))
    assert (shown["id"], shown["integration"], shown["source_id"]) == (made[0], "default", None)
    assert [(c["id"], c["kind"], c["status"], c["attempts"]) for c in shown["changes"]] == [
        (c.id, c.kind, c.status, c.attempts) for c in changes
    ]
    assert len(shown["changes"]) == 2


def test_json_of_an_empty_platform_is_an_empty_document(platform_url, platform_engine):
    with platform_engine.connect():  # a new, empty database (a missing SQLite file is refused: no file is created)
        pass
    env = {"PMSYNC_DATABASE_URL": platform_url}  # migrated first, nothing synced

    assert pmsync_json("runs", env=env) == []
    assert pmsync_json("report", "snapshots", env=env) == []
    assert pmsync_json("quality", env=env) == {"summary": [], "items": []}
    assert pmsync_json("workorder", "list", env=env) == []
