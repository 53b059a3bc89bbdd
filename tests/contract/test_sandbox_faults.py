"""Sandbox fault injection, test controls and generated data behave as documented."""

from __future__ import annotations

import collections
import json
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from sandbox import (SANDBOX_INTEGRATION_USER, SandboxServer, SandboxStore, cut_body_fault, disconnect_fault, drift_fault,
                     drop_page_fault, echo_credentials_fault, generate_portfolio, ignore_offset_fault, oversized_fault,
                     redirect_fault, reset_fault, status_fault, total_header_fault, total_jump_fault, trickle_fault,
                     truncated_json_fault, wrong_type_fault)
from sandbox.slowdowns import Slowdown

ANCHOR = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)
VALID_EMAIL = re.compile(r"^[a-z0-9.'_+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(units=80, seed=3) as server:
        yield server


@pytest.fixture(autouse=True)
def clean(sandbox):
    sandbox.store.clear_faults()
    yield
    sandbox.store.clear_faults()


@pytest.fixture(scope="module")
def http(auth_headers):
    with requests.Session() as session:
        session.headers.update(auth_headers)
        yield session


def test_429_carries_retry_after_then_the_request_succeeds(sandbox, http, vendor_spec):
    sandbox.store.inject(status_fault("/units", 429, times=2, retry_after=3))
    for _ in range(2):
        response = http.get(sandbox.base_url + "/units")
        assert response.status_code == 429 and response.headers["Retry-After"] == "3"
        assert vendor_spec.errors("#/components/schemas/ErrorResponse", response.json()) == []
    assert http.get(sandbox.base_url + "/units").status_code == 200


def test_status_fault_posted_over_http_applies_only_to_its_path(sandbox, http):
    posted = requests.post(sandbox.control_url + "/faults",
                           json={"kind": "status", "path": "/units", "status": 503, "times": 2})
    assert posted.status_code == 201 and posted.json()["status"] == 503
    assert http.get(sandbox.base_url + "/buildings").status_code == 200
    assert [http.get(sandbox.base_url + "/units").status_code for _ in range(3)] == [503, 503, 200]
    assert requests.get(sandbox.control_url + "/faults").json() == []


def test_status_fault_waits_for_an_authenticated_request(sandbox, http):
    sandbox.store.inject(status_fault("/units", 500))
    assert requests.get(sandbox.base_url + "/units").status_code == 401
    assert http.get(sandbox.base_url + "/units").status_code == 500


def test_faults_for_one_path_are_consumed_in_order(sandbox, http):
    sandbox.store.inject(status_fault(None, 500))
    sandbox.store.inject(truncated_json_fault("/leases"))
    assert http.get(sandbox.base_url + "/leases").status_code == 500
    truncated = http.get(sandbox.base_url + "/leases")
    assert truncated.status_code == 200
    with pytest.raises(ValueError):
        json.loads(truncated.text)
    assert isinstance(http.get(sandbox.base_url + "/leases").json(), list)


def test_truncated_json_is_not_parseable_but_keeps_the_total(sandbox, http):
    sandbox.store.inject(truncated_json_fault("/workorders"))
    response = http.get(sandbox.base_url + "/workorders", params={"limit": 10})
    assert response.status_code == 200 and int(response.headers["X-Total-Count"]) > 10
    with pytest.raises(ValueError):
        json.loads(response.text)


def test_wrong_type_replaces_one_field_of_one_page_once(sandbox, http):
    sandbox.store.inject(wrong_type_fault("/units", record_index=2, field="buildingID", value="not-a-number"))
    page = http.get(sandbox.base_url + "/units", params={"limit": 5}).json()
    assert page[2]["buildingID"] == "not-a-number" and all(isinstance(u["buildingID"], int) for u in page[:2])
    assert isinstance(http.get(sandbox.base_url + "/units", params={"limit": 5}).json()[2]["buildingID"], int)
    requests.post(sandbox.control_url + "/faults", json={"kind": "wrong_type", "path": "/leases",
                                                         "field": "contacts.0.email", "value": 42})
    assert http.get(sandbox.base_url + "/leases", params={"limit": 1}).json()[0]["contacts"][0]["email"] == 42


def test_drift_inserts_records_between_pages(sandbox, http):
    before = sandbox.store.count("leases")
    newest = sandbox.store.next_id("leases")
    sandbox.store.inject(drift_fault("/leases", after_pages=1, insert=3))
    first = http.get(sandbox.base_url + "/leases", params={"limit": 10})
    assert int(first.headers["X-Total-Count"]) == before
    second = http.get(sandbox.base_url + "/leases", params={"limit": 10, "offset": 10})
    assert int(second.headers["X-Total-Count"]) == before + 3
    added = [lease for lease in sandbox.store.records("leases") if lease["id"] >= newest]
    assert len(added) == 3
    contact_ids = [c["id"] for lease in sandbox.store.records("leases") for c in lease["contacts"]]
    assert len(contact_ids) == len(set(contact_ids))
    now = datetime.now(timezone.utc)
    assert all(now - datetime.fromisoformat(lease["lastModifiedDateTime"]) < timedelta(minutes=1) for lease in added)


def test_drift_deleting_the_front_shifts_offset_paging(sandbox, http):
    ids_before = [u["id"] for u in http.get(sandbox.base_url + "/workorders", params={"limit": 500}).json()]
    sandbox.store.inject(drift_fault("/workorders", after_pages=1, insert=0, delete_front=2))
    first = http.get(sandbox.base_url + "/workorders", params={"limit": 10}).json()
    second = http.get(sandbox.base_url + "/workorders", params={"limit": 10, "offset": 10}).json()
    assert [w["id"] for w in first] == ids_before[:10]
    assert [w["id"] for w in second] == ids_before[12:22]


def test_drop_page_serves_an_empty_page_once_with_the_true_total(sandbox, http):
    sandbox.store.inject(drop_page_fault("/units", page_offset=10))
    first = http.get(sandbox.base_url + "/units", params={"limit": 10})
    assert len(first.json()) == 10
    dropped = http.get(sandbox.base_url + "/units", params={"limit": 10, "offset": 10})
    assert dropped.json() == [] and dropped.headers["X-Total-Count"] == first.headers["X-Total-Count"]
    assert len(http.get(sandbox.base_url + "/units", params={"limit": 10, "offset": 10}).json()) == 10


def test_disconnect_closes_the_connection_without_a_response(sandbox, http):
    sandbox.store.inject(disconnect_fault("/buildings", method="GET"))
    with pytest.raises(requests.ConnectionError):
        http.get(sandbox.base_url + "/buildings")
    assert http.get(sandbox.base_url + "/buildings").status_code == 200


def test_reset_resets_the_connection_without_a_response(sandbox, http):
    sandbox.store.inject(reset_fault("/units"))
    with pytest.raises(requests.ConnectionError) as reset:
        http.get(sandbox.base_url + "/units")
    assert isinstance(reset.value.args[0].args[1], ConnectionResetError)
    assert http.get(sandbox.base_url + "/units").status_code == 200


def test_cut_body_promises_more_bytes_than_it_sends_then_closes(sandbox, http):
    whole = http.get(sandbox.base_url + "/leases", params={"limit": 20}).content
    sandbox.store.inject(cut_body_fault("/leases"))
    with http.get(sandbox.base_url + "/leases", params={"limit": 20}, stream=True) as cut:
        assert cut.status_code == 200 and int(cut.headers["Content-Length"]) == len(whole)
        assert cut.raw.read(len(whole), decode_content=False) == whole[: len(whole) // 2]
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        sandbox.store.inject(cut_body_fault("/leases"))
        http.get(sandbox.base_url + "/leases", params={"limit": 20})
    assert http.get(sandbox.base_url + "/leases", params={"limit": 20}).content == whole


def test_ignore_offset_serves_the_first_page_again_with_the_true_total(sandbox, http):
    first = http.get(sandbox.base_url + "/units", params={"limit": 5})
    sandbox.store.inject(ignore_offset_fault("/units", times=2))
    for _ in range(2):
        again = http.get(sandbox.base_url + "/units", params={"limit": 5, "offset": 5})
        assert again.json() == first.json() and again.headers["X-Total-Count"] == first.headers["X-Total-Count"]
    assert http.get(sandbox.base_url + "/units", params={"limit": 5, "offset": 5}).json() != first.json()


def test_total_jump_reports_a_larger_total_for_one_page(sandbox, http):
    true_total = int(http.get(sandbox.base_url + "/units", params={"limit": 5}).headers["X-Total-Count"])
    sandbox.store.inject(total_jump_fault("/units", page_offset=10, jump=40))
    assert int(http.get(sandbox.base_url + "/units", params={"limit": 5, "offset": 5}).headers["X-Total-Count"]) == true_total
    jumped = http.get(sandbox.base_url + "/units", params={"limit": 5, "offset": 10})
    assert int(jumped.headers["X-Total-Count"]) == true_total + 40 and len(jumped.json()) == 5
    assert int(http.get(sandbox.base_url + "/units", params={"limit": 5, "offset": 10}).headers["X-Total-Count"]) == true_total
    posted = requests.post(sandbox.control_url + "/faults", json={"kind": "total_jump", "path": "/units", "page_offset": 0,
                                                                  "jump": 7})
    assert posted.status_code == 201 and posted.json()["method"] == "GET"


def test_total_header_reports_any_text_as_the_total_of_the_next_list_requests(sandbox, http):
    true_total = http.get(sandbox.base_url + "/units", params={"limit": 5}).headers["X-Total-Count"]
    sandbox.store.inject(total_header_fault("/units", -3, times=2))
    told = [http.get(sandbox.base_url + "/units", params={"limit": 5, "offset": o}) for o in (0, 5, 10)]
    assert [r.headers["X-Total-Count"] for r in told] == ["-3", "-3", true_total]
    assert all(len(r.json()) == 5 for r in told), "the records served are the true ones"
    posted = requests.post(sandbox.control_url + "/faults", json={"kind": "total_header", "path": "/units", "value": "ten"})
    assert posted.status_code == 201 and posted.json()["method"] == "GET"
    assert http.get(sandbox.base_url + "/units", params={"limit": 1}).headers["X-Total-Count"] == "ten"


def test_redirect_answers_before_authentication_with_its_location(sandbox, http):
    sandbox.store.inject(redirect_fault("/units", "http://127.0.0.1:9/elsewhere", 307, times=2))
    moved = requests.get(sandbox.base_url + "/units", allow_redirects=False)
    assert moved.status_code == 307 and moved.headers["Location"] == "http://127.0.0.1:9/elsewhere"
    assert http.get(sandbox.base_url + "/units", allow_redirects=False).status_code == 307
    assert http.get(sandbox.base_url + "/units").status_code == 200
    sandbox.store.inject(redirect_fault("/units", ""))
    assert "Location" not in http.get(sandbox.base_url + "/units", allow_redirects=False).headers
    posted = requests.post(sandbox.control_url + "/faults", json={"kind": "redirect", "location": "https://x.example/"})
    assert posted.status_code == 201 and posted.json()["status"] == 302


@pytest.mark.parametrize("status", [401, 400])
def test_echo_credentials_quotes_the_key_it_was_sent_in_an_error_body(sandbox, http, vendor_spec, auth_headers, status):
    sandbox.store.inject(echo_credentials_fault("/units", status))
    assert requests.get(sandbox.base_url + "/units").status_code == 401, "a request without the key is refused as ever"
    echoed = http.get(sandbox.base_url + "/units")
    assert echoed.status_code == status and vendor_spec.errors("#/components/schemas/ErrorResponse", echoed.json()) == []
    assert auth_headers["x-propertyware-client-secret"] in echoed.json()["userMessage"]
    assert auth_headers["x-propertyware-client-id"] in echoed.json()["errors"][0]["message"]
    assert http.get(sandbox.base_url + "/units").status_code == 200


def test_trickle_sends_the_whole_answer_a_few_bytes_at_a_time(sandbox, http):
    whole = http.get(sandbox.base_url + "/units", params={"limit": 2}).content
    sandbox.store.inject(trickle_fault("/units", chunk_bytes=100, interval=0.02))
    started = time.monotonic()
    trickled = http.get(sandbox.base_url + "/units", params={"limit": 2})
    assert trickled.content == whole and trickled.headers["X-Total-Count"]
    assert time.monotonic() - started >= (len(whole) // 100) * 0.02, "one pause after each piece"


@pytest.mark.parametrize("announced", [True, False])
def test_oversized_pads_the_answer_with_json_whitespace_to_its_size(sandbox, http, announced):
    page = http.get(sandbox.base_url + "/units", params={"limit": 3}).json()
    sandbox.store.inject(oversized_fault("/units", 50_000, announce_size=announced))
    padded = http.get(sandbox.base_url + "/units", params={"limit": 3})
    assert len(padded.content) == 50_000 and padded.json() == page
    if announced:
        assert padded.headers["Content-Length"] == "50000"
    else:
        assert "Content-Length" not in padded.headers and padded.headers["Transfer-Encoding"] == "chunked"


def test_a_status_fault_or_slowdown_with_a_page_offset_waits_for_the_request_at_that_offset(sandbox, http):
    sandbox.store.inject(status_fault("/units", 429, retry_after=1, page_offset=10))
    sandbox.store.slowdowns.add(Slowdown(0.01, "/units", times=1, page_offset=5))
    assert http.get(sandbox.base_url + "/units", params={"limit": 5}).status_code == 200
    assert http.get(sandbox.base_url + "/units", params={"limit": 5, "offset": 5}).status_code == 200
    assert sandbox.store.slowdowns.listed() == []
    assert http.get(sandbox.base_url + "/units", params={"limit": 5, "offset": 10}).status_code == 429
    assert sandbox.store.faults == []


def test_bad_fault_bodies_are_rejected(sandbox):
    for body in ({"kind": "explode"}, {"kind": "status", "path": "/units"}, {"kind": "status", "status": 500, "x": 1},
                 {"kind": "drop_page", "path": "/units"}, {"kind": "status", "path": "units", "status": 500},
                 {"kind": "total_jump", "path": "/units", "jump": 5}, {"kind": "total_header", "path": "/units"},
                 {"kind": "redirect", "path": "/units"}, {"kind": "echo_credentials", "path": "/units"},
                 {"kind": "trickle", "chunk_bytes": 0}):
        assert requests.post(sandbox.control_url + "/faults", json=body).status_code == 400, body


def test_record_controls_over_http_change_what_the_api_serves(sandbox, http):
    control, base = sandbox.control_url, sandbox.base_url
    unit = http.get(base + "/units", params={"limit": 1}).json()[0]
    patched = requests.patch(f"{control}/records/units/{unit['id']}", params={"at": "2030-01-02T03:04:05Z"},
                             json={"name": "Penthouse"})
    assert patched.status_code == 200 and patched.json()["lastModifiedDateTime"] == "2030-01-02T03:04:05Z"
    window = http.get(base + "/units", params={"lastModifiedDateTimeStart": "2030-01-01T00:00:00Z"}).json()
    assert [(u["id"], u["name"]) for u in window] == [(unit["id"], "Penthouse")]
    created = requests.post(f"{control}/records/vendors", json={"name": "New Vendor", "active": True})
    assert created.status_code == 201 and created.json()["id"] == sandbox.store.next_id("vendors") - 1
    assert http.get(f"{base}/vendors/{created.json()['id']}").json()["name"] == "New Vendor"
    assert requests.delete(f"{control}/records/vendors/{created.json()['id']}").status_code == 204
    assert http.get(f"{base}/vendors/{created.json()['id']}").status_code == 404
    assert requests.delete(f"{control}/records/vendors/{created.json()['id']}").status_code == 404
    assert requests.post(f"{control}/records/gadgets", json={}).status_code == 404


def test_request_log_counts_vendor_requests_only(sandbox, http):
    sandbox.store.clear_requests_log()
    http.get(sandbox.base_url + "/units", params={"limit": 3, "offset": 6})
    http.get(sandbox.base_url + "/units/1")
    requests.get(sandbox.control_url + "/health")
    assert sandbox.store.requests_log == [("GET", "/units", {"limit": "3", "offset": "6"}), ("GET", "/units/1", {})]
    listed = requests.get(sandbox.control_url + "/requests").json()
    assert {k: v for k, v in listed[0].items() if k != "at"} == {
        "method": "GET", "path": "/units", "query": {"limit": "3", "offset": "6"}}
    assert listed[0]["at"] <= listed[1]["at"] <= time.monotonic(), "arrival times, on the sandbox's monotonic clock"
    assert requests.delete(sandbox.control_url + "/requests").json() == {"cleared": 2}
    assert sandbox.store.requests_log == [] and sandbox.store.request_times == []


def test_store_mutation_api():
    store = SandboxStore(units=30)
    unit = store.records("units")[0]
    version = store.version
    updated = store.update("units", unit["id"], at=datetime(2031, 1, 1, tzinfo=timezone.utc), name="X")
    assert updated["lastModifiedDateTime"] == "2031-01-01T00:00:00Z" and store.version == version + 1
    assert store.update("units", unit["id"], lastModifiedDateTime="2020-01-01T00:00:00Z")["lastModifiedDateTime"] \
        == "2020-01-01T00:00:00Z"
    building = next(b for b in store.records("buildings") if b["active"])
    store.deactivate("buildings", building["id"], cascade=True)
    assert all(not u["active"] for u in store.records("units") if u["buildingID"] == building["id"])
    with pytest.raises(KeyError):
        store.update("units", 1, name="nobody")


def test_generated_portfolio_is_deterministic():
    assert generate_portfolio(300, seed=5, anchor=ANCHOR) == generate_portfolio(300, seed=5, anchor=ANCHOR)
    assert generate_portfolio(300, seed=5, anchor=ANCHOR) != generate_portfolio(300, seed=6, anchor=ANCHOR)
    hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    latest = max(u["lastModifiedDateTime"] for u in generate_portfolio(50)["units"])
    assert datetime.fromisoformat(latest) <= hour - timedelta(days=7)


def test_generated_portfolio_respects_the_documented_ratios():
    data = generate_portfolio(5000, seed=7, anchor=ANCHOR)
    buildings, units, leases, orders = data["buildings"], data["units"], data["leases"], data["workorders"]
    assert len(units) == 5000 and all(1 <= b["countUnit"] <= 40 for b in buildings)
    assert sum(b["countUnit"] for b in buildings) == 5000 and any(b["countUnit"] == 1 for b in buildings)
    for records in data.values():
        ids = [r["id"] for r in records]
        assert ids == sorted(set(ids)) and all(i > 0 for i in ids)
        assert all(ANCHOR - timedelta(days=731) <= datetime.fromisoformat(r["lastModifiedDateTime"])
                   <= ANCHOR - timedelta(days=7) and r["createdDateTime"] <= r["lastModifiedDateTime"]
                   for r in records)
    dead = {b["id"] for b in buildings if not b["active"]}
    assert 0.015 < len(dead) / len(buildings) < 0.05
    assert all(not u["active"] for u in units if u["buildingID"] in dead)
    alone = sum(not u["active"] and u["buildingID"] not in dead for u in units) / len(units)
    assert 0.01 < alone < 0.03
    assert 0.1 < sum(not lease["active"] for lease in leases) / len(leases) < 0.2
    active_statuses = [lease["status"] for lease in leases if lease["active"]]
    assert 0.6 < sum(status.lower() == "active" for status in active_statuses) / len(active_statuses) < 0.95
    assert len(set(active_statuses)) >= 6 and any(len(status) >= 500 for status in active_statuses)
    dead_units = {u["id"] for u in units if not u["active"]}
    assert any(lease["unitID"] in dead_units for lease in leases if not lease["active"])
    contacts = [c for lease in leases for c in lease["contacts"]]
    assert len({c["id"] for c in contacts}) == len(contacts)
    assert all(1 <= len(lease["contacts"]) <= 3 for lease in leases)
    assert all([c["role"].strip().lower() for c in lease["contacts"] if c["primary"]] == ["tenant"] for lease in leases)
    roles = collections.Counter(c["role"].strip().lower() for c in contacts)
    others = len(contacts) - roles["tenant"] - roles["occupant"]
    assert 0.06 < roles["occupant"] / len(contacts) < 0.14 and 0.02 < others / len(contacts) < 0.08
    assert {"Tenant", "TENANT", "tenant", "Occupant", "Guarantor", "Co-Signer"} <= {c["role"].strip() for c in contacts}
    missing = sum(c["email"] is None for c in contacts) / len(contacts)
    malformed = sum(c["email"] is not None and not VALID_EMAIL.match(c["email"]) or ".." in (c["email"] or "")
                    for c in contacts) / len(contacts)
    assert 0.025 < missing < 0.055 and 0.01 < malformed < 0.03
    mine = sum((o["managedBy"] or "").strip().lower() == SANDBOX_INTEGRATION_USER for o in orders) / len(orders)
    blank = sum(not (o["managedBy"] or "").strip() for o in orders) / len(orders)
    assert 0.55 < mine < 0.65 and 0.07 < blank < 0.13
    assert any(o["managedBy"] != (o["managedBy"] or "").strip() for o in orders)
    assert 0.4 < len(orders) / len(units) < 0.6 and 0.4 < sum(o["lease"] is not None for o in orders) / len(orders) < 0.6
    active_names = {(lease["unitID"], lease["leaseName"]) for lease in leases if lease["active"]}
    assert all((o["unitID"], o["lease"]) in active_names for o in orders if o["lease"])
    assert 0.003 < sum(o["buildingID"] in dead for o in orders) / len(orders) < 0.02
    active_portfolios = [p for p in data["portfolios"] if p["active"]]
    assert len(data["vendors"]) == 100 and len(buildings) / 30 < len(active_portfolios) < len(buildings) / 12
    assert {b["portfolioID"] for b in buildings} == {p["id"] for p in active_portfolios}
    assert all(1 <= len(p["owners"]) <= 2 for p in data["portfolios"])
    active_leases = {lease["id"] for lease in leases if lease["active"]}
    assert {c["leaseID"] for c in data["charges"]} == active_leases


def test_absent_values_are_left_out_unless_emit_nulls_is_asked_for(http):
    for emit_nulls in (False, True):
        with SandboxServer(units=40, seed=2, emit_nulls=emit_nulls) as server:
            leases = http.get(server.base_url + "/leases", params={"limit": 500}).json()
            active = next(lease for lease in leases if lease["active"])
            assert ("moveOutDate" in active) is emit_nulls
            assert (active.get("moveOutDate", "absent") is None) is emit_nulls
