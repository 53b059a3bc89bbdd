"""The quality gate on batches of several pages: verdicts per page, the failure-share stop, suites that cannot name
rows, the background warm-up, and Great Expectations left unloaded while no page brings records."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pydantic
import pytest

from pmsync.sync.rules import PROPERTYWARE_RULES
from pmsync.source import SourcePage
from pmsync.sync.changes import SKIPPED_COUNTS
from pmsync.sync.gate import DataQualityError, QualityGate, check_pages
from pmsync.sync.gate_frame import candidate_frame, columns_read
from pmsync.sync.gate_process import GateProcess
from sandbox import generate_portfolio
from schemas.records import LeaseRecord, is_storable

ROOT = Path(__file__).resolve().parents[2]
EXPECTATIONS = ROOT / "expectations"
ANCHOR = datetime(2026, 11, 1, tzinfo=timezone.utc)
NOW = ANCHOR + timedelta(days=1)
NOT_NULL_PARENT = "expect_column_values_to_not_be_null(property_source_id)"
UNIQUE_ID = "expect_column_values_to_be_unique(source_id)"
CLOCK_SKEW = "expect_column_values_to_be_between(modified_seconds_ahead)"
AHEAD = (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def portfolio() -> dict[str, list[dict]]:
    return generate_portfolio(150, seed=3, anchor=ANCHOR)


@pytest.fixture(scope="module")
def gate() -> QualityGate:
    return QualityGate(EXPECTATIONS, PROPERTYWARE_RULES.entities(), 0.2)


def source_pages(stream_name: str, pages: list[list[dict]]) -> list[SourcePage]:
    """Pages as the client hands them over: records parsed into the stream's model, and the raw JSON beside them."""
    stream = PROPERTYWARE_RULES.stream(stream_name)
    adapter = pydantic.TypeAdapter(list[stream.record])
    return [
        SourcePage(stream_name, f"GET /{stream_name} page {number}", adapter.validate_python(raw), raw, len(raw), None)
        for number, raw in enumerate(pages)
    ]


def unit_pages(portfolio: dict[str, list[dict]], pages: int = 3, size: int = 20) -> list[list[dict]]:
    units = copy.deepcopy(portfolio["units"][: pages * size])
    return [units[start : start + size] for start in range(0, pages * size, size)]


def verdicts(checked) -> list[tuple[dict[str, list[str]], dict[str, list[str]], int]]:
    """Per page: quarantined source id → expectations, warned source id → expectations, how many load."""
    return [
        ({f.source_id: f.expectations for f in page.failures}, {w.source_id: w.expectations for w in page.warnings},
         sum(len(passed) for passed in page.candidates.values()))
        for page in checked
    ]


def test_a_batch_of_pages_is_judged_as_one_frame_and_its_verdicts_land_on_their_pages(gate, portfolio):
    pages = unit_pages(portfolio)
    pages[0][2]["buildingID"] = None
    pages[1][5]["id"] = pages[0][0]["id"]
    pages[2][7]["lastModifiedDateTime"] = AHEAD
    pages[2][9].update(buildingID=None, lastModifiedDateTime=AHEAD)

    checked = check_pages(gate, PROPERTYWARE_RULES.stream("units"), source_pages("units", pages), NOW)

    twin = str(pages[0][0]["id"])
    assert verdicts(checked) == [
        ({str(pages[0][2]["id"]): [NOT_NULL_PARENT], twin: [UNIQUE_ID]}, {}, 18),
        ({twin: [UNIQUE_ID]}, {}, 19),
        ({str(pages[2][9]["id"]): sorted([NOT_NULL_PARENT, CLOCK_SKEW])}, {str(pages[2][7]["id"]): [CLOCK_SKEW]}, 19),
    ]
    loaded = [c.source_id for c in checked[2].candidates["unit"]]
    assert pages[2][7]["id"] in loaded and pages[2][9]["id"] not in loaded
    assert checked[2].clean_source_ids("unit") == [str(i) for i in loaded if i != pages[2][7]["id"]]


def test_leases_and_their_residents_are_judged_per_entity_across_pages(gate, portfolio):
    leases = copy.deepcopy([lease for lease in portfolio["leases"] if lease["contacts"]][:30])
    backwards, bad_mail = leases[12], leases[25]
    backwards.update(startDate="2025-06-01", endDate="2024-06-01")
    bad_mail["contacts"][0]["email"] = "mail@@x"

    checked = check_pages(gate, PROPERTYWARE_RULES.stream("leases"), source_pages("leases", [leases[:15], leases[15:]]), NOW)

    held = [{(f.entity, f.source_id): f.expectations for f in page.failures} for page in checked]
    assert held == [
        {("lease", str(backwards["id"])): ["expect_column_pair_values_a_to_be_greater_than_b(end_date,start_date)"]},
        {("resident", str(bad_mail["contacts"][0]["id"])): ["expect_column_values_to_match_regex(email)"]},
    ]
    assert [len(page.candidates["lease"]) for page in checked] == [14, 15]
    residents = sum(len(lease["contacts"]) for lease in leases)
    assert sum(len(page.candidates["resident"]) for page in checked) == residents - 1


