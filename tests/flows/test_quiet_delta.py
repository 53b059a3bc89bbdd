"""Nothing heavy when nothing changed: a delta whose records are all on the platform as they are (pushed work orders
coming back, their rows without a hash yet) never starts the quality gate's process (Great Expectations); one changed
record does, and the CLI's own process never imports GX (direct CLI runs, no Prefect, on SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import time

import sqlalchemy as sa

from pmsync.jobs import JOBS
from pmsync.runs.bookkeeping import run_counts
from pmsync.push.workorders import create_work_order, work_order_status
from schemas.tables import sync_runs, work_orders
from tests.flows.test_cli import _first_run_env
from tests.flows.test_work_order_push import a_unit_with_its_property

GX_IMPORTED_PROBE = """
import atexit, sys
from pmsync.sync.gate_process import started
atexit.register(lambda: sys.stderr.write(
    f"great_expectations imported: {'great_expectations' in sys.modules}; quality gate started: {started()}\\n"))
from pmsync.cli import app
app()
"""


def delta_in_its_own_process(env: dict[str, str], report_measurement, what: str) -> str:
    """`pmsync sync delta` run directly (no Prefect server): its stderr, which ends saying whether GX was imported in
    its process and whether it started the quality gate's process."""
    started = time.monotonic()
    ran = subprocess.run([sys.executable, "-c", GX_IMPORTED_PROBE, "sync", "delta"], env=env, capture_output=True,
                         text=True, timeout=600)
    report_measurement(f"{what}: {time.monotonic() - started:.2f} s wall")
    assert ran.returncode == 0, (ran.stdout + ran.stderr)[-3000:]
    return ran.stderr


def last_run_counts(engine: sa.Engine) -> dict[str, dict[str, int]]:
    with engine.connect() as connection:
        run_id = connection.execute(sa.select(sa.func.max(sync_runs.c.id))).scalar_one()
        return {entity: numbers for entity, numbers in run_counts(connection, run_id).items() if numbers.get("fetched")}


def test_a_delta_that_changes_nothing_never_starts_the_quality_gate_and_one_change_does(
    integration_env, sandbox, platform_engine, tmp_path, report_measurement
):
    JOBS["initial-sync"]()
    place = a_unit_with_its_property(platform_engine)
    made = [
        create_work_order(platform_engine, "default", property_id=place.property_id, unit_id=place.unit_id,
                          description=description, priority="high", category="Plumbing")
        for description in ("Kitchen tap leaks", "Front door sticks")
    ]
    JOBS["work-order-push"]()
    pushed = [work_order_status(platform_engine, work_order_id).source_id for work_order_id in made]
    assert None not in pushed
    env = _first_run_env(integration_env, tmp_path / "prefect-home")

    quiet = delta_in_its_own_process(env, report_measurement, "quiet delta (2 pushed work orders back, unchanged)")

    assert "great_expectations imported: False; quality gate started: False" in quiet
    assert last_run_counts(platform_engine) == {"work_order": {**ZERO, "fetched": 2, "unchanged": 2}}
    with platform_engine.connect() as connection:
        hashes = connection.execute(sa.select(work_orders.c.source_hash).where(work_orders.c.id.in_(made))).scalars()
        assert None not in list(hashes), "the rows now hold their records' hash: the next delta drops them unread"

    sandbox.store.update("units", place.unit_source_id)  # edited in the source: its modification time moves
    changed = delta_in_its_own_process(env, report_measurement, "delta with 1 changed unit")

    assert "great_expectations imported: False; quality gate started: True" in changed
    assert last_run_counts(platform_engine) == {
        "unit": {**ZERO, "fetched": 1, "updated": 1}, "work_order": {**ZERO, "fetched": 2, "unchanged": 2},
    }


ZERO = {"fetched": 0, "created": 0, "updated": 0, "unchanged": 0, "excluded": 0, "parked": 0, "quarantined": 0}
