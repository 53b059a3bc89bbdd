"""Buildium's OpenAPI document (kept beside these tests) and validators of its response schemas, $refs resolved."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry
from referencing.jsonschema import DRAFT4

from .conftest import SpecValidators

SPEC_NAME = "buildium-openapi.json"
BUILDIUM_SPEC_URI = "urn:buildium:openapi"


class BuildiumSpec(SpecValidators):
    """The Propertyware validators over Buildium's document (OpenAPI 3.0: nullable, formats, enums checked)."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.registry = Registry().with_resource(BUILDIUM_SPEC_URI, DRAFT4.create_resource(spec))

    def validator(self, ref: str) -> OAS30Validator:
        return OAS30Validator({"$ref": BUILDIUM_SPEC_URI + ref}, registry=self.registry,
                              format_checker=oas30_format_checker)

    def operation(self, path: str, method: str = "get") -> dict:
        return self.spec["paths"][path][method]

    def query_parameters(self, path: str) -> dict[str, dict]:
        return {p["name"]: p["schema"] for p in self.operation(path).get("parameters", ()) if p["in"] == "query"}


def honouring_nullable(node):
    """The document with `nullable: true` allowing null where the spec writes it beside an `enum` or an `allOf`
    (Buildium's nested objects: "Address": {"nullable": true, "allOf": [{"$ref": ...}]}). OpenAPI 3.0.3 reads
    nullable only beside `type`, which would forbid the null those fields plainly declare."""
    if isinstance(node, list):
        return [honouring_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: honouring_nullable(value) for key, value in node.items()}
    if node.get("nullable") is True:
        if "enum" in node and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        if "type" not in node and ("allOf" in node or "$ref" in node):
            inner = {key: value for key, value in node.items() if key not in ("nullable", "description")}
            return {"anyOf": [inner, {"enum": [None]}]}
    return node


@lru_cache(maxsize=1)
def buildium_spec() -> BuildiumSpec:
    text = Path(__file__).resolve().with_name(SPEC_NAME).read_text(encoding="utf-8")
    return BuildiumSpec(honouring_nullable(json.loads(text)))
