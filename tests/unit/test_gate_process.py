"""The quality gate's Great Expectations runs in a process of its own: the sync's process never imports GX, a gate
process that ends is reported as retriable and the next gate starts another one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pmsync.sync.gate_process import QualityGateStopped, gate_process
from pmsync.sync.gate_results import DataQualityError

ROOT = Path(__file__).resolve().parents[2]
SUITE = {"name": "unit", "expectations": [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "building_source_id"}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "rent", "min_value": 0}, "meta": {"severity": "warning"}},
]}


def test_a_check_in_the_gate_process_names_the_failing_rows_while_this_process_never_imports_gx():
    script = """
import sys
from datetime import datetime, timezone
from pathlib import Path
from pmsync.sync.rules import PROPERTYWARE_RULES
from pmsync.source import SourcePage
from pmsync.sync.gate import QualityGate, check_pages
from schemas.records import UnitRecord
raw = [{"id": 7, "buildingID": 3, "name": "1A"}, {"id": 8, "buildingID": None, "name": "1B"}]
page = SourcePage("units", "GET /units", [UnitRecord.model_validate(r) for r in raw], raw, 2, None)
gate = QualityGate(Path("expectations"), PROPERTYWARE_RULES.entities(), 0.9)
[checked] = check_pages(gate, PROPERTYWARE_RULES.stream("units"), [page], datetime.now(timezone.utc))
print([c.source_id for c in checked.candidates["unit"]], [f.source_id for f in checked.failures])
print(sorted(m for m in ("great_expectations", "pandas") if m in sys.modules))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ran = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["[7] ['8']", "[]"], ran.stdout


def test_rows_are_named_by_severity_and_a_broken_expectation_is_refused_with_the_request():
    process = gate_process()
    process.ask("open", "test-severity", {"unit": ("suites/unit.json", SUITE)})

    broken, warned = process.ask("check", "test-severity", "unit", {
        "source_id": [1, 2, 3], "building_source_id": [10, None, 11], "rent": [100.0, 200.0, -5.0]}, "GET /units")

    assert broken == {1: ["expect_column_values_to_not_be_null(building_source_id)"]}
    assert warned == {2: ["expect_column_values_to_be_between(rent)"]}
    with pytest.raises(DataQualityError, match=r"^unit: expectation expect_column_values_to_not_be_null"
                                               r"\(building_source_id\) could not be evaluated row by row .*\[GET /units\]"):
        process.ask("check", "test-severity", "unit", {"source_id": [1], "rent": [1.0]}, "GET /units")


def test_a_gate_process_that_ends_is_a_retriable_stop_and_the_next_use_starts_another():
    first = gate_process()
    first.ask("open", "test-restart", {"unit": ("suites/unit.json", SUITE)})
    os.kill(first.pid, signal.SIGKILL)

    with pytest.raises(QualityGateStopped, match=rf"pid {first.pid}\) ended before it answered .* run the sync again"):
        first.ask("check", "test-restart", "unit", {"source_id": [1], "building_source_id": [2], "rent": [1.0]}, "GET /units")

    second = gate_process()
    assert second is not first and second.alive()
    second.ask("open", "test-restart", {"unit": ("suites/unit.json", SUITE)})
    assert second.ask("check", "test-restart", "unit", {"source_id": [1], "building_source_id": [None], "rent": [1.0]},
                      "GET /units") == ({0: ["expect_column_values_to_not_be_null(building_source_id)"]}, {})
