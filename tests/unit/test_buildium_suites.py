"""Buildium's quality suites (expectations/buildium), run through pmsync's own QualityGate on pages of candidates
generated from the spec: what the spec declares never quarantines a record it allows; the platform's limits and the
business rules quarantine exactly the records that break them; closed value sets are exactly the spec's enums."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pmsync.sync.gate import QualityGate
from schemas.entity_rows import addressed
from schemas.records import Candidate
from tests.unit.buildium_strategies import LISTS, enum_of, on_the_wire, page_of, spec_schemas
from tests.unit.test_buildium_records import MODELS

SUITES = Path(__file__).resolve().parents[2] / "expectations" / "buildium"
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
FED_BY = {
    "property": ["RentalMessage", "AssociationMessage"],
    "unit": ["RentalUnitMessage", "AssociationUnitMessage"],
    "lease": ["LeaseMessage"],
    "resident": ["LeaseMessage", "AssociationOwnerMessage"],
    "work_order": ["WorkOrderMessage"],
    "owner": ["RentalOwnerMessage"],
    "service_provider": ["VendorMessage"],
    "ownership_account": ["AssociationOwnershipAccountMessage"],
    "lease_balance": ["LeaseOutstandingBalanceMessage"],
    "ownership_account_balance": ["OwnershipAccountOutstandingBalanceMessage"],
    "association": ["AssociationMessage"],
    "association_unit": ["AssociationUnitMessage"],
    "association_owner": ["AssociationOwnerMessage"],
}
"""Each Buildium-fed entity and the listed schemas whose records become its candidates."""
CLOSED_SETS = {
    "property": {"address_country": "AddressMessage.Country"},
    "unit": {"address_country": "AddressMessage.Country"},
    "association": {"address_country": "AddressMessage.Country"},
    "association_unit": {"address_country": "AddressMessage.Country"},
    "lease": {"status": "LeaseMessage.LeaseStatus"},
    "work_order": {"priority": "WorkOrderMessage.Priority", "status": "WorkOrderMessage.Status",
                   "type": "WorkOrderTaskMessage.Type"},
    "ownership_account": {"status": "AssociationOwnershipAccountMessage.Status",
                          "delinquency_status": "AssociationOwnershipAccountMessage.DelinquencyStatus"},
}
"""Every candidate column filled from a field the spec declares an `enum` for."""
ENUM_META = re.compile(r"^(\w+)\.(\w+) enum$")
SPEC_FIELD = re.compile(r"\b([A-Z]\w+Message)\.(\w+)")
PAGES = settings(
    max_examples=12, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Each example runs Great Expectations (about a second): a failing page is shown as drawn, not shrunk (shrinking
pages of records through GX takes many minutes of a shared machine)."""


def suites() -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(SUITES.glob("*.json"))}


@pytest.fixture(scope="module")
def gate() -> QualityGate:
    return QualityGate(SUITES, list(FED_BY), max_failure_share=1.0)


def label(expectation: dict) -> str:
    kwargs = expectation["kwargs"]
    columns = kwargs.get("column") or ",".join(kwargs.get("column_list") or [kwargs["column_A"], kwargs["column_B"]])
    return f"{expectation['type']}({columns})"


def cell(candidate: Candidate, column: str) -> Any:
    """The candidate's value in the gate's frame: its source id, a parent's source id, or one of its columns."""
    if column == "source_id":
        return candidate.source_id
    if column == "modified_seconds_ahead":
        moment = candidate.columns.get("source_modified_at")
        return (moment - NOW).total_seconds() if moment else None
    parent = column.removesuffix("_source_id")
    if column.endswith("_source_id") and parent in candidate.parents:
        return candidate.parents[parent]
    return candidate.columns.get(column)


def breakers(expectation: dict, candidates: list[Candidate]) -> set[int]:
    """The rows (positions) that break the expectation, computed here without Great Expectations."""
    kind, kwargs = expectation["type"], expectation["kwargs"]
    if kind == "expect_compound_columns_to_be_unique":
        keys = [tuple(cell(c, column) for column in kwargs["column_list"]) for c in candidates]
        seen = Counter(keys)
        return {row for row, key in enumerate(keys) if seen[key] > 1}
    if kind == "expect_column_values_to_be_unique":
        seen = Counter(cell(c, kwargs["column"]) for c in candidates)
        return {row for row, c in enumerate(candidates) if seen[cell(c, kwargs["column"])] > 1}
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        pairs = [(cell(c, kwargs["column_A"]), cell(c, kwargs["column_B"])) for c in candidates]
        return {row for row, (a, b) in enumerate(pairs) if a is not None and b is not None and a < b}
    values = [cell(c, kwargs["column"]) for c in candidates]
    if kind == "expect_column_values_to_not_be_null":
        return {row for row, value in enumerate(values) if value is None}
    present = [(row, value) for row, value in enumerate(values) if value is not None]
    if kind == "expect_column_values_to_be_in_set":
        return {row for row, value in present if value not in kwargs["value_set"]}
    if kind == "expect_column_value_lengths_to_be_between":
        return {row for row, value in present if len(value) > kwargs["max_value"]}
    if kind == "expect_column_values_to_match_regex":
        return {row for row, value in present if re.search(kwargs["regex"], value) is None}
    if kind == "expect_column_values_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        return {row for row, value in present if (low is not None and value < low) or (high is not None and value > high)}
    raise AssertionError(f"no independent check for {kind}")