def test_a_page_over_the_failure_share_stops_the_batch_naming_its_request(gate, portfolio):
    pages = unit_pages(portfolio)
    for unit in pages[1][:5]:
        unit["buildingID"] = None

    with pytest.raises(DataQualityError, match=r"^unit: 5 of 20 records \(25%\) failed data-quality checks.*"
                                               r"not_be_null\(property_source_id\) ×5 \[GET /units page 1\]$") as stopped:
        check_pages(gate, PROPERTYWARE_RULES.stream("units"), source_pages("units", pages), NOW)
    assert stopped.value.facts == {"entity": "unit", "failed": 5, "checked": 20}, "what the quality-stop event carries"


def test_the_failure_share_counts_the_records_left_unchecked_as_unchanged(gate, portfolio):
    """A delta re-checks the records that failed before (their hash was cleared) and skips the unchanged rest: the
    share that stops the run is of the whole page, so the old failures alone do not stop it."""
    pages = unit_pages(portfolio, pages=1)
    for unit in pages[0][:5]:
        unit["buildingID"] = None
    checked_alone = source_pages("units", pages)
    skipped_beside = [replace(page, extra={SKIPPED_COUNTS: {"unit": Counter(fetched=40, unchanged=40)}})
                      for page in source_pages("units", pages)]

    with pytest.raises(DataQualityError, match=r"^unit: 5 of 20 records \(25%\)"):
        check_pages(gate, PROPERTYWARE_RULES.stream("units"), checked_alone, NOW)
    checked = check_pages(gate, PROPERTYWARE_RULES.stream("units"), skipped_beside, NOW)

    assert sorted(f.source_id for f in checked[0].failures) == sorted(str(unit["id"]) for unit in pages[0][:5])
    assert len(checked[0].candidates["unit"]) == 15


def suites_with(tmp_path: Path, entity: str, *expectations: dict) -> Path:
    """A copy of expectations/ with the entity's suite extended."""
    suites = tmp_path / "expectations"
    shutil.copytree(EXPECTATIONS, suites)
    suite = json.loads((suites / f"{entity}.json").read_text())
    suite["expectations"].extend(expectations)
    (suites / f"{entity}.json").write_text(json.dumps(suite))
    return suites


@pytest.mark.parametrize("expectation, detail", [
    ({"type": "expect_table_row_count_to_be_between", "kwargs": {"max_value": 5}}, "it applies to the whole batch"),
    ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "no_such_column"}}, "no_such_column"),
])
def test_an_expectation_that_cannot_name_failing_rows_stops_the_batch(portfolio, tmp_path, expectation, detail):
    gate = QualityGate(suites_with(tmp_path, "unit", expectation), ["unit"], 0.2)

    with pytest.raises(DataQualityError, match=rf"^unit: expectation {expectation['type']}.* could not be evaluated "
                                               rf"row by row \(.*{detail}.*\) \[GET /units page 0\]"):
        check_pages(gate, PROPERTYWARE_RULES.stream("units"), source_pages("units", unit_pages(portfolio)), NOW)


def test_warm_up_loads_in_the_background_and_check_gives_the_same_verdicts(gate, portfolio, monkeypatch):
    pages = unit_pages(portfolio)
    pages[1][3]["buildingID"] = None
    pages[2][4]["lastModifiedDateTime"] = AHEAD
    warmed = QualityGate(EXPECTATIONS, ["property", "unit"], 0.2)
    loading, released, loads = threading.Event(), threading.Event(), []
    caller = threading.current_thread()
    ask = GateProcess.ask

    def held_ask(process, *request):
        """The gate process's own `ask`, its `open` held until the test lets the load go on: notes the thread
        opening, and whether the test let it go on (never, when the open runs in the test's own thread: warm_up would
        have held it up). The wait is long because a loaded CI machine may not run the test's thread for seconds."""
        if request[0] == "open" and set(request[2]) == {"property", "unit"}:  # this test's gate, no other's
            loading.set()
            in_background = threading.current_thread() is not caller
            loads.append((threading.current_thread().name, in_background and released.wait(timeout=120)))
        return ask(process, *request)

    monkeypatch.setattr(GateProcess, "ask", held_ask)

    warmed.warm_up()
    warmed.warm_up()
    assert loading.wait(timeout=30), "warm_up started no load"
    released.set()
    checked = check_pages(warmed, PROPERTYWARE_RULES.stream("units"), source_pages("units", pages), NOW)

    assert loads == [("pmsync-quality-gate-warm-up", True)], "one load, in the background, while warm_up had returned"
    expected = check_pages(gate, PROPERTYWARE_RULES.stream("units"), source_pages("units", pages), NOW)
    assert verdicts(checked) == verdicts(expected)
    assert verdicts(checked)[1][0] == {str(pages[1][3]["id"]): [NOT_NULL_PARENT]}
    assert verdicts(checked)[2][1] == {str(pages[2][4]["id"]): [CLOCK_SKEW]}


