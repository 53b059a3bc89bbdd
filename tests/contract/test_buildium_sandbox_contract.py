"""The Buildium sandbox answers over real HTTP as Buildium's OpenAPI spec says: every list, get and write validated
against the spec's schemas, paging, filters, errors, auth, the query-string limit and the rate limit."""

from __future__ import annotations

import time

import pytest
import requests
from hypothesis import assume, given
from hypothesis import strategies as st

from sandbox.buildium import ENTITY_PATHS, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, BuildiumSandboxServer
from sandbox.buildium.constants import BY_ID_PATHS, key_field

from .buildium_http import (  # noqa: F401 (spec, http: fixtures)
    AUTH, HTTP_SETTINGS, assert_error_body, fetch_all, get, http, spec, total_of,
)



@pytest.fixture(scope="module")
def sandbox():
    with BuildiumSandboxServer(units=47, seed=5, rate_limit=None) as server:
        yield server


def test_every_path_the_sandbox_serves_is_in_the_spec_with_a_200_schema(spec):
    for path in ENTITY_PATHS.values():
        schema = spec.resolve(spec.response_schema_ref(path))
        assert schema["type"] == "array" and "$ref" in schema["items"], path
        assert "X-Total-Count" in spec.operation(path)["responses"]["200"].get("headers", {}), path
        assert {"limit", "offset", "orderby"} <= set(spec.query_parameters(path)), path
    for path in BY_ID_PATHS.values():
        assert "$ref" in spec.resolve(spec.response_schema_ref(path)), path
        assert "404" in spec.operation(path)["responses"], path
    for path, method in (("/v1/workorders", "post"), ("/v1/workorders/{workOrderId}", "put"),
                         ("/v1/tasks/todorequests/{toDoTaskId}", "put")):
        assert {"415", "422"} <= set(spec.operation(path, method)["responses"]), path


@pytest.mark.parametrize("entity", list(ENTITY_PATHS))
def test_every_list_page_is_valid_against_the_spec_and_the_paging_is_complete(sandbox, http, spec, entity):
    stored = [r[key_field(entity)] for r in sandbox.store.records(entity)]
    assert stored, f"the sandbox has no {entity}"
    ref = spec.response_schema_ref(ENTITY_PATHS[entity])
    for limit in (7, 1000):
        records, totals = fetch_all(http, sandbox, entity, limit)
        assert spec.errors(ref, records) == []
        assert totals == {len(stored)}
        assert [r[key_field(entity)] for r in records] == stored
    assert all(not key.startswith("_") for record in records for key in record)


