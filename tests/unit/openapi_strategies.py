"""Hypothesis strategies built from the vendor's OpenAPI schemas: any record the spec allows, as JSON on the wire."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

SPEC_PATH = Path(__file__).resolve().parents[1] / "contract" / "propertyware-openapi.json"
INT_RANGES = {"int64": (-(2**63), 2**63 - 1), "int32": (-(2**31), 2**31 - 1)}
NESTING = 2
"""How deep nested objects are generated; deeper optional objects are left out (the models do not read them)."""


@cache
def spec_schemas() -> dict[str, dict]:
    return json.loads(SPEC_PATH.read_text())["components"]["schemas"]


def enum_of(schema_name: str, field: str) -> list[str] | None:
    """The enum the spec declares for a field of a component schema, or None for a free value."""
    return spec_schemas()[schema_name]["properties"].get(field, {}).get("enum")


def texts() -> st.SearchStrategy[str]:
    """Any text: short and arbitrary (NUL, control characters, any script, mixed case) or long (up to 2,000)."""
    return st.one_of(st.text(), long_texts(256, 2_000))


def long_texts(shortest: int, longest: int) -> st.SearchStrategy[str]:
    """Text of any length from `shortest` to `longest`: an arbitrary piece of up to 40 characters repeated to it. Drawn
    character by character, a page of records with long fields outgrew Hypothesis's budget for one example: ten
    invalid draws or more were made, and thrown away, for each example a test saw."""
    return st.builds(lambda piece, size: (piece * (size // len(piece) + 1))[:size],
                     st.text(min_size=1, max_size=40), st.integers(shortest, longest))


def moments() -> st.SearchStrategy[str]:
    """RFC 3339 date-times, years 1 to 9999 (the ends drawn often): naive (read as UTC by the models), UTC, or any
    whole-minute offset."""
    offsets = st.none() | st.integers(-18 * 60, 18 * 60).map(lambda m: timezone(timedelta(minutes=m)))
    return st.builds(
        lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
        st.datetimes() | st.sampled_from([datetime.min, datetime.max]),
        offsets,
    )


def value_of(schema: dict, depth: int = 0) -> st.SearchStrategy[Any]:
    """A strategy for one schema node: type, format, enum, items and $ref as the spec states them."""
    if "$ref" in schema:
        return object_of(schema["$ref"].rsplit("/", 1)[-1], depth + 1)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind, form = schema.get("type"), schema.get("format")
    if kind == "string":
        if form == "date":
            return st.dates(min_value=date(1, 1, 1)).map(date.isoformat)
        if form == "date-time":
            return moments()
        return texts()
    if kind == "integer":
        low, high = INT_RANGES.get(form, INT_RANGES["int64"])
        return st.integers(low, high)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False, width=32 if form == "float" else 64)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(value_of(schema.get("items", {}), depth), max_size=3)
    if kind == "object" and "additionalProperties" in schema:
        return st.dictionaries(st.text(max_size=10), value_of(schema["additionalProperties"], depth), max_size=2)
    return st.just({})


def object_of(name: str, depth: int = 0, *, always: tuple[str, ...] = ()) -> st.SearchStrategy[dict]:
    """A record of component schema `name`: its required fields and `always` present, others present or absent
    (nested objects beyond NESTING absent)."""
    schema = spec_schemas()[name]
    properties = schema.get("properties", {})
    required = set(schema.get("required", ())) | set(always)
    optional = {
        field: value_of(node, depth)
        for field, node in properties.items()
        if field not in required and not (depth >= NESTING and _nests(node))
    }
    return st.fixed_dictionaries(
        {field: value_of(properties[field], depth) for field in sorted(required)}, optional=optional
    )


def _nests(node: dict) -> bool:
    return "$ref" in node or node.get("type") == "array" and "$ref" in node.get("items", {})


def lease_with_contacts() -> st.SearchStrategy[dict]:
    """A Lease whose contacts each carry their id (the resident's key, like a record's id)."""
    contacts = st.lists(object_of("LeaseContact", 1, always=("id",)), max_size=4)
    return st.builds(lambda lease, people: {**lease, "contacts": people}, object_of("Lease", always=("id",)), contacts)


def records_of(schema_name: str) -> st.SearchStrategy[dict]:
    """One listed record of a stream: the id always present (it is the listing key)."""
    if schema_name == "Lease":
        return lease_with_contacts()
    return object_of(schema_name, always=("id",))


def on_the_wire(record: dict) -> dict:
    """The record as the client reads it: JSON-encoded and decoded, as over HTTP."""
    return json.loads(json.dumps(record))


def response_header(path: str, header: str) -> st.SearchStrategy[Any]:
    """A value of a header the spec declares on a GET's 200 answer (X-Total-Count: any int64, negatives included)."""
    paths = json.loads(SPEC_PATH.read_text())["paths"]
    return value_of(paths[path]["get"]["responses"]["200"]["headers"][header]["schema"])