@pytest.mark.parametrize("warm", [True, False], ids=["warmed-up", "loaded-on-first-check"])
@pytest.mark.parametrize("expectation, problem", [
    ({"type": "expect_column_values_to_be_betwen", "kwargs": {"column": "source_id"}},
     r"only 4 of 5 expectations are valid"),
    ({"type": "expect_column_values_to_not_be_null", "kwargs": {"colum": "source_id"}}, r"the suite cannot be built"),
])
def test_a_broken_suite_stops_the_first_check_with_its_file_named(portfolio, tmp_path, warm, expectation, problem):
    suites = suites_with(tmp_path, "unit", expectation)
    gate = QualityGate(suites, ["property", "unit"], 0.2)
    if warm:
        gate.warm_up()
    pages = source_pages("units", unit_pages(portfolio, pages=1))

    for _ in range(2):
        with pytest.raises(DataQualityError, match=rf"^{suites / 'unit.json'}: {problem}"):
            check_pages(gate, PROPERTYWARE_RULES.stream("units"), pages, NOW)


def test_pages_without_records_or_with_only_known_ones_load_neither_great_expectations_nor_pandas():
    """Known records (KNOWN_ROWS: already on the platform as they are) pass unchecked, a broken one too."""
    script = """
import sys
from datetime import datetime, timezone
from pathlib import Path
from pmsync.sync.rules import PROPERTYWARE_RULES
from pmsync.source import SourcePage
from pmsync.sync.changes import KNOWN_ROWS
from pmsync.sync.gate import QualityGate, check_pages
from schemas.records import UnitRecord
gate = QualityGate(Path("expectations"), PROPERTYWARE_RULES.entities(), 0.2)
for name in ("units", "leases"):
    empty = [SourcePage(name, f"GET /{name}", [], [], 0, None) for _ in range(3)]
    checked = check_pages(gate, PROPERTYWARE_RULES.stream(name), empty, datetime.now(timezone.utc))
    assert all(not page.failures and not any(page.candidates.values()) for page in checked)
raw = [{"id": 7, "buildingID": None, "name": "1A"}, {"id": 8, "buildingID": 3, "name": "1B"}]
known = SourcePage("units", "GET /units", [UnitRecord.model_validate(r) for r in raw], raw, 2, None, extra={KNOWN_ROWS: {7, 8}})
[checked] = check_pages(gate, PROPERTYWARE_RULES.stream("units"), [known], datetime.now(timezone.utc))
assert [c.source_id for c in checked.candidates["unit"]] == [7, 8] and not checked.failures, checked
print(sorted(m for m in ("great_expectations", "pandas") if m in sys.modules))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ran = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"


@pytest.mark.parametrize("stream_name", ["buildings", "units", "leases", "workorders", "charges", "payments"])
def test_the_frame_built_column_by_column_is_the_frame_built_row_by_row(portfolio, stream_name):
    (page,) = source_pages(stream_name, [portfolio[stream_name][:300]])
    candidates = [c for record, raw in zip(page.records, page.raw) for c in record.candidates(raw)]
    for entity in PROPERTYWARE_RULES.stream(stream_name).entities:
        mine = [c for c in candidates if c.entity == entity]
        rows = []
        for candidate in mine:
            row = {"source_id": candidate.source_id}
            row.update({k: float(v) if isinstance(v, Decimal) else v for k, v in candidate.columns.items() if k != "source_data"})
            row.update({f"{parent}_source_id": source_id for parent, source_id in candidate.parents.items()})
            modified = candidate.columns.get("source_modified_at")
            row["modified_seconds_ahead"] = (modified - NOW).total_seconds() if modified else None
            rows.append(row)
        expected = pd.DataFrame(rows)

        pd.testing.assert_frame_equal(candidate_frame(mine, NOW), expected)
        read = columns_read(json.loads((EXPECTATIONS / f"{entity}.json").read_text())["expectations"])
        narrow = candidate_frame(mine, NOW, read)
        assert set(narrow.columns) == read & set(expected.columns) and "modified_seconds_ahead" in narrow.columns
        pd.testing.assert_frame_equal(narrow, expected[list(narrow.columns)])


def test_candidates_clean_only_records_that_need_it(portfolio):
    lease = copy.deepcopy(next(lease for lease in portfolio["leases"] if lease["contacts"]))
    plain = LeaseRecord.model_validate(lease).candidates(lease)
    assert plain[0].columns["source_data"] is lease and plain[0].payload is lease
    odd = copy.deepcopy(lease)
    odd["leaseName"] = "Null\x00Byte"
    odd["contacts"][0]["firstName"] = "half \ud83d"

    found = LeaseRecord.model_validate(odd).candidates(odd)

    assert not is_storable(odd) and not is_storable([lease, odd]) and is_storable([lease, lease])
    assert found[0].columns["name"] == "NullByte"
    assert found[0].columns["source_data"]["contacts"][0]["firstName"] == "half \ufffd"
    assert found[1].columns["first_name"] == "half \ufffd" and found[1].payload["leaseName"] == "NullByte"
    assert [c.columns for c in plain] != [c.columns for c in found]