@pytest.mark.parametrize("entity", list(BY_ID_PATHS))
def test_get_by_id_is_valid_and_absent_ids_answer_404_with_the_error_body(sandbox, http, spec, entity):
    route = BY_ID_PATHS[entity]
    ref = spec.response_schema_ref(route)
    records = sandbox.store.records(entity)
    listed = {r["Id"]: r for r in fetch_all(http, sandbox, entity, 1000)[0]}
    for record in records[:: max(1, len(records) // 5)]:
        path = route.rsplit("{", 1)[0] + str(record["Id"])
        response = get(http, sandbox, path)
        assert response.status_code == 200, response.text
        assert spec.errors(ref, response.json()) == []
        assert response.json() == listed[record["Id"]]
    absent = max(r["Id"] for r in records) + 1000
    assert_error_body(spec, get(http, sandbox, route.rsplit("{", 1)[0] + str(absent)), 404)
    assert_error_body(spec, get(http, sandbox, route.rsplit("{", 1)[0] + "not-a-number"), 400)


@HTTP_SETTINGS
@given(entity=st.sampled_from(sorted(ENTITY_PATHS)), limit=st.integers(1, 40), offset=st.integers(0, 120))
def test_any_limit_and_offset_serve_that_slice_of_the_id_ordered_list(sandbox, http, entity, limit, offset):
    stored = [r[key_field(entity)] for r in sandbox.store.records(entity)]
    response = get(http, sandbox, ENTITY_PATHS[entity], limit=limit, offset=offset, orderby=f"{key_field(entity)} asc")
    assert response.status_code == 200, response.text
    assert total_of(response) == len(stored)
    assert [r[key_field(entity)] for r in response.json()] == stored[offset: offset + limit]


@HTTP_SETTINGS
@given(entity=st.sampled_from(sorted(ENTITY_PATHS)), limit=st.integers(2, 13))
def test_paging_sizes_that_do_not_divide_the_total_still_cover_every_record_once(sandbox, http, entity, limit):
    stored = [r[key_field(entity)] for r in sandbox.store.records(entity)]
    assume(len(stored) % limit != 0)
    records, totals = fetch_all(http, sandbox, entity, limit)
    ids = [r[key_field(entity)] for r in records]
    assert totals == {len(stored)} and ids == stored


def test_default_limit_is_50_and_over_1000_is_served_as_1000(http, spec):
    with BuildiumSandboxServer(units=1000, seed=2, rate_limit=None) as big:
        total = big.store.count("leases")
        assert total > 1000
        assert len(get(http, big, "/v1/leases", orderby="Id").json()) == 50
        assert len(get(http, big, "/v1/leases", orderby="Id", limit=5000).json()) == 1000
        assert len(get(http, big, "/v1/leases", orderby="Id", limit=1000, offset=1000).json()) == total - 1000


def test_orderby_sorts_on_any_property_case_insensitively_with_desc_and_a_secondary_key(sandbox, http, spec):
    rentals = sandbox.store.records("rentals")
    response = get(http, sandbox, "/v1/rentals", orderby="name DESC,id asc", limit=1000)
    assert [r["Id"] for r in response.json()] == [
        r["Id"] for r in sorted(sorted(rentals, key=lambda r: r["Id"]), key=lambda r: r["Name"].casefold(), reverse=True)]
    assert [r["Id"] for r in get(http, sandbox, "/v1/rentals", orderby="Id desc", limit=1000).json()] == \
        sorted((r["Id"] for r in rentals), reverse=True)
    body = assert_error_body(spec, get(http, sandbox, "/v1/rentals", orderby="NoSuchField"), 400)
    assert body["Errors"][0]["Key"] == "orderby"


@pytest.mark.parametrize("params, status", [
    ({"limit": 0}, 400), ({"limit": -3}, 400), ({"limit": "ten"}, 400), ({"offset": -1}, 400),
    ({"offset": "x"}, 400), ({"Limit": 5}, 404), ({"OFFSET": 5}, 404),
])
def test_bad_paging_parameters_answer_with_the_error_body(sandbox, http, spec, params, status):
    assert_error_body(spec, get(http, sandbox, "/v1/rentals/units", **params), status)


def test_missing_or_wrong_credentials_answer_401_and_never_echo_the_secret(sandbox, spec):
    for headers in ({}, {"x-buildium-client-id": SANDBOX_CLIENT_ID},
                    {**AUTH, "x-buildium-client-secret": "wrong-secret-value"},
                    {"x-buildium-client-id": "someone-else", "x-buildium-client-secret": SANDBOX_CLIENT_SECRET}):
        for path in ("/v1/rentals", "/v1/leases/5000"):
            response = requests.get(sandbox.base_url + path, headers=headers)
            assert_error_body(spec, response, 401)
            assert SANDBOX_CLIENT_SECRET not in response.text and "wrong-secret-value" not in response.text
    response = requests.post(sandbox.base_url + "/v1/workorders", json={})
    assert_error_body(spec, response, 401)


def test_a_query_string_over_4096_characters_fails_with_500(sandbox, http, spec):
    ids = "&".join(f"propertyids={1000 + i}" for i in range(300))
    assert len(ids) > 4096
    assert_error_body(spec, http.get(f"{sandbox.base_url}/v1/rentals?{ids}"), 500)
    short = "&".join(f"propertyids={1000 + i}" for i in range(200))
    assert len(short) <= 4096 and http.get(f"{sandbox.base_url}/v1/rentals?{short}").status_code == 200


def test_beyond_10_requests_a_second_per_client_id_answers_429_without_retry_after(http, spec):
    with BuildiumSandboxServer(units=10, seed=1) as limited:
        statuses = []
        for _ in range(30):
            response = get(http, limited, "/v1/vendors")
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert_error_body(spec, response, 429)
                assert "Retry-After" not in response.headers
        assert statuses[:10] == [200] * 10
        assert 429 in statuses
        time.sleep(1.05)
        assert get(http, limited, "/v1/vendors").status_code == 200
        assert requests.get(limited.control_url + "/health").json()["rate_limited"] >= 1


def test_paths_are_case_sensitive_and_unknown_ones_answer_404_with_the_error_body(sandbox, http, spec):
    for path in ("/v1/Rentals", "/V1/rentals", "/rentals", "/v1/nosuch"):
        assert_error_body(spec, http.get(sandbox.base_url + path), 404)
    assert_error_body(spec, http.delete(sandbox.base_url + "/v1/rentals/1000"), 405)
