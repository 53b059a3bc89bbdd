"""Every expectation rests on the vendor's spec or states its business rule; closed value sets only on spec enums."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.unit.openapi_strategies import enum_of, spec_schemas

EXPECTATIONS = Path(__file__).resolve().parents[2] / "expectations"
ENUM_META = re.compile(r"^(\w+)\.(\w+) enum$")


def suites() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted(EXPECTATIONS.glob("*.json"))}


def test_every_expectation_names_the_spec_field_or_the_business_rule_it_rests_on():
    for name, suite in suites().items():
        for expectation in suite["expectations"]:
            meta = expectation.get("meta") or {}
            assert meta.get("spec") or meta.get("rule"), f"{name}: {expectation['type']} {expectation['kwargs']}"
            assert meta.get("severity", "error") in ("error", "warning"), name
            for schema_field in re.findall(r"\b([A-Z]\w+)\.(\w+)", meta.get("spec", "")):
                schema, field = schema_field
                assert field in spec_schemas()[schema]["properties"], f"{name}: the spec has no {schema}.{field}"


def test_a_closed_value_set_is_exactly_an_enum_the_spec_declares():
    closed = 0
    for name, suite in suites().items():
        for expectation in suite["expectations"]:
            if expectation["type"] != "expect_column_values_to_be_in_set":
                continue
            closed += 1
            named = ENUM_META.match(expectation.get("meta", {}).get("spec", ""))
            assert named, f"{name}: value set on {expectation['kwargs']['column']} names no spec enum"
            assert sorted(expectation["kwargs"]["value_set"]) == sorted(enum_of(*named.groups()) or []), name
    assert closed == 2


def test_clock_skew_only_warns():
    for name, suite in suites().items():
        (skew,) = [e for e in suite["expectations"] if e["kwargs"].get("column") == "modified_seconds_ahead"]
        assert skew["meta"]["severity"] == "warning", name
