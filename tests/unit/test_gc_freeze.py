"""Once the quality gate has opened its suites, the process's long-lived objects leave the cycle collector's view, once
(Great Expectations' own, in the gate's process, there)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_first_gate_to_open_freezes_what_is_alive_and_a_second_does_not_again():
    script = """
import gc
from datetime import datetime, timezone
from pathlib import Path
from pmsync.sync.rules import PROPERTYWARE_RULES
from pmsync.source import SourcePage
from pmsync.sync.gate import QualityGate, check_pages
from schemas.records import UnitRecord
raw = [{"id": 7, "buildingID": 3, "name": "1A"}, {"id": 8, "buildingID": None, "name": "1B"}]
page = SourcePage("units", "GET /units", [UnitRecord.model_validate(r) for r in raw], raw, 2, None)
assert gc.get_freeze_count() == 0
counts = []
for _ in range(2):
    gate = QualityGate(Path("expectations"), PROPERTYWARE_RULES.entities(), 0.9)
    [checked] = check_pages(gate, PROPERTYWARE_RULES.stream("units"), [page], datetime.now(timezone.utc))
    assert [c.source_id for c in checked.candidates["unit"]] == [7] and len(checked.failures) == 1, checked
    counts.append(gc.get_freeze_count())
    assert counts[-1] > 50_000, counts  # pmsync's, pydantic's and SQLAlchemy's objects (GX's are in the gate's process)
    kept = [[n] for n in range(50_000)]  # alive, cyclic-collectable: would be frozen by a second freeze
print(0 <= counts[0] - counts[1] < 1_000, counts)  # frozen ones may be freed since; a second freeze would add the 50,000 kept
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ran = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().startswith("True"), ran.stdout
