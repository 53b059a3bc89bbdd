"""The sandbox answers over HTTP exactly as the vendor's OpenAPI spec and API overview describe."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import requests

from sandbox import SANDBOX_CLIENT_SECRET, SandboxServer
from sandbox.constants import ENTITY_PATHS

HIDDEN_WHEN_DEACTIVATED = ("buildings", "units", "portfolios")
BY_ID_PATHS = {"buildings": "/buildings/{buildingID}", "units": "/units/{unitID}", "leases": "/leases/{leaseId}",
               "workorders": "/workorders/{workOrderId}", "vendors": "/vendors/{vendorID}",
               "portfolios": "/portfolios/{portfolioID}"}
VENDOR_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
VARIANTS = [
    {},
    {"limit": 7},
    {"limit": 5, "offset": 3},
    {"limit": 500, "orderby": "id asc"},
    {"orderby": "lastModifiedDateTime desc,id asc"},
    {"orderby": "ID DESC", "limit": 20},
]


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(units=60) as server:
        yield server


@pytest.fixture(scope="module")
def big_sandbox():
    with SandboxServer(units=700, seed=11) as server:
        yield server


@pytest.fixture(scope="module")
def http(auth_headers):
    with requests.Session() as session:
        session.headers.update(auth_headers)
        yield session


def visible(server: SandboxServer, entity: str, include_deactivated: bool = False) -> list[dict]:
    records = server.store.records(entity)
    if entity in HIDDEN_WHEN_DEACTIVATED and not include_deactivated:
        records = [r for r in records if r.get("active") is not False]
    return records


def total_of(response: requests.Response) -> int:
    assert "X-Total-Count" in response.headers, f"{response.url} has no X-Total-Count"
    return int(response.headers["X-Total-Count"])


def fetch_all(http, url: str, limit: int, **params) -> tuple[list[dict], int]:
    records, offset, totals = [], 0, set()
    while True:
        response = http.get(url, params={"limit": limit, "offset": offset, **params})
        assert response.status_code == 200, response.text
        page = response.json()
        totals.add(total_of(response))
        records += page
        offset += limit
        if offset >= total_of(response):
            break
    assert len(totals) == 1
    return records, totals.pop()


def test_every_endpoint_the_sandbox_serves_has_a_schema_in_the_vendor_spec(vendor_spec):
    for path in ENTITY_PATHS.values():
        schema = vendor_spec.resolve(vendor_spec.response_schema_ref(path))
        assert schema.get("type") == "array" and "$ref" in schema.get("items", {}), f"GET {path}: {schema}"
        headers = vendor_spec.spec["paths"][path]["get"]["responses"]["200"].get("headers", {})
        assert "X-Total-Count" in headers, f"GET {path} does not document X-Total-Count"
    for path in BY_ID_PATHS.values():
        assert "$ref" in vendor_spec.resolve(vendor_spec.response_schema_ref(path))
    for path in ENTITY_PATHS.values():
        vendor_spec.response_schema_ref(path, status="401")


@pytest.mark.parametrize("entity", list(ENTITY_PATHS))
@pytest.mark.parametrize("params", VARIANTS, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()) or "defaults")
def test_list_pages_are_valid_against_the_vendor_schema(sandbox, http, vendor_spec, entity, params):
    path = ENTITY_PATHS[entity]
    response = http.get(sandbox.base_url + path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, list)
    assert vendor_spec.errors(vendor_spec.response_schema_ref(path), body) == []
    expected = visible(sandbox, entity)
    assert total_of(response) == len(expected)
    assert len(body) == min(params.get("limit", 100), max(len(expected) - params.get("offset", 0), 0))
    for record in body:
        for key, value in record.items():
            if key.endswith("DateTime"):
                assert VENDOR_DATETIME.match(value), f"{entity} {record['id']} {key}={value!r}"


@pytest.mark.parametrize("entity", list(ENTITY_PATHS))
def test_paging_concatenates_to_the_full_id_ordered_list(sandbox, http, entity):
    url = sandbox.base_url + ENTITY_PATHS[entity]
    expected = [r["id"] for r in visible(sandbox, entity)]
    assert expected, f"the 60-unit sandbox has no {entity}"
    for params in ({}, {"orderby": "id asc"}):
        records, total = fetch_all(http, url, 7, **params)
        ids = [r["id"] for r in records]
        assert ids == expected and len(set(ids)) == len(ids) == total


@pytest.mark.parametrize("orderby, key", [
    ("lastModifiedDateTime desc,id asc", lambda r: (-datetime.fromisoformat(r["lastModifiedDateTime"]).timestamp(), r["id"])),
    ("NAME asc", lambda r: (r["name"].casefold(), r["id"])),
    ("id desc", lambda r: -r["id"]),
])
def test_orderby_sorts_by_case_insensitive_property_names(sandbox, http, orderby, key):
    records, _ = fetch_all(http, sandbox.base_url + "/units", 9, orderby=orderby)
    assert [r["id"] for r in records] == [r["id"] for r in sorted(visible(sandbox, "units"), key=key)]


def test_unknown_orderby_property_is_a_400_error_response(sandbox, http, vendor_spec):
    response = http.get(sandbox.base_url + "/units", params={"orderby": "colour asc"})
    assert response.status_code == 400
    assert vendor_spec.errors(vendor_spec.response_schema_ref("/units", "400"), response.json()) == []
    assert "colour" in response.json()["userMessage"]


def test_default_limit_is_100_and_limit_above_500_is_capped_at_500(big_sandbox, http):
    url = big_sandbox.base_url + "/units"
    total = len(visible(big_sandbox, "units"))
    assert total > 500
    default = http.get(url)
    assert len(default.json()) == 100 and total_of(default) == total
    capped = http.get(url, params={"limit": 1000})
    assert capped.status_code == 200 and len(capped.json()) == 500 and total_of(capped) == total
    rest = http.get(url, params={"limit": 1000, "offset": 500})
    assert len(rest.json()) == total - 500
    assert [r["id"] for r in capped.json() + rest.json()] == [r["id"] for r in visible(big_sandbox, "units")]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": "ten"}, {"offset": -1}])
def test_out_of_range_paging_values_are_rejected(sandbox, http, params):
    assert http.get(sandbox.base_url + "/units", params=params).status_code == 400


@pytest.mark.parametrize("name", ["Limit", "OFFSET"])
def test_wrong_case_limit_or_offset_is_404_as_the_spec_says(sandbox, http, name):
    assert http.get(sandbox.base_url + "/units", params={name: 5}).status_code == 404


@pytest.mark.parametrize("entity", HIDDEN_WHEN_DEACTIVATED)
def test_include_deactivated_adds_the_deactivated_records(sandbox, http, entity):
    url = sandbox.base_url + ENTITY_PATHS[entity]
    default = {r["id"] for r in fetch_all(http, url, 500)[0]}
    everything, total = fetch_all(http, url, 500, includeDeactivated="true")
    deactivated = {r["id"] for r in sandbox.store.records(entity) if r["active"] is False}
    assert deactivated, f"the sandbox has no deactivated {entity}"
    assert {r["id"] for r in everything} == default | deactivated and not default & deactivated
    assert total == len(sandbox.store.records(entity))
    assert {r["id"] for r in fetch_all(http, url, 500, includeDeactivated="false")[0]} == default


def test_last_modified_window_is_inclusive_and_accepts_offsets(sandbox, http):
    url = sandbox.base_url + "/units"
    units = visible(sandbox, "units")
    stamp = sorted(u["lastModifiedDateTime"] for u in units)[len(units) // 2]
    moment = datetime.fromisoformat(stamp)
    same = [u["id"] for u in units if u["lastModifiedDateTime"] == stamp]
    exact = http.get(url, params={"lastModifiedDateTimeStart": stamp, "lastModifiedDateTimeEnd": stamp})
    assert [u["id"] for u in exact.json()] == same and total_of(exact) == len(same)
    in_berlin = moment.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert [u["id"] for u in http.get(url, params={"lastModifiedDateTimeStart": in_berlin,
                                                   "lastModifiedDateTimeEnd": in_berlin}).json()] == same
    after = http.get(url, params={"lastModifiedDateTimeStart": stamp, "limit": 500})
    assert total_of(after) == sum(u["lastModifiedDateTime"] >= stamp for u in units)
    later = (moment + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert not set(same) & {u["id"] for u in http.get(url, params={"lastModifiedDateTimeStart": later,
                                                                    "limit": 500}).json()}


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T00:00:00Z", "2024-05-01"])
def test_malformed_window_bound_is_a_400_naming_the_parameter(sandbox, http, vendor_spec, value):
    response = http.get(sandbox.base_url + "/leases", params={"lastModifiedDateTimeEnd": value})
    assert response.status_code == 400
    assert "lastModifiedDateTimeEnd" in response.json()["userMessage"]
    assert vendor_spec.errors(vendor_spec.response_schema_ref("/leases", "400"), response.json()) == []


@pytest.mark.parametrize("path, parameter, entity, field", [
    ("/units", "buildingID", "buildings", "buildingID"),
    ("/leases", "unitID", "units", "unitID"),
    ("/leases", "buildingID", "buildings", "buildingID"),
    ("/workorders", "buildingID", "buildings", "buildingID"),
    ("/leases/charges", "leaseID", "leases", "leaseID"),
    ("/leases/payments", "leaseID", "leases", "leaseID"),
])
def test_id_filters_narrow_the_list_and_the_total(sandbox, http, path, parameter, entity, field):
    entity_of_path = {p: e for e, p in ENTITY_PATHS.items()}[path]
    records = visible(sandbox, entity_of_path)
    target = max((r[field] for r in records), key=lambda v: sum(r[field] == v for r in records))
    response = http.get(sandbox.base_url + path, params={parameter: target, "limit": 500})
    expected = [r["id"] for r in records if r[field] == target]
    assert [r["id"] for r in response.json()] == expected and total_of(response) == len(expected)


def test_vendor_active_filter(sandbox, http):
    for flag in (True, False):
        response = http.get(sandbox.base_url + "/vendors", params={"active": str(flag).lower()})
        assert [v["id"] for v in response.json()] == [v["id"] for v in visible(sandbox, "vendors")
                                                      if v["active"] is flag]


@pytest.mark.parametrize("entity", list(BY_ID_PATHS))
def test_get_by_id_matches_the_list_and_the_schema(sandbox, http, vendor_spec, entity):
    listed = http.get(sandbox.base_url + ENTITY_PATHS[entity], params={"limit": 3}).json()
    for record in listed:
        response = http.get(f"{sandbox.base_url}{ENTITY_PATHS[entity]}/{record['id']}")
        assert response.status_code == 200 and response.json() == record
        assert vendor_spec.errors(vendor_spec.response_schema_ref(BY_ID_PATHS[entity]), response.json()) == []


def test_get_by_id_of_an_unknown_unit_is_404(sandbox, http, vendor_spec):
    response = http.get(f"{sandbox.base_url}/units/{sandbox.store.next_id('units') + 1000}")
    assert response.status_code == 404
    assert vendor_spec.errors("#/components/schemas/ErrorResponse", response.json()) == []


def test_deactivated_records_are_still_served_by_id(sandbox, http):
    unit = next(u for u in sandbox.store.records("units") if u["active"] is False)
    assert http.get(f"{sandbox.base_url}/units/{unit['id']}").json()["active"] is False


@pytest.mark.parametrize("header, value", [
    ("x-propertyware-client-secret", "wrong-secret"),
    ("x-propertyware-client-secret", None),
    ("x-propertyware-client-id", "someone-else"),
    ("x-propertyware-system-id", "2002"),
])
def test_bad_credentials_get_401_without_echoing_the_secret(sandbox, auth_headers, vendor_spec, header, value):
    headers = {k: v for k, v in auth_headers.items() if k != header}
    if value is not None:
        headers[header] = value
    for path in ("/units", "/units/1", "/leases/charges"):
        response = requests.get(sandbox.base_url + path, headers=headers)
        assert response.status_code == 401
        assert vendor_spec.errors(vendor_spec.response_schema_ref("/units", "401"), response.json()) == []
        assert SANDBOX_CLIENT_SECRET not in response.text and "wrong-secret" not in response.text


def test_unknown_vendor_path_is_a_404_error_response(sandbox, http, vendor_spec):
    for path in ("/Units", "/unitz", "/../v2/units"):
        response = http.get(sandbox.base_url + path)
        assert response.status_code == 404
        assert vendor_spec.errors("#/components/schemas/ErrorResponse", response.json()) == []


def test_a_payment_received_through_the_control_api_keeps_the_ledger_in_the_vendor_schema(http, vendor_spec):
    with SandboxServer(units=20, seed=3) as server:
        lease = next(l for l in server.store.records("leases") if l["active"] and l["leaseBalance"] > 0)
        open_due = sum(c["amountDue"] for c in server.store.records("charges") if c["leaseID"] == lease["id"])
        posted = requests.post(f"{server.control_url}/leases/{lease['id']}/payments", json={"amount": 25.5}, timeout=10)
        assert posted.status_code == 201, posted.text

        payments = http.get(server.base_url + "/leases/payments", params={"leaseID": lease["id"]}).json()
        charges = http.get(server.base_url + "/leases/charges", params={"leaseID": lease["id"]}).json()
        fetched = http.get(f"{server.base_url}/leases/{lease['id']}").json()
        assert vendor_spec.errors(vendor_spec.response_schema_ref("/leases/payments"), payments) == []
        assert vendor_spec.errors(vendor_spec.response_schema_ref("/leases/charges"), charges) == []
        assert vendor_spec.errors(vendor_spec.response_schema_ref("/leases/{leaseId}"), fetched) == []
        assert posted.json()["payment"]["id"] in [p["id"] for p in payments]
        assert fetched["leaseBalance"] == round(lease["leaseBalance"] - 25.5, 2)
        assert round(sum(c["amountDue"] for c in charges), 2) == round(max(open_due - 25.5, 0), 2)
        refused = requests.post(f"{server.control_url}/leases/{lease['id']}/payments", json={"amount": "x"}, timeout=10)
        assert refused.status_code == 400
