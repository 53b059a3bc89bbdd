"""The work-order push's writes: POST and PUT /v1/workorders and PUT /v1/tasks/todorequests/{id}, their bodies
checked against the spec's request schemas and their answers against its response schemas."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.buildium import SANDBOX_STAFF_USER_ID, SANDBOX_VENDOR_ID, BuildiumSandboxServer

from .buildium_http import HTTP_SETTINGS, assert_error_body, http, spec  # noqa: F401 (spec, http: fixtures)

POST_BODY = "#/components/schemas/WorkOrderPostMessage"
PUT_BODY = "#/components/schemas/WorkOrderPutMessage"
TODO_BODY = "#/components/schemas/ToDoTaskPutMessage"
WORK_ORDER = "#/components/schemas/WorkOrderMessage"
TODO = "#/components/schemas/ToDoTaskMessage"


@pytest.fixture(scope="module")
def sandbox():
    with BuildiumSandboxServer(units=30, seed=4, rate_limit=None) as server:
        yield server


def a_unit(sandbox) -> dict:
    return sandbox.store.records("rentalunits")[0]


def new_order(sandbox, **task) -> dict:
    unit = a_unit(sandbox)
    return {"VendorId": SANDBOX_VENDOR_ID, "EntryAllowed": "Unknown", "WorkDetails": "pmsync:WO-1",
            "Task": {"Title": "Fix the sink", "Priority": "Normal", "Status": "New",
                     "AssignedToUserId": SANDBOX_STAFF_USER_ID, "PropertyId": unit["PropertyId"],
                     "UnitId": unit["Id"], **task}}


def test_a_new_work_order_creates_its_task_assigned_to_the_staff_user(sandbox, http, spec):
    body = new_order(sandbox)
    assert spec.errors(POST_BODY, body) == []
    response = http.post(sandbox.base_url + "/v1/workorders", json=body)
    assert response.status_code == 201, response.text
    order = response.json()
    assert spec.errors(WORK_ORDER, order) == []
    assert order["Task"]["Type"] == "Todo" and order["Title"] == "Fix the sink" and order["Status"] == "New"
    task = http.get(f"{sandbox.base_url}/v1/tasks/{order['Task']['Id']}").json()
    assert spec.errors(spec.response_schema_ref("/v1/tasks/{taskId}"), task) == []
    assert task["AssignedToUserId"] == SANDBOX_STAFF_USER_ID
    assert task["Property"] == {"Id": a_unit(sandbox)["PropertyId"], "Type": "Rental", "Href": None}
    assert http.get(f"{sandbox.base_url}/v1/workorders/{order['Id']}").json() == order
    assert sandbox.store.writes_log[-1]["status"] == 201


def test_a_work_order_on_an_existing_task(sandbox, http, spec):
    task_id = sandbox.store.records("tasks")[0]["Id"]
    body = {"VendorId": SANDBOX_VENDOR_ID, "EntryAllowed": "Yes", "TaskId": task_id,
            "LineItems": [{"Quantity": 2, "UnitPrice": 45.5, "Memo": "Labor"}]}
    assert spec.errors(POST_BODY, body) == []
    response = http.post(sandbox.base_url + "/v1/workorders", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["Task"]["Id"] == task_id and response.json()["Amount"] == 91.0


@pytest.mark.parametrize("change, key", [
    (lambda b: b.pop("VendorId"), "VendorId"),
    (lambda b: b.pop("EntryAllowed"), "EntryAllowed"),
    (lambda b: b.update(EntryAllowed="Maybe"), "EntryAllowed"),
    (lambda b: b.update(VendorId="one"), "VendorId"),
    (lambda b: b["Task"].pop("Title"), "Task.Title"),
    (lambda b: b["Task"].update(Title=""), "Task.Title"),
    (lambda b: b["Task"].pop("AssignedToUserId"), "Task.AssignedToUserId"),
    (lambda b: b["Task"].update(Priority="Urgent"), "Task.Priority"),
    (lambda b: b["Task"].update(Status="Open"), "Task.Status"),
    (lambda b: b["Task"].update(DueDate="next week"), "Task.DueDate"),
    (lambda b: b.update(LineItems=[{"Memo": "no quantity"}]), "LineItems[0].Quantity"),
])
def test_a_body_that_breaks_the_request_schema_answers_400_naming_the_field(sandbox, http, spec, change, key):
    body = new_order(sandbox)
    change(body)
    assert spec.errors(POST_BODY, body) != [], "the case must break the spec's schema"
    before = sandbox.store.count("workorders")
    response = http.post(sandbox.base_url + "/v1/workorders", json=body)
    assert assert_error_body(spec, response, 400)["Errors"][0]["Key"] == key
    assert sandbox.store.count("workorders") == before


def test_neither_or_both_of_task_and_task_id_answer_400(sandbox, http, spec):
    body = new_order(sandbox)
    assert_error_body(spec, http.post(sandbox.base_url + "/v1/workorders",
                                      json={**body, "TaskId": sandbox.store.records("tasks")[0]["Id"]}), 400)
    body.pop("Task")
    assert_error_body(spec, http.post(sandbox.base_url + "/v1/workorders", json=body), 400)


@pytest.mark.parametrize("change, key", [
    (lambda b, s: b.update(VendorId=999_999), "VendorId"),
    (lambda b, s: b["Task"].update(AssignedToUserId=s.store.records("leases")[0]["Tenants"][0]["Id"]),
     "Task.AssignedToUserId"),
    (lambda b, s: b["Task"].update(PropertyId=424_242), "Task.PropertyId"),
    (lambda b, s: b["Task"].update(UnitId=s.store.records("rentalunits")[-1]["Id"] + 77), "Task.PropertyId"),
    (lambda b, s: b.pop("Task") and b.update(TaskId=7_777_777), "TaskId"),
])
def test_a_reference_to_nothing_answers_422(sandbox, http, spec, change, key):
    body = new_order(sandbox)
    change(body, sandbox)
    assert spec.errors(POST_BODY, body) == []
    response = http.post(sandbox.base_url + "/v1/workorders", json=body)
    assert assert_error_body(spec, response, 422)["Errors"][0]["Key"] == key


def test_a_missing_or_wrong_content_type_answers_415_and_bad_json_400(sandbox, http, spec):
    import json
    raw = json.dumps(new_order(sandbox))
    assert_error_body(spec, http.post(sandbox.base_url + "/v1/workorders", data=raw), 415)
    assert_error_body(spec, http.post(sandbox.base_url + "/v1/workorders", data=raw,
                                      headers={"Content-Type": "text/plain"}), 415)
    assert_error_body(spec, http.post(sandbox.base_url + "/v1/workorders", data="{not json",
                                      headers={"Content-Type": "application/json"}), 400)


def test_put_replaces_the_whole_work_order_and_what_it_omits_is_nulled(sandbox, http, spec):
    created = http.post(sandbox.base_url + "/v1/workorders",
                        json={**new_order(sandbox), "VendorNotes": "Call first", "InvoiceNumber": "INV-9"}).json()
    body = {"VendorId": SANDBOX_VENDOR_ID, "EntryAllowed": "No", "WorkDetails": "pmsync:WO-1 updated"}
    assert spec.errors(PUT_BODY, body) == []
    response = http.put(f"{sandbox.base_url}/v1/workorders/{created['Id']}", json=body)
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert spec.errors(WORK_ORDER, replaced) == []
    assert replaced["VendorNotes"] is None and replaced["InvoiceNumber"] is None
    assert replaced["EntryAllowed"] == "No" and replaced["Task"] == created["Task"]
    assert_error_body(spec, http.put(f"{sandbox.base_url}/v1/workorders/{created['Id']}",
                                     json={"EntryAllowed": "No"}), 400)
    assert_error_body(spec, http.put(f"{sandbox.base_url}/v1/workorders/99999999", json=body), 404)
    assert_error_body(spec, http.put(f"{sandbox.base_url}/v1/workorders/{created['Id']}", data="{}"), 415)


@HTTP_SETTINGS
@given(title=st.text(min_size=1, max_size=80).filter(str.strip),
       status=st.sampled_from(("New", "InProgress", "Completed", "Deferred", "Closed")),
       priority=st.sampled_from(("Low", "Normal", "High")))
def test_title_status_and_priority_change_through_the_to_do_task(sandbox, http, spec, title, status, priority):
    order = http.post(sandbox.base_url + "/v1/workorders", json=new_order(sandbox)).json()
    task_url = f"{sandbox.base_url}/v1/tasks/todorequests/{order['Task']['Id']}"
    current = http.get(task_url).json()
    assert spec.errors(TODO, current) == []
    body = {"Title": title, "TaskStatus": status, "Priority": priority, "AssignedToUserId": current["AssignedToUserId"],
            "PropertyId": current["Property"]["Id"], "UnitId": current["UnitId"], "DueDate": "2030-01-31"}
    assert spec.errors(TODO_BODY, body) == []
    response = http.put(task_url, json=body)
    assert response.status_code == 200, response.text
    assert spec.errors(TODO, response.json()) == []
    seen = http.get(f"{sandbox.base_url}/v1/workorders/{order['Id']}").json()
    assert (seen["Title"], seen["Status"], seen["Priority"], seen["DueDate"]) == (title, status, priority, "2030-01-31")
    assert (seen["Task"]["Title"], seen["Task"]["Status"], seen["Task"]["Priority"]) == (title, status, priority)


def test_a_to_do_put_replaces_the_task_and_refuses_bad_bodies(sandbox, http, spec):
    order = http.post(sandbox.base_url + "/v1/workorders", json=new_order(sandbox)).json()
    task_url = f"{sandbox.base_url}/v1/tasks/todorequests/{order['Task']['Id']}"
    body = {"Title": "Only the required", "TaskStatus": "New", "Priority": "Low",
            "AssignedToUserId": SANDBOX_STAFF_USER_ID}
    replaced = http.put(task_url, json=body).json()
    assert replaced["Property"] is None and replaced["UnitId"] is None
    assert_error_body(spec, http.put(task_url, json={**body, "TaskStatus": None}), 400)
    assert_error_body(spec, http.put(task_url, json={**body, "AssignedToUserId": 5}), 422)
    assert_error_body(spec, http.put(task_url, data="{}"), 415)
    not_todo = next(t for t in sandbox.store.records("tasks") if t["TaskType"] != "Todo")
    assert_error_body(spec, http.put(f"{sandbox.base_url}/v1/tasks/todorequests/{not_todo['Id']}", json=body), 404)


def test_a_to_do_update_is_a_line_of_the_task_history_and_the_description_stays(sandbox, http, spec):
    order = http.post(sandbox.base_url + "/v1/workorders", json=new_order(sandbox)).json()
    task_id = order["Task"]["Id"]
    description = sandbox.store.get("tasks", task_id)["Description"]
    task_url = f"{sandbox.base_url}/v1/tasks/todorequests/{task_id}"
    body = {"Title": "Fix the sink", "TaskStatus": "InProgress", "Priority": "High",
            "AssignedToUserId": SANDBOX_STAFF_USER_ID, "Message": "Plumber booked"}
    for message in ("Plumber booked", "Parts ordered", None):
        assert http.put(task_url, json={**body, "Message": message}).status_code == 200
    history_path = "/v1/tasks/{taskId}/history"
    url = f"{sandbox.base_url}/v1/tasks/{task_id}/history"

    whole = http.get(url, params={"limit": 10, "offset": 0, "orderby": "Id"})
    assert whole.status_code == 200, whole.text
    assert spec.errors(spec.response_schema_ref(history_path), whole.json()) == []
    assert whole.headers["X-Total-Count"] == "3"
    assert [entry["Message"] for entry in whole.json()] == ["Plumber booked", "Parts ordered", None]
    assert {(entry["TaskStatus"], entry["Priority"]) for entry in whole.json()} == {("InProgress", "High")}
    second = http.get(url, params={"limit": 1, "offset": 1})
    assert [entry["Message"] for entry in second.json()] == ["Parts ordered"]
    assert second.headers["X-Total-Count"] == "3"
    assert sandbox.store.get("tasks", task_id)["Description"] == description
    assert_error_body(spec, http.get(f"{sandbox.base_url}/v1/tasks/99999999/history"), 404)
    assert_error_body(spec, http.get(url, params={"limit": 0}), 400)


def test_the_bodies_the_push_builds_fit_the_spec_and_carry_what_was_read(sandbox, http, spec):
    from types import SimpleNamespace

    from pmsync.source.buildium.push import creation_body, replacement_body, task_replacement

    unit = a_unit(sandbox)
    order = SimpleNamespace(title=None, description="Leak\nunder the sink", priority="MEDIUM", status="Open",
                            building_source_id=unit["PropertyId"], unit_source_id=unit["Id"])
    created_body = creation_body(order, "pmsync-wo-0123456789abcdef", SANDBOX_STAFF_USER_ID, SANDBOX_VENDOR_ID)
    assert spec.errors(POST_BODY, created_body) == []
    created = http.post(sandbox.base_url + "/v1/workorders", json=created_body).json()
    assert created["Title"] == "Leak" and created["Priority"] == "Normal" and created["Status"] == "New"

    filled = {"VendorNotes": "Call first", "InvoiceNumber": "INV-3", "ChargeableTo": "Owner", "EntryNotes": "Key at desk",
              "EntryAllowed": "Yes", "LineItems": [{"Quantity": 1, "UnitPrice": 80, "Memo": "Visit"}]}
    read = http.put(f"{sandbox.base_url}/v1/workorders/{created['Id']}",
                    json={**replacement_body(created, SANDBOX_VENDOR_ID), **filled}).json()
    again = replacement_body(read, None)
    assert spec.errors(PUT_BODY, again) == []
    assert http.put(f"{sandbox.base_url}/v1/workorders/{created['Id']}", json=again).json() == read

    task = http.get(f"{sandbox.base_url}/v1/tasks/{created['Task']['Id']}").json()
    body = task_replacement(task, Priority="High")
    assert spec.errors(TODO_BODY, body) == []
    assert body == {"Title": "Leak", "PropertyId": unit["PropertyId"], "UnitId": unit["Id"],
                    "AssignedToUserId": SANDBOX_STAFF_USER_ID, "TaskStatus": "New", "Priority": "High"}


def test_a_task_on_an_inactive_property_answers_422_and_a_put_keeps_the_kind_of_the_property_it_names(http, spec):
    """The spec: "The assigned property must be active" (Task.PropertyId of a new work order, PropertyId of a to-do
    PUT). Its PropertyId has no type: a PUT naming the property the task has keeps that property's kind, where this
    sandbox gives a rental and an association one id."""
    with BuildiumSandboxServer(units=12, seed=3, rate_limit=None) as sandbox:
        store = sandbox.store
        rentals = {r["Id"] for r in store.records("rentals") if r["IsActive"]}
        shared = next(a for a in store.records("associations") if a["IsActive"] and a["Id"] in rentals)
        body = new_order(sandbox)
        store.deactivate("rentals", body["Task"]["PropertyId"])
        refused = assert_error_body(spec, http.post(sandbox.base_url + "/v1/workorders", json=body), 422)
        assert refused["Errors"][0]["Key"] == "Task.PropertyId" and "must be active" in refused["Errors"][0]["Value"]

        task = store.add("tasks", {"TaskType": "Todo", "Category": None, "Title": "Gate", "Description": None,
                                   "Property": {"Id": shared["Id"], "Type": "Association", "Href": None}, "UnitId": None,
                                   "AssignedToUserId": SANDBOX_STAFF_USER_ID, "TaskStatus": "New", "Priority": "Low",
                                   "DueDate": None})
        put = {"Title": "Gate sticks", "TaskStatus": "InProgress", "Priority": "Low",
               "AssignedToUserId": SANDBOX_STAFF_USER_ID, "PropertyId": shared["Id"]}
        assert spec.errors(TODO_BODY, put) == []
        answer = http.put(f"{sandbox.base_url}/v1/tasks/todorequests/{task['Id']}", json=put)
        assert answer.status_code == 200, answer.text
        assert answer.json()["Property"] == {"Id": shared["Id"], "Type": "Association", "Href": None}
