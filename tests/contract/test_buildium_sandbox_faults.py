"""Faults, slowdowns and record changes of the Buildium sandbox, injected through the same /_sandbox controls as
the Propertyware sandbox's, on Buildium's paths."""

from __future__ import annotations

import json
import time

import pytest
import requests

from sandbox.buildium import BuildiumSandboxServer
from sandbox.faults import (cut_body_fault, disconnect_fault, drift_fault, drop_page_fault, status_fault,
                            total_header_fault, truncated_json_fault, wrong_type_fault)

from .buildium_http import assert_error_body, fetch_all, http, spec  # noqa: F401 (spec, http: fixtures)

PAGE = {"orderby": "Id", "limit": 10}


@pytest.fixture(scope="module")
def sandbox():
    with BuildiumSandboxServer(units=40, seed=8, rate_limit=None) as server:
        yield server


@pytest.fixture(autouse=True)
def clean(sandbox):
    sandbox.store.clear_faults()
    sandbox.store.slowdowns.clear()
    yield
    sandbox.store.clear_faults()
    sandbox.store.slowdowns.clear()


def test_a_status_fault_posted_over_http_answers_with_the_error_body_on_its_path_only(sandbox, http, spec):
    posted = requests.post(sandbox.control_url + "/faults",
                           json={"kind": "status", "path": "/v1/rentals/units", "status": 503, "times": 2})
    assert posted.status_code == 201
    assert http.get(sandbox.base_url + "/v1/rentals", params=PAGE).status_code == 200
    for _ in range(2):
        assert_error_body(spec, http.get(sandbox.base_url + "/v1/rentals/units", params=PAGE), 503)
    assert http.get(sandbox.base_url + "/v1/rentals/units", params=PAGE).status_code == 200


def test_an_injected_429_has_no_retry_after_unless_asked(sandbox, http, spec):
    sandbox.store.inject(status_fault("/v1/leases", 429))
    response = http.get(sandbox.base_url + "/v1/leases", params=PAGE)
    assert_error_body(spec, response, 429)
    assert "Retry-After" not in response.headers


def test_truncated_json_and_wrong_type_spoil_one_answer(sandbox, http, spec):
    sandbox.store.inject(truncated_json_fault("/v1/vendors"))
    spoiled = http.get(sandbox.base_url + "/v1/vendors", params=PAGE)
    assert spoiled.status_code == 200 and spoiled.headers["X-Total-Count"]
    with pytest.raises(ValueError):
        json.loads(spoiled.text)
    sandbox.store.inject(wrong_type_fault("/v1/rentals/units", record_index=1, field="PropertyId", value="abc"))
    page = http.get(sandbox.base_url + "/v1/rentals/units", params=PAGE).json()
    assert page[1]["PropertyId"] == "abc"
    assert spec.errors(spec.response_schema_ref("/v1/rentals/units"), page) != []
    assert http.get(sandbox.base_url + "/v1/rentals/units", params=PAGE).json()[1]["PropertyId"] != "abc"


def test_drop_page_and_a_false_total_mislead_one_listing(sandbox, http):
    total = sandbox.store.count("leases")
    sandbox.store.inject(drop_page_fault("/v1/leases", page_offset=10))
    dropped = http.get(sandbox.base_url + "/v1/leases", params={**PAGE, "offset": 10})
    assert dropped.json() == [] and dropped.headers["X-Total-Count"] == str(total)
    sandbox.store.inject(total_header_fault("/v1/leases", "12abc"))
    assert http.get(sandbox.base_url + "/v1/leases", params=PAGE).headers["X-Total-Count"] == "12abc"


def test_drift_adds_records_between_pages(sandbox, http):
    before = sandbox.store.count("associationunits")
    sandbox.store.inject(drift_fault("/v1/associations/units", after_pages=1, insert=2))
    records, totals = fetch_all(http, sandbox, "associationunits", 5)
    assert sandbox.store.count("associationunits") == before + 2 and len(totals) == 2


def test_connection_faults_drop_or_cut_the_answer(sandbox, http):
    sandbox.store.inject(disconnect_fault("/v1/rentals", method="GET"))
    with pytest.raises(requests.ConnectionError):
        http.get(sandbox.base_url + "/v1/rentals", params=PAGE)
    whole = http.get(sandbox.base_url + "/v1/rentals", params=PAGE).content
    sandbox.store.inject(cut_body_fault("/v1/rentals"))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        http.get(sandbox.base_url + "/v1/rentals", params=PAGE)
    assert http.get(sandbox.base_url + "/v1/rentals", params=PAGE).content == whole


def test_a_dropped_answer_to_a_post_still_created_the_work_order(sandbox, http):
    unit = sandbox.store.records("rentalunits")[0]
    body = {"VendorId": 1, "EntryAllowed": "Unknown",
            "Task": {"Title": "Dropped answer", "Priority": "High", "Status": "New", "AssignedToUserId": 900_001,
                     "PropertyId": unit["PropertyId"], "UnitId": unit["Id"]}}
    before = sandbox.store.count("workorders")
    sandbox.store.inject(disconnect_fault("/v1/workorders", after_processing=True))
    with pytest.raises(requests.ConnectionError):
        http.post(sandbox.base_url + "/v1/workorders", json=body)
    assert sandbox.store.count("workorders") == before + 1
    listed, _ = fetch_all(http, sandbox, "workorders", 50, title="Dropped answer")
    assert [o["Title"] for o in listed] == ["Dropped answer"]


def test_a_slowdown_holds_the_request_before_it_is_handled(sandbox, http):
    requests.post(sandbox.control_url + "/slowdowns", json={"seconds": 0.3, "path": "/v1/tasks", "times": 1})
    sandbox.store.clear_requests_log()
    http.get(sandbox.base_url + "/v1/tasks", params=PAGE)
    log = requests.get(sandbox.control_url + "/requests").json()
    assert [(entry["method"], entry["path"]) for entry in log] == [("GET", "/v1/tasks")]
    assert requests.get(sandbox.control_url + "/slowdowns").json() == []


def test_deleted_records_leave_no_trace_and_touched_ones_keep_no_visible_time(sandbox, http, spec):
    deleted = requests.post(sandbox.control_url + "/records/rentalunits/sample/delete", json={"share": 0.1}).json()
    gone = deleted["ids"]
    listed, _ = fetch_all(http, sandbox, "rentalunits", 100)
    assert gone and not {u["Id"] for u in listed} & set(gone)
    assert_error_body(spec, http.get(f"{sandbox.base_url}/v1/rentals/units/{gone[0]}"), 404)
    rental = sandbox.store.records("rentals")[0]["Id"]
    assert requests.post(f"{sandbox.control_url}/records/rentals/{rental}/deactivate").json()["IsActive"] is False
    inactive, _ = fetch_all(http, sandbox, "rentals", 100, status="InActive")
    assert rental in [r["Id"] for r in inactive]


def test_the_rate_limit_can_be_changed_through_the_controls(sandbox, http):
    assert requests.put(sandbox.control_url + "/ratelimit", json={"per_second": 2}).json() == {"per_second": 2}
    try:
        statuses = [http.get(sandbox.base_url + "/v1/vendors", params=PAGE).status_code for _ in range(5)]
        assert statuses[:2] == [200, 200] and 429 in statuses
    finally:
        requests.put(sandbox.control_url + "/ratelimit", json={"per_second": None})
    time.sleep(1.05)
    assert http.get(sandbox.base_url + "/v1/vendors", params=PAGE).status_code == 200
    assert requests.put(sandbox.control_url + "/ratelimit", json={"per_second": 0}).status_code == 400
