"""The filters each served Buildium list declares in the spec, by lower-case parameter name, over a record's view
(the record itself; for a work order, with its task under `_task`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable

from .data import UPDATED
from .ledger import TRANSACTION_TYPES
from .shapes import DELINQUENCY_STATUSES, LEASE_TYPES, TASK_PRIORITIES, TASK_STATUSES, TASK_TYPES

ACCOUNT_STATUSES = ("Active", "Past", "Future")


@dataclass(frozen=True)
class Filter:
    kind: str
    """int, str, enum, bool, number, since, until (a window bound on `get`'s epoch seconds), contains (text)."""
    get: Callable[[dict], Any]
    array: bool = False
    choices: tuple[str, ...] = ()
    date_only: bool = False
    match: Callable[[Any, Any], bool] | None = None

    def test(self, wanted: Any) -> Callable[[dict], bool]:
        get, match = self.get, self.match
        if match is not None:
            return lambda view: match(get(view), wanted)
        if self.kind == "since":
            return lambda view: get(view) is not None and get(view) >= wanted
        if self.kind == "until":
            return lambda view: get(view) is not None and get(view) <= wanted
        if self.kind == "contains":
            needle = wanted.casefold()
            return lambda view: needle in (get(view) or "").casefold()
        if self.array:
            return lambda view: get(view) in wanted
        return lambda view: get(view) == wanted


def _field(name: str) -> Callable[[dict], Any]:
    return lambda view: view.get(name)


def _task(name: str) -> Callable[[dict], Any]:
    return lambda view: (view.get("_task") or {}).get(name)


def _updated(view: dict) -> int | None:
    return view.get(UPDATED)


def _created(view: dict) -> int | None:
    text = view.get("CreatedDateTime")
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) if text else None


def _window(date_only: bool = False) -> dict[str, Filter]:
    return {"lastupdatedfrom": Filter("since", _updated, date_only=date_only),
            "lastupdatedto": Filter("until", _updated, date_only=date_only)}


def _ids(get: Callable[[dict], Any]) -> Filter:
    return Filter("int", get, array=True)


def _any_of(values, wanted) -> bool:
    return bool(set(values or ()) & wanted)


def _active_status(values: tuple[str, str]) -> Filter:
    return Filter("enum", lambda view: values[0] if view.get("IsActive") else values[1], choices=values)


def _task_filters(get: Callable[[str], Callable[[dict], Any]]) -> dict[str, Filter]:
    def entity_type(view: dict) -> str | None:
        return (get("Property")(view) or {}).get("Type")

    def entity_id(view: dict) -> int | None:
        return (get("Property")(view) or {}).get("Id")

    return {"entitytype": Filter("enum", entity_type, choices=("Rental", "RentalOwner", "Association")),
            "entityid": Filter("int", entity_id),
            "statuses": Filter("enum", get("TaskStatus"), array=True, choices=TASK_STATUSES),
            "type": Filter("enum", get("TaskType"), choices=TASK_TYPES),
            "unitid": Filter("int", get("UnitId")),
            "priorities": Filter("enum", get("Priority"), array=True, choices=TASK_PRIORITIES),
            "assignedtoid": Filter("int", get("AssignedToUserId")),
            "duedatefrom": Filter("since", lambda v: _day(get("DueDate")(v)), date_only=True),
            "duedateto": Filter("until", lambda v: _day(get("DueDate")(v)), date_only=True),
            **_window(date_only=True)}


def _day(text: str | None) -> int | None:
    if not text:
        return None
    return int(datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc).timestamp())


