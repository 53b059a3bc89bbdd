"""Work-order writes: the sandbox serves only what the vendor spec has, and the client's bodies and the answers match it."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from starlette.routing import Route

from pmsync.source import PropertywareClient, RetryPolicy, SourceOutcomeUnknown, SourceRequestRejected
from pmsync.source.workorders import WorkOrderWriter
from sandbox import (BASE_PATH, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID, SandboxServer,
                     disconnect_fault, status_fault)
from tests.contract.conftest import pointer

REQUEST_SCHEMAS = {
    ("POST", "/workorders"): "/workorders",
    ("PUT", "/workorders/closeworkorder/{}"): "/workorders/closeworkorder/{workOrderID}",
    ("PUT", "/workorders/customfields"): "/workorders/customfields",
    ("POST", "/workorders/{}/tasks"): "/workorders/{workOrderId}/tasks",
}
ANSWERS = {"POST": "201", "PUT": "200"}
SCHEMA_REF = re.compile(r"#/components/schemas/\w+")


def five_minutes_ago() -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=5)


def shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}|\d+", "{}", path)


@pytest.fixture
def sandbox():
    with SandboxServer(units=20, seed=3) as server:
        yield server


@pytest.fixture
def writer(sandbox) -> WorkOrderWriter:
    client = PropertywareClient(sandbox.base_url, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID,
                                retry=RetryPolicy(max_attempts=3, backoff_base=0.01))
    yield WorkOrderWriter(client)
    client.close()


def a_building_and_unit(store) -> tuple[int, int]:
    building = next(b for b in store.records("buildings") if b["active"])
    unit = next(u for u in store.records("units") if u["buildingID"] == building["id"])
    return building["id"], unit["id"]


def request_body_ref(vendor_spec, method: str, path: str) -> str:
    body = vendor_spec.spec["paths"][path][method.lower()]["requestBody"]
    if "$ref" in body:
        body = vendor_spec.resolve(body["$ref"])
    return SCHEMA_REF.search(str(body["content"]["application/json"]["schema"]["$ref"])).group(0)


def test_every_route_the_sandbox_serves_under_the_api_is_in_the_vendor_spec(sandbox, vendor_spec):
    offered = {(method.upper(), shape(path)) for path, operations in vendor_spec.spec["paths"].items() for method in operations}
    served = {
        (method, shape(route.path[len(BASE_PATH):]))
        for route in sandbox.app.routes
        if isinstance(route, Route) and route.path.startswith(BASE_PATH)
        for method in route.methods - {"HEAD"}
    }
    assert served - offered == set()
    assert ("PUT", "/workorders/{}") not in offered


def test_client_writes_match_the_vendor_request_and_answer_schemas(sandbox, writer, vendor_spec):
    building_id, unit_id = a_building_and_unit(sandbox.store)
    work_order_id = writer.create({"buildingID": building_id, "unitIDs": [unit_id], "description": "Door sticks",
                                   "priority": "LOW", "searchTag": "pmsync-wo-0123456789abcdef", "source": "Internal"})
    other = writer.add_task(work_order_id, "Parts ordered", "pmsync-note-fedcba9876543210")
    noted = writer.add_task(work_order_id, "Locksmith called", "pmsync-note-0123456789abcdef")
    writer.set_custom_fields(work_order_id, {"Platform ticket": "PM-1"})
    writer.close(work_order_id, "2026-11-20", "Hinge oiled")

    assert writer.find_by_search_tag(building_id, "pmsync-wo-0123456789abcdef", five_minutes_ago()) == work_order_id
    assert writer.find_task_by_tag(work_order_id, "pmsync-note-0123456789abcdef") == noted != other
    assert writer.find_task_by_tag(work_order_id, "pmsync-note-0000000000000000") is None
    assert len(sandbox.store.writes_log) == 5
    for write in sandbox.store.writes_log:
        spec_path = REQUEST_SCHEMAS[(write["method"], shape(write["path"]))]
        ref = request_body_ref(vendor_spec, write["method"], spec_path)
        assert vendor_spec.errors(ref, write["body"]) == [], (write, ref)
        assert write["status"] == int(ANSWERS[write["method"]])
    record = sandbox.store.get("workorders", work_order_id)
    answer_ref = vendor_spec.response_schema_ref("/workorders", status="201", method="post")
    assert vendor_spec.errors(answer_ref, {k: v for k, v in record.items() if v is not None}) == []
    assert (record["status"], record["customFields"][0]["value"]) == ("Closed", "PM-1")


def test_write_answers_and_refusals_are_the_vendor_schemas(sandbox, vendor_spec, auth_headers):
    building_id, _ = a_building_and_unit(sandbox.store)
    with requests.Session() as http:
        http.headers.update(auth_headers)
        created = http.post(sandbox.base_url + "/workorders", json={"buildingID": building_id, "description": "x"})
        task = http.post(f"{sandbox.base_url}/workorders/{created.json()['id']}/tasks", json={"description": "step"})
        closed = http.put(f"{sandbox.base_url}/workorders/closeworkorder/{created.json()['id']}", json={"timeCardEntry": []})
        missing = http.post(sandbox.base_url + "/workorders", json={"description": "no building"})
        general_update = http.put(f"{sandbox.base_url}/workorders/{created.json()['id']}", json={"description": "y"})
    assert vendor_spec.errors(vendor_spec.response_schema_ref("/workorders", "201", "post"), created.json()) == []
    assert vendor_spec.errors(vendor_spec.response_schema_ref("/workorders/{workOrderId}/tasks", "201", "post"), task.json()) == []
    assert vendor_spec.errors(pointer("components", "schemas", "ResponseEntity"), closed.json()) == []
    assert missing.status_code == 400
    assert vendor_spec.errors(vendor_spec.response_schema_ref("/workorders", "400", "post"), missing.json()) == []
    assert missing.json()["errors"][0]["key"] == "buildingID"
    assert general_update.status_code == 405


def test_a_write_is_retried_only_while_nothing_can_have_been_applied(sandbox, writer):
    building_id, _ = a_building_and_unit(sandbox.store)
    body = {"buildingID": building_id, "description": "Smoke alarm beeps"}
    sandbox.store.inject(status_fault("/workorders", 429, times=2, retry_after=0, method="POST"))
    assert writer.create(body) > 0
    assert [w["status"] for w in sandbox.store.writes_log] == [429, 429, 201]

    sandbox.store.inject(disconnect_fault("/workorders", "POST", after_processing=True))
    with pytest.raises(SourceOutcomeUnknown, match=r"may have been applied \[POST /workorders\]"):
        writer.create(body)
    sandbox.store.inject(status_fault("/workorders", 502, method="POST"))
    with pytest.raises(SourceOutcomeUnknown, match="HTTP 502"):
        writer.create(body)
    with pytest.raises(SourceRequestRejected, match=r"400: Building 1 does not exist or is deactivated.*POST /workorders"):
        writer.create({"buildingID": 1})


def test_a_slowdown_posted_over_http_holds_a_create_before_it_lands(sandbox, auth_headers):
    building_id, _ = a_building_and_unit(sandbox.store)
    control = sandbox.control_url + "/slowdowns"
    posted = requests.post(control, json={"seconds": 2, "path": "/workorders", "method": "post", "times": 1}, timeout=10)
    assert posted.status_code == 201 and posted.json()["method"] == "POST"
    for body in ({"path": "/workorders"}, {"seconds": 0}, {"seconds": 1, "path": "workorders"}, {"seconds": 1, "x": 1}):
        assert requests.post(control, json=body, timeout=10).status_code == 400, body
    answers: list = []
    sending = threading.Thread(target=lambda: answers.append(requests.post(
        sandbox.base_url + "/workorders", json={"buildingID": building_id, "searchTag": "held"}, headers=auth_headers,
        timeout=30)))
    sending.start()
    while ("POST", "/workorders") not in [(method, path) for method, path, _ in sandbox.store.requests_log]:
        assert sending.is_alive(), "the create was never received"
        time.sleep(0.01)

    held = [order for order in sandbox.store.records("workorders") if order.get("searchTag") == "held"]
    sending.join(timeout=30)

    assert held == [] and answers[0].status_code == 201
    assert sandbox.store.get("workorders", answers[0].json()["id"])["searchTag"] == "held"
    assert requests.get(control, timeout=10).json() == []
    assert requests.delete(control, timeout=10).json() == {"cleared": 0}
