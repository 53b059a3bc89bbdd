"""Hypothesis strategies built from Buildium's OpenAPI schemas: any record its spec allows, as JSON on the wire, and
records with one field of the wrong shape."""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from tests.unit.openapi_strategies import moments

SPEC_PATH = Path(__file__).resolve().parents[1] / "contract" / "buildium-openapi.json"
INT32 = (-(2**31), 2**31 - 1)
INT32_EDGES = [INT32[0], INT32[0] + 1, -1, 0, 1, INT32[1] - 1, INT32[1]]
NESTING = 3
"""How deep nested objects are generated (a work order's Task's Property is at depth 2)."""
MONEY_REACH = 10**12
"""Most generated doubles stay within what NUMERIC(14,2) holds; some go far beyond (the models refuse those)."""

LISTS = {
    "RentalMessage": "Id",
    "RentalUnitMessage": "Id",
    "LeaseMessage": "Id",
    "WorkOrderMessage": "Id",
    "RentalOwnerMessage": "Id",
    "VendorMessage": "Id",
    "AssociationMessage": "Id",
    "AssociationUnitMessage": "Id",
    "AssociationOwnershipAccountMessage": "Id",
    "AssociationOwnerMessage": "Id",
    "LeaseOutstandingBalanceMessage": "LeaseId",
    "OwnershipAccountOutstandingBalanceMessage": "OwnershipAccountId",
}
"""Each listed schema (the item of a GET list's 200 answer) and its key, always present."""
NESTED_KEYS = {"LeaseTenantMessage": ("Id",)}
"""Nested objects whose id keys a candidate of their own (a lease's tenant): present, as a record's key is."""


@cache
def spec() -> dict:
    return json.loads(SPEC_PATH.read_text())


def spec_schemas() -> dict[str, dict]:
    return spec()["components"]["schemas"]


def enum_of(schema_name: str, field: str) -> list[str] | None:
    return spec_schemas()[schema_name]["properties"].get(field, {}).get("enum")


def texts() -> st.SearchStrategy[str]:
    """Any text: empty, short and arbitrary (NUL, control characters, any script), long (up to 1,000)."""
    return st.one_of(st.just(""), st.text(), st.text(min_size=200, max_size=1_000))


def int32s() -> st.SearchStrategy[int]:
    return st.sampled_from(INT32_EDGES) | st.integers(*INT32)


def doubles() -> st.SearchStrategy[float]:
    near = st.floats(-MONEY_REACH, MONEY_REACH, allow_nan=False, allow_infinity=False)
    return near | st.sampled_from([0.0, -0.0, 0.005, -0.01]) | st.floats(allow_nan=False, allow_infinity=False)


def value_of(node: dict, depth: int = 0) -> st.SearchStrategy[Any]:
    """One schema node: $ref / allOf, enum, type and format as the spec states them; null where it is nullable."""
    strategy = _value_of(node, depth)
    return st.none() | strategy if node.get("nullable") else strategy


def _value_of(node: dict, depth: int) -> st.SearchStrategy[Any]:
    reference = node.get("$ref") or next((part["$ref"] for part in node.get("allOf", []) if "$ref" in part), None)
    if reference:
        return object_of(reference.rsplit("/", 1)[-1], depth + 1)
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind, form = node.get("type"), node.get("format")
    if kind == "string":
        if form == "date":
            return st.dates(min_value=date(1, 1, 1)).map(date.isoformat)
        if form == "date-time":
            return moments()
        return texts()
    if kind == "integer":
        return int32s() if form == "int32" else st.integers(-(2**63), 2**63 - 1)
    if kind == "number":
        return doubles()
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(value_of(node.get("items", {}), depth), max_size=3)
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return st.dictionaries(st.text(max_size=8), value_of(node["additionalProperties"], depth), max_size=2)
    return st.just({})


def _nests(node: dict) -> bool:
    items = node.get("items", {})
    return "$ref" in node or "allOf" in node or "$ref" in items


def object_of(name: str, depth: int = 0, *, always: tuple[str, ...] = ()) -> st.SearchStrategy[dict]:
    """A `name` object: the fields in `always` (and a nested object's key) present, each other field present or
    absent, and when present any value its node allows, null included for every field the spec leaves optional (it
    declares no field required); nested objects beyond NESTING absent."""
    properties = spec_schemas()[name].get("properties", {})
    present = {*always, *NESTED_KEYS.get(name, ())}
    optional = {
        field: st.none() | value_of(node, depth)
        for field, node in properties.items()
        if field not in present and not (depth >= NESTING and _nests(node))
    }
    return st.fixed_dictionaries({field: value_of(properties[field], depth) for field in sorted(present)},
                                 optional=optional)


def records_of(schema_name: str) -> st.SearchStrategy[dict]:
    """One listed record of `schema_name`, its key present; a work order joined with its task's assignee and property
    (as the client hands it over)."""
    record = object_of(schema_name, always=(LISTS[schema_name],))
    if schema_name != "WorkOrderMessage":
        return record
    task = object_of("AllTasksMessage", 1)
    return st.builds(_joined, record, task)


def _joined(work_order: dict, task: dict) -> dict:
    from pmsync.source.buildium.records import joined_with_task

    return joined_with_task(work_order, task) if isinstance(work_order.get("Task"), dict) else work_order


def page_of(schema_name: str, max_size: int = 25) -> st.SearchStrategy[list[dict]]:
    """A page of a listing: records with distinct keys (the listing key is unique)."""
    key = LISTS[schema_name]
    return st.lists(records_of(schema_name), max_size=max_size, unique_by=lambda record: record[key])


WRONG_SHAPES = {
    "integer": [str(INT32[1]), INT32[1] + 1, INT32[0] - 1, 1.5, True, [], {}],
    "number": ["12.5", True, [], {}, "NaN"],
    "string": [5, 1.5, [], {}],
    "boolean": [[], {}, 2, "perhaps"],
    "array": ["x", 3, {}],
    "object": ["x", 3, [1]],
}


def wrong_value_for(node: dict) -> st.SearchStrategy[Any]:
    """A value the node does not allow: another JSON type, an int32 out of range, a date that is no date."""
    kind = node.get("type") or "object"
    if kind == "string" and node.get("format") in ("date", "date-time"):
        return st.sampled_from(["not a date", "2024-02-30", "", 20240101, *WRONG_SHAPES["string"]])
    return st.sampled_from(WRONG_SHAPES.get(kind, WRONG_SHAPES["object"]))


@st.composite
def broken_records_of(draw: st.DrawFn, schema_name: str) -> tuple[dict, str]:
    """A listed record with one field (possibly its key) given a value of the wrong shape, and that field's name."""
    record = draw(records_of(schema_name))
    properties = spec_schemas()[schema_name]["properties"]
    field = draw(st.sampled_from(sorted(properties)))
    return {**record, field: draw(wrong_value_for(properties[field]))}, field


def on_the_wire(record: Any) -> Any:
    """The value as the client reads it: JSON-encoded and decoded, as over HTTP."""
    return json.loads(json.dumps(record))