FILTERS: dict[str, dict[str, Filter]] = {
    "rentals": {"propertyids": _ids(_field("Id")), "status": _active_status(("Active", "InActive")),
                "types": Filter("enum", _field("RentalType"), array=True, choices=("Residential", "Commercial")),
                "subtypes": Filter("enum", _field("RentalSubType"), array=True,
                                   choices=("CondoTownhome", "MultiFamily", "SingleFamily", "Industrial", "Office",
                                            "Retail", "ShoppingCenter", "Storage", "ParkingSpace")),
                "location": Filter("contains", lambda v: " ".join(str(x) for x in (v.get("Address") or {}).values() if x)),
                "rentalownerids": Filter("int", _field("_owner_ids"), array=True, match=_any_of),
                **_window()},
    "rentalunits": {"propertyids": _ids(_field("PropertyId")), **_window()},
    "leases": {"propertyids": _ids(_field("PropertyId")),
               "rentalownerids": Filter("int", _field("_owner_ids"), array=True, match=_any_of),
               "unitnumber": Filter("str", _field("UnitNumber")),
               "leasetypes": Filter("enum", _field("LeaseType"), array=True, choices=LEASE_TYPES),
               "leasestatuses": Filter("enum", _field("LeaseStatus"), array=True, choices=ACCOUNT_STATUSES),
               "createddatetimefrom": Filter("since", _created), "createddatetimeto": Filter("until", _created),
               **_window()},
    "rentalowners": {"propertyids": Filter("int", _field("PropertyIds"), array=True, match=_any_of),
                     "status": _active_status(("Active", "Inactive")), **_window()},
    "vendors": {"status": _active_status(("Active", "Inactive")), "name": Filter(
        "contains", lambda v: " ".join(x for x in (v.get("FirstName"), v.get("LastName"), v.get("CompanyName")) if x)),
                "email": Filter("contains", _field("PrimaryEmail")), **_window()},
    "tasks": {**_task_filters(_field), "tasktitle": Filter("contains", _field("Title"))},
    "workorders": {**_task_filters(_task), "vendorids": _ids(_field("VendorId")), "taskids": _ids(_task("Id")),
                   "title": Filter("contains", _task("Title")),
                   "amountfrom": Filter("number", _field("Amount"), match=lambda amount, low: amount >= low),
                   "amountto": Filter("number", _field("Amount"), match=lambda amount, high: amount <= high)},
    "associations": {"ids": _ids(_field("Id")), "status": _active_status(("Active", "InActive")),
                     "location": Filter("contains", lambda v: " ".join(str(x) for x in (v.get("Address") or {}).values() if x)),
                     **_window()},
    "associationunits": {"associationids": _ids(_field("AssociationId")), **_window()},
    "ownershipaccounts": {"ids": _ids(_field("Id")), "associationids": _ids(_field("AssociationId")),
                          "status": Filter("enum", _field("Status"), array=True, choices=ACCOUNT_STATUSES),
                          "delinquencystatuses": Filter("enum", _field("DelinquencyStatus"), array=True,
                                                        choices=DELINQUENCY_STATUSES)},
    "associationowners": {"associationids": Filter("int", lambda v: [a["AssociationId"] for a in v.get("OwnershipAccounts") or ()],
                                                   array=True, match=_any_of),
                          "statuses": Filter("enum", lambda v: [a["Status"] for a in v.get("OwnershipAccounts") or ()],
                                             array=True, choices=ACCOUNT_STATUSES, match=_any_of),
                          "name": Filter("contains", lambda v: f"{v.get('FirstName') or ''} {v.get('LastName') or ''}"),
                          "email": Filter("contains", _field("Email")),
                          "createddatetimefrom": Filter("since", _created), "createddatetimeto": Filter("until", _created),
                          **_window()},
    "leasebalances": {"entitytype": Filter("enum", lambda v: v.get("_owner_ids"), choices=("Rental", "RentalOwner"),
                                           match=lambda owners, kind: kind == "Rental" or bool(owners)),
                      "entityid": Filter("int", _field("PropertyId")),
                      "leasestatuses": Filter("enum", _field("_lease_status"), array=True, choices=ACCOUNT_STATUSES),
                      "leaseids": _ids(_field("LeaseId"))},
    "ownershipaccountbalances": {"associationid": Filter("int", _field("AssociationId")),
                                 "ownershipaccountstatuses": Filter("enum", _field("_account_status"), array=True,
                                                                    choices=ACCOUNT_STATUSES),
                                 "ownershipaccountids": _ids(_field("OwnershipAccountId"))},
}

LEDGER_FILTERS = {
    "transactiondatefrom": Filter("since", _updated, date_only=True),
    "transactiondateto": Filter("until", _updated, date_only=True),
    "transactiontypes": Filter("enum", _field("TransactionTypeEnum"), array=True, choices=TRANSACTION_TYPES),
}
"""A lease's transactions (sandbox.buildium.ledger): its date window and types."""
LEASE_FILTER = Filter("int", _field("LeaseId"))
"""The lease the ledger's path names, as a filter (under ledger.LEASE_OF_PATH)."""

OWNER_ENTITY_ID = Filter("int", _field("_owner_ids"), match=lambda owners, wanted: wanted in (owners or ()))
"""`entityid` on the lease balances when `entitytype=RentalOwner`: a rental owner's id, not a rental's."""
