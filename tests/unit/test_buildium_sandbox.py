"""The generated Buildium account: deterministic from a seed and a size, and with the variety real accounts have."""

from __future__ import annotations

import collections
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.buildium import SANDBOX_STAFF_USER_ID, SANDBOX_VENDOR_ID, BuildiumStore, generate_account
from sandbox.buildium import shapes

ANCHOR = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def account() -> dict[str, list[dict]]:
    return generate_account(120, seed=3, anchor=ANCHOR)


def values(records: list[dict], field: str) -> set:
    return {record.get(field) for record in records}


@settings(max_examples=15, deadline=None)
@given(units=st.integers(0, 90), seed=st.integers(0, 10_000))
def test_same_seed_and_size_give_the_same_account_and_the_size_is_the_unit_count(units, seed):
    first = generate_account(units, seed, ANCHOR)
    assert first == generate_account(units, seed, ANCHOR)
    assert len(first["rentalunits"]) + len(first["associationunits"]) == units
    if units >= 10:
        assert first != generate_account(units, seed + 1, ANCHOR)


def test_every_enum_value_the_spec_declares_appears(account):
    units = account["rentalunits"] + account["associationunits"]
    assert values(units, "UnitBedrooms") >= set(shapes.BEDROOMS)
    assert values(units, "UnitBathrooms") >= set(shapes.BATHROOMS)
    assert values(account["leases"], "LeaseStatus") == {"Active", "Past", "Future"}
    assert values(account["leases"], "LeaseType") == set(shapes.LEASE_TYPES)
    assert {t["Status"] for lease in account["leases"] for t in lease["Tenants"]} == {"Current", "MovedOut", "Future"}
    assert values(account["tasks"], "TaskStatus") == set(shapes.TASK_STATUSES)
    assert values(account["tasks"], "Priority") == set(shapes.TASK_PRIORITIES)
    assert values(account["tasks"], "TaskType") == set(shapes.TASK_TYPES)
    assert values(account["workorders"], "EntryAllowed") == set(shapes.ENTRY_ALLOWED)
    assert values(account["ownershipaccounts"], "DelinquencyStatus") == set(shapes.DELINQUENCY_STATUSES)
    assert values(account["ownershipaccounts"], "Status") == {"Active", "Past", "Future"}
    assert values(account["rentals"], "RentalType") == set(shapes.RENTAL_TYPES)
    phone_types = {p["Type"] for owner in account["rentalowners"] + account["vendors"] for p in owner["PhoneNumbers"] or ()}
    assert phone_types == set(shapes.PHONE_TYPES)


def test_gaps_and_unusual_text_appear_as_in_real_accounts(account):
    people = [t for lease in account["leases"] for t in lease["CurrentTenants"]] + account["associationowners"]
    assert "" in values(people, "Email") and None in values(people, "Email") and "" in values(people, "FirstName")
    assert any(not name.isascii() for name in values(people, "LastName") if name)
    assert any(not r["Name"].isascii() for r in account["rentals"] + account["associations"])
    assert None in values(account["rentalunits"], "UnitBedrooms")
    assert any(rental["RentalManager"] is None for rental in account["rentals"])
    assert "" in values(account["rentalunits"], "UnitNumber")
    phone_lists = [record["PhoneNumbers"] for record in account["vendors"] + account["associationowners"]]
    assert None in phone_lists and [] in phone_lists


def test_rental_side_shape(account):
    leased = {lease["UnitId"] for lease in account["leases"]}
    assert any(unit["Id"] not in leased for unit in account["rentalunits"]), "a unit without leases"
    assert any(not rental["IsActive"] for rental in account["rentals"])
    assert any(not owner["IsActive"] for owner in account["rentalowners"])
    assert any(not vendor["IsActive"] for vendor in account["vendors"])
    assert any(vendor["Id"] == SANDBOX_VENDOR_ID and vendor["IsActive"] for vendor in account["vendors"])
    for lease in account["leases"]:
        statuses = [t["Status"] for t in lease["Tenants"]]
        assert (lease["LeaseStatus"] != "Active") or "Current" in statuses
        assert [t["Id"] for t in lease["CurrentTenants"]] == [t["Id"] for t in lease["Tenants"] if t["Status"] == "Current"]
    active = collections.Counter(lease["UnitId"] for lease in account["leases"] if lease["LeaseStatus"] == "Active")
    assert active and max(active.values()) == 1
    owned = [p for owner in account["rentalowners"] for p in owner["PropertyIds"]]
    assert sorted(owned) == sorted(r["Id"] for r in account["rentals"])


def test_association_side_shape(account):
    per_unit = collections.defaultdict(list)
    for ownership in account["ownershipaccounts"]:
        per_unit[ownership["UnitId"]].append(ownership)
    assert max(len(history) for history in per_unit.values()) >= 2
    assert all(sum(a["Status"] == "Active" for a in history) <= 1 for history in per_unit.values())
    assert len(per_unit) < len(account["associationunits"]), "a unit with no ownership account"
    owners = {owner["Id"]: owner for owner in account["associationowners"]}
    for ownership in account["ownershipaccounts"]:
        assert ownership["AssociationOwnerIds"]
        for owner_id in ownership["AssociationOwnerIds"]:
            assert ownership["Id"] in [a["Id"] for a in owners[owner_id]["OwnershipAccounts"]]
    assert any(len(owner["OwnershipAccounts"]) > 1 for owner in owners.values())


def test_balances_leave_out_zero_and_tasks_reach_the_staff_user(account):
    assert all(b["TotalBalance"] != 0 for b in account["leasebalances"] + account["ownershipaccountbalances"])
    mine = [t for t in account["tasks"] if t["AssignedToUserId"] == SANDBOX_STAFF_USER_ID]
    assert {t["Property"]["Type"] for t in mine} == {"Rental", "Association"}
    with_orders = {o["_task_id"] for o in account["workorders"]}
    assert any(t["Id"] in with_orders for t in mine) and any(t["Id"] not in with_orders for t in account["tasks"])


def test_the_store_changes_records_without_showing_a_modified_time():
    store = BuildiumStore(units=20, seed=1, anchor=ANCHOR, rate_limit=None)
    unit = store.records("rentalunits")[0]
    changed = store.update("rentalunits", unit["Id"], at=datetime(2030, 1, 1, tzinfo=timezone.utc), UnitSize=999)
    assert changed["_updated"] == int(datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp())
    assert changed["UnitSize"] == 999 and "LastUpdatedDateTime" not in changed
    lease = store.records("leases")[0]
    assert store.update("leases", lease["Id"], at=datetime(2030, 1, 1, tzinfo=timezone.utc))[
        "LastUpdatedDateTime"] == "2030-01-01T00:00:00Z"
    with pytest.raises(ValueError):
        store.deactivate("leases", lease["Id"])
    store.delete("rentalunits", unit["Id"])
    assert store.get("rentalunits", unit["Id"]) is None
