"""Fixtures for the sandbox contract tests: the vendor's OpenAPI document, validators and auth headers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry
from referencing.jsonschema import DRAFT4

from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID

SPEC_URI = "urn:propertyware:openapi"
SPEC_NAME = "propertyware-openapi.json"


def spec_path() -> Path:
    """The vendor's own OpenAPI document, kept in the repository beside these tests (public reference data)."""
    return Path(__file__).resolve().with_name(SPEC_NAME)


def pointer(*parts: str) -> str:
    return "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


class SpecValidators:
    """Validators for parts of the vendor spec, with #/components/... refs resolved over the whole document."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.registry = Registry().with_resource(SPEC_URI, DRAFT4.create_resource(spec))

    def resolve(self, ref: str) -> dict:
        node = self.spec
        for part in ref.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def response_schema_ref(self, path: str, status: str = "200", method: str = "get") -> str:
        ref = pointer("paths", path, method, "responses", status, "content", "application/json", "schema")
        try:
            self.resolve(ref)
        except KeyError:
            pytest.fail(f"the vendor spec has no {status} application/json schema for {method.upper()} {path}")
        return ref

    def validator(self, ref: str) -> OAS30Validator:
        return OAS30Validator({"$ref": SPEC_URI + ref}, registry=self.registry, format_checker=oas30_format_checker)

    def errors(self, ref: str, instance: object) -> list[str]:
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in self.validator(ref).iter_errors(instance)]


@pytest.fixture(scope="session")
def vendor_spec() -> SpecValidators:
    return SpecValidators(json.loads(spec_path().read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def auth_headers() -> dict[str, str]:
    return {"x-propertyware-client-id": SANDBOX_CLIENT_ID, "x-propertyware-client-secret": SANDBOX_CLIENT_SECRET,
            "x-propertyware-system-id": SANDBOX_SYSTEM_ID}
