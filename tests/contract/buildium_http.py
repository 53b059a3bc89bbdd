"""Requests to the Buildium sandbox as the contract tests make them: auth headers, paging, error-body checks."""

from __future__ import annotations

import pytest
import requests
from hypothesis import HealthCheck, settings

from sandbox.buildium import ENTITY_PATHS, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from sandbox.buildium.constants import key_field

from .buildium_spec import buildium_spec

AUTH = {"x-buildium-client-id": SANDBOX_CLIENT_ID, "x-buildium-client-secret": SANDBOX_CLIENT_SECRET}
ERROR = "#/components/schemas/ApiErrorResponse"
HTTP_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
"""Hypothesis over HTTP: each example is a request or a few to the module's sandbox."""


@pytest.fixture(scope="module")
def spec():
    """Buildium's spec, its schemas resolved (a test module imports this fixture by name)."""
    return buildium_spec()


@pytest.fixture(scope="module")
def http():
    """A session sending the sandbox's credentials (a test module imports this fixture by name)."""
    with requests.Session() as session:
        session.headers.update(AUTH)
        yield session


def get(http, server, path: str, **params) -> requests.Response:
    return http.get(server.base_url + path, params=params)


def total_of(response: requests.Response) -> int:
    assert "X-Total-Count" in response.headers, f"{response.url} has no X-Total-Count"
    return int(response.headers["X-Total-Count"])


def fetch_all(http, server, entity: str, limit: int, **params) -> tuple[list[dict], set[int]]:
    """Every page of a list sorted on its unique key, and the totals the pages reported."""
    records, totals, offset = [], set(), 0
    while True:
        response = get(http, server, ENTITY_PATHS[entity], limit=limit, offset=offset, orderby=key_field(entity),
                       **params)
        assert response.status_code == 200, response.text
        records += response.json()
        totals.add(total_of(response))
        offset += limit
        if offset >= total_of(response):
            return records, totals


def assert_error_body(spec, response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert spec.errors(ERROR, body) == []
    assert set(body) == {"UserMessage", "ErrorCode", "Errors"} and body["UserMessage"]
    return body