def candidates_of(entity: str, schema_name: str, page: list[dict]) -> list[Candidate]:
    model = MODELS[schema_name][0]
    found = []
    for raw in page:
        try:
            record = model.model_validate(raw)
        except pydantic.ValidationError:
            continue  # money beyond NUMERIC(14,2): the model refuses it (test_buildium_records)
        made = record.candidates(raw)
        found.extend(c for c, named in zip(made, addressed(made)) if entity in (c.entity, named.entity))
    return found


@pytest.mark.parametrize(("entity", "schema_name"), [(e, s) for e, names in FED_BY.items() for s in names])
@PAGES
@given(data=st.data())
def test_the_gate_quarantines_exactly_the_records_that_break_a_limit_or_rule_never_what_the_spec_allows(
    gate, entity, schema_name, data
):
    page = on_the_wire(data.draw(page_of(schema_name, max_size=15)))
    candidates = candidates_of(entity, schema_name, page)
    ((passed, failures, warnings),) = gate.check(entity, [(candidates, f"GET {schema_name} page")], NOW)
    errors: dict[int, set[str]] = {}
    notes: dict[int, set[str]] = {}
    for expectation in suites()[entity]["expectations"]:
        rows = breakers(expectation, candidates)
        basis, severity = expectation["meta"]["basis"], expectation["meta"].get("severity", "error")
        if basis == "spec":
            assert not rows, f"{label(expectation)} refuses what the spec allows: {[candidates[r].columns for r in rows]}"
        for row in rows:
            (notes if severity == "warning" else errors).setdefault(row, set()).add(label(expectation))
    quarantined = Counter((str(candidates[row].source_id), frozenset(errors[row] | notes.get(row, set()))) for row in errors)
    warned = Counter((str(candidates[row].source_id), frozenset(notes[row])) for row in notes if row not in errors)
    assert Counter((failure.source_id, frozenset(failure.expectations)) for failure in failures) == quarantined
    assert Counter((warning.source_id, frozenset(warning.expectations)) for warning in warnings) == warned
    assert len(passed) == len(candidates) - len(errors)


def test_every_buildium_fed_entity_has_a_suite_the_gate_builds(gate):
    assert set(suites()) == set(FED_BY)
    for entity, schema_names in FED_BY.items():
        for schema_name in schema_names:
            tenants = {"Tenants": [{"Id": 2, "Status": "Current"}]} if schema_name == "LeaseMessage" else {}
            candidates = candidates_of(entity, schema_name, [{LISTS[schema_name]: 1, **tenants}])
            ((passed, failures, _),) = gate.check(entity, [(candidates, f"GET {schema_name}")], NOW)
            assert len(passed) == len(candidates) >= 1 and not failures, (entity, schema_name)


def test_a_closed_value_set_is_exactly_the_enum_the_spec_declares():
    used = {}
    for entity, suite in suites().items():
        for expectation in suite["expectations"]:
            if expectation["type"] != "expect_column_values_to_be_in_set":
                continue
            named = ENUM_META.match(expectation["meta"]["spec"])
            assert named, f"{entity}: the value set on {expectation['kwargs']['column']} names no spec enum"
            assert expectation["kwargs"]["value_set"] == enum_of(*named.groups()), f"{entity}: {named.group(0)}"
            used.setdefault(entity, {})[expectation["kwargs"]["column"]] = ".".join(named.groups())
    assert used == CLOSED_SETS


def test_every_expectation_names_spec_fields_that_exist_and_says_its_basis():
    for entity, suite in suites().items():
        assert suite["meta"]["entity"] == entity
        for expectation in suite["expectations"]:
            meta = expectation["meta"]
            assert meta["basis"] in ("spec", "platform", "business"), entity
            assert meta["basis"] == "spec" or meta.get("rule"), f"{entity}: {label(expectation)} states no rule"
            assert meta.get("severity", "error") in ("error", "warning")
            fields = SPEC_FIELD.findall(meta["spec"])
            assert fields, f"{entity}: {label(expectation)} names no spec field"
            for schema, field in fields:
                assert field in spec_schemas()[schema]["properties"], f"{entity}: the spec has no {schema}.{field}"
