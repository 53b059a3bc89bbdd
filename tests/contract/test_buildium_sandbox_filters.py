"""The filters the spec declares on each served list: repeated array parameters, statuses, entity filters, the
date-time and date-only change windows, and ids that repeat across entity types."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from sandbox.buildium import ENTITY_PATHS, BuildiumSandboxServer
from sandbox.buildium.filters import FILTERS

from .buildium_http import HTTP_SETTINGS, assert_error_body, fetch_all, http, spec  # noqa: F401 (spec, http: fixtures)

LEASE_STATUSES = ("Active", "Past", "Future")
TASK_STATUSES = ("New", "InProgress", "Completed", "Deferred", "Closed")


@pytest.fixture(scope="module")
def sandbox():
    with BuildiumSandboxServer(units=60, seed=9, rate_limit=None) as server:
        yield server


def ids(records: list[dict], key: str = "Id") -> list[int]:
    return [record[key] for record in records]


def test_every_filter_the_sandbox_applies_is_declared_by_the_spec_on_that_list(spec):
    for entity, filters in FILTERS.items():
        declared = {name.lower() for name in spec.query_parameters(ENTITY_PATHS[entity])}
        assert set(filters) <= declared, f"{entity}: {set(filters) - declared} not in the spec"
    for path in ("/v1/rentals", "/v1/rentals/units", "/v1/leases", "/v1/rentals/owners", "/v1/vendors",
                 "/v1/associations", "/v1/associations/units", "/v1/associations/owners"):
        assert spec.query_parameters(path)["lastupdatedfrom"].get("format") == "date-time", path
    for path in ("/v1/tasks", "/v1/workorders"):
        assert spec.query_parameters(path)["lastupdatedfrom"].get("format") == "date", path
    for path in ("/v1/associations/ownershipaccounts", "/v1/leases/outstandingbalances",
                 "/v1/associations/ownershipaccounts/outstandingbalances"):
        assert "lastupdatedfrom" not in spec.query_parameters(path), path


@HTTP_SETTINGS
@given(data=st.data())
def test_repeated_propertyids_select_the_leases_and_units_of_those_rentals(sandbox, http, data):
    rentals = ids(sandbox.store.records("rentals"))
    chosen = data.draw(st.lists(st.sampled_from(rentals), min_size=1, max_size=4, unique=True))
    for entity, field in (("leases", "PropertyId"), ("rentalunits", "PropertyId")):
        records, _ = fetch_all(http, sandbox, entity, 50, propertyids=chosen)
        assert ids(records) == [r["Id"] for r in sandbox.store.records(entity) if r[field] in chosen]


@HTTP_SETTINGS
@given(statuses=st.lists(st.sampled_from(LEASE_STATUSES), min_size=1, max_size=3, unique=True),
       case=st.sampled_from((str, str.lower, str.upper)))
def test_lease_statuses_combine_as_any_of(sandbox, http, statuses, case):
    records, _ = fetch_all(http, sandbox, "leases", 40, leasestatuses=[case(s) for s in statuses])
    assert ids(records) == [r["Id"] for r in sandbox.store.records("leases") if r["LeaseStatus"] in statuses]


def test_inactive_rentals_owners_vendors_and_associations_are_listed_by_default_and_status_filters(sandbox, http):
    for entity, values in (("rentals", ("Active", "InActive")), ("rentalowners", ("Active", "Inactive")),
                           ("vendors", ("Active", "Inactive")), ("associations", ("Active", "InActive"))):
        stored = sandbox.store.records(entity)
        everything, _ = fetch_all(http, sandbox, entity, 1000)
        assert ids(everything) == ids(stored) and any(not r["IsActive"] for r in everything), entity
        active, _ = fetch_all(http, sandbox, entity, 1000, status=values[0])
        inactive, _ = fetch_all(http, sandbox, entity, 1000, status=values[1])
        assert ids(active) == [r["Id"] for r in stored if r["IsActive"]]
        assert ids(inactive) == [r["Id"] for r in stored if not r["IsActive"]]


@HTTP_SETTINGS
@given(data=st.data())
def test_work_orders_and_tasks_filter_by_entity_and_status(sandbox, http, data):
    tasks = sandbox.store.records("tasks")
    task = data.draw(st.sampled_from(tasks))
    kind, property_id = task["Property"]["Type"], task["Property"]["Id"]
    statuses = data.draw(st.lists(st.sampled_from(TASK_STATUSES), min_size=1, max_size=5, unique=True))
    expected_tasks = [t["Id"] for t in tasks
                      if t["Property"] == task["Property"] and t["TaskStatus"] in statuses]
    listed, _ = fetch_all(http, sandbox, "tasks", 9, entitytype=kind, entityid=property_id, statuses=statuses)
    assert ids(listed) == expected_tasks
    orders, _ = fetch_all(http, sandbox, "workorders", 9, entitytype=kind, entityid=property_id, statuses=statuses)
    assert sorted(o["Task"]["Id"] for o in orders) == sorted(
        o["_task_id"] for o in sandbox.store.records("workorders") if o["_task_id"] in expected_tasks)
    mine, _ = fetch_all(http, sandbox, "workorders", 50, assignedtoid=900_001)
    assert mine and all(sandbox.store.get("tasks", o["Task"]["Id"])["AssignedToUserId"] == 900_001 for o in mine)


def test_ids_repeat_across_entity_types_and_people_share_one_user_id_space(sandbox):
    store = sandbox.store
    assert set(ids(store.records("rentals"))) & set(ids(store.records("associations")))
    assert set(ids(store.records("rentalunits"))) & set(ids(store.records("associationunits")))
    assert set(ids(store.records("leases"))) & set(ids(store.records("ownershipaccounts")))
    assert set(ids(store.records("tasks"))) & set(ids(store.records("workorders")))
    tenants = [t["Id"] for lease in store.records("leases") for t in lease["Tenants"]]
    owners = ids(store.records("rentalowners"))
    association_owners = ids(store.records("associationowners"))
    assert len(set(tenants)) == len(tenants)
    assert not (set(tenants) & set(owners)) and not (set(owners) & set(association_owners))
    assert not (set(tenants) & set(association_owners))
    assert all(2**31 > i > 0 for i in tenants + owners + association_owners)


def test_the_change_window_filters_on_the_hidden_change_time_as_date_time(sandbox, http, spec):
    at = datetime(2031, 3, 4, 10, 30, tzinfo=timezone.utc)
    touched = requests.post(sandbox.control_url + "/records/rentalunits/sample/touch",
                            params={"at": at.isoformat()}, json={"share": 0.2, "seed": 3}).json()["ids"]
    window = {"lastupdatedfrom": (at - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "lastupdatedto": (at + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    records, _ = fetch_all(http, sandbox, "rentalunits", 5, **window)
    assert ids(records) == touched and "LastUpdatedDateTime" not in records[0]
    after, _ = fetch_all(http, sandbox, "rentalunits", 5, lastupdatedfrom="2031-03-04T10:30:01+00:00")
    assert after == []
    assert_error_body(spec, http.get(sandbox.base_url + "/v1/rentals/units",
                                     params={"lastupdatedfrom": "yesterday"}), 400)


def test_tasks_and_work_orders_filter_on_whole_days_and_refuse_a_date_time(sandbox, http, spec):
    day = datetime(2032, 7, 8, tzinfo=timezone.utc)
    early, late = day + timedelta(minutes=5), day + timedelta(hours=23, minutes=55)
    orders = ids(sandbox.store.records("workorders"))
    for order_id, at in ((orders[0], early), (orders[1], late)):
        requests.patch(f"{sandbox.control_url}/records/workorders/{order_id}", params={"at": at.isoformat()}, json={})
    task_id = sandbox.store.get("workorders", orders[0])["_task_id"]
    requests.patch(f"{sandbox.control_url}/records/tasks/{task_id}", params={"at": late.isoformat()}, json={})
    same_day, _ = fetch_all(http, sandbox, "workorders", 5, lastupdatedfrom="2032-07-08", lastupdatedto="2032-07-08")
    assert ids(same_day) == orders[:2]
    next_day, _ = fetch_all(http, sandbox, "workorders", 5, lastupdatedfrom="2032-07-09")
    assert next_day == []
    tasks, _ = fetch_all(http, sandbox, "tasks", 5, lastupdatedfrom="2032-07-08")
    assert ids(tasks) == [task_id] and tasks[0]["LastUpdatedDateTime"].startswith("2032-07-08T23:55")
    for path in ("/v1/tasks", "/v1/workorders"):
        body = assert_error_body(spec, http.get(sandbox.base_url + path,
                                                params={"lastupdatedfrom": "2032-07-08T00:00:00Z"}), 400)
        assert body["Errors"][0]["Key"] == "lastupdatedfrom"


def test_outstanding_balance_lists_leave_out_zero_balances_and_filter(sandbox, http):
    balances, _ = fetch_all(http, sandbox, "leasebalances", 7)
    assert balances and all(b["TotalBalance"] != 0 for b in balances)
    leases = {lease["Id"]: lease for lease in sandbox.store.records("leases")}
    assert len(balances) < len(leases)
    active, _ = fetch_all(http, sandbox, "leasebalances", 7, leasestatuses="Active")
    assert [b["LeaseId"] for b in active] == [b["LeaseId"] for b in balances
                                             if leases[b["LeaseId"]]["LeaseStatus"] == "Active"]
    owner = next(o for o in sandbox.store.records("rentalowners")
                 if any(b["PropertyId"] in o["PropertyIds"] for b in balances) and len(o["PropertyIds"]) < 5)
    owned, _ = fetch_all(http, sandbox, "leasebalances", 7, entitytype="RentalOwner", entityid=owner["Id"])
    assert owned and [b["LeaseId"] for b in owned] == [
        b["LeaseId"] for b in balances if b["PropertyId"] in owner["PropertyIds"]]
    rental = balances[0]["PropertyId"]
    of_rental, _ = fetch_all(http, sandbox, "leasebalances", 7, entitytype="Rental", entityid=rental)
    assert [b["LeaseId"] for b in of_rental] == [b["LeaseId"] for b in balances if b["PropertyId"] == rental]
    accounts, _ = fetch_all(http, sandbox, "ownershipaccountbalances", 3)
    assert accounts and all(b["TotalBalance"] != 0 for b in accounts)
    association = accounts[0]["AssociationId"]
    one, _ = fetch_all(http, sandbox, "ownershipaccountbalances", 3, associationid=association)
    assert one == [b for b in accounts if b["AssociationId"] == association]


def test_an_unknown_enum_value_or_a_repeated_single_parameter_answers_400(sandbox, http, spec):
    for params in ({"leasestatuses": "Expired"}, {"status": "Gone"}, {"entityid": "x"}):
        path = "/v1/leases" if "leasestatuses" in params else "/v1/rentals" if "status" in params else "/v1/workorders"
        assert_error_body(spec, http.get(sandbox.base_url + path, params=params), 400)
    assert_error_body(spec, http.get(sandbox.base_url + "/v1/rentals", params=[("status", "Active"),
                                                                                 ("status", "InActive")]), 400)


@HTTP_SETTINGS
@given(data=st.data())
def test_rental_filters_combine_as_all_of(sandbox, http, data):
    rentals = sandbox.store.records("rentals")
    params, keep = {}, []
    if data.draw(st.booleans()):
        chosen = data.draw(st.lists(st.sampled_from([r["Id"] for r in rentals]), min_size=1, max_size=6, unique=True))
        params["propertyids"], keep = chosen, keep + [lambda r: r["Id"] in chosen]
    if data.draw(st.booleans()):
        status = data.draw(st.sampled_from(("Active", "InActive")))
        params["status"], keep = status, keep + [lambda r: r["IsActive"] == (status == "Active")]
    if data.draw(st.booleans()):
        types = data.draw(st.lists(st.sampled_from(("Residential", "Commercial")), min_size=1, unique=True))
        params["types"], keep = types, keep + [lambda r: r["RentalType"] in types]
    listed, _ = fetch_all(http, sandbox, "rentals", 4, **params)
    assert ids(listed) == [r["Id"] for r in rentals if all(test(r) for test in keep)]


@HTTP_SETTINGS
@given(data=st.data())
def test_ownership_account_filters_combine_as_all_of(sandbox, http, data):
    accounts = sandbox.store.records("ownershipaccounts")
    associations = sorted({a["AssociationId"] for a in accounts})
    chosen = data.draw(st.lists(st.sampled_from(associations), min_size=1, unique=True))
    statuses = data.draw(st.lists(st.sampled_from(LEASE_STATUSES), min_size=1, unique=True))
    delinquency = data.draw(st.lists(st.sampled_from(("NoDelinquency", "InCollections", "InForeclosure",
                                                      "Foreclosed")), min_size=1, unique=True))
    listed, _ = fetch_all(http, sandbox, "ownershipaccounts", 6, associationids=chosen, status=statuses,
                          delinquencystatuses=delinquency)
    assert ids(listed) == [a["Id"] for a in accounts if a["AssociationId"] in chosen and a["Status"] in statuses
                           and a["DelinquencyStatus"] in delinquency]
