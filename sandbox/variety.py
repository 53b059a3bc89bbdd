"""The variety real accounts have, laid over a generated portfolio: custom and mixed-case free strings, long values,
and every value of the spec's enums for the fields the sandbox sends.

It draws from its own random stream, so a portfolio's shape (ids, counts, which leases are active) is the same with
or without it; only the values change. Who lives in a unit does not change either: resident roles keep their
meaning under any case, and custom roles replace guarantors only.
"""

from __future__ import annotations

import random

LEASE_STATUSES_ACTIVE = ("Active",) * 8 + ("ACTIVE", "active", "Active - Notice Given", "Month-to-Month",
                         "Holdover", "Renewal Pending")
LEASE_STATUSES_PAST = ("Inactive",) * 4 + ("Past", "Moved Out", "Evicted", "TERMINATED", "closed - collections")
WORK_ORDER_STATUSES = ("Waiting on Vendor", "open", "IN PROGRESS", "Pending Approval", "Completed - Billed",
                       "On Hold (tenant away)", "Estimate Requested")
WORK_ORDER_CATEGORIES = ("plumbing", "HVAC / Heating", "Appliances & Fixtures", "Roof/Gutters", "Turnover - Paint")
WORK_ORDER_TYPES = ("service request", "Warranty Claim", "CapEx Project", "Owner Request")
RESIDENT_ROLES = {"Tenant": ("Tenant",) * 8 + ("TENANT", "tenant", " Tenant "), "Occupant": ("Occupant",) * 3 + ("occupant", "OCCUPANT")}
OTHER_ROLES = ("Guarantor",) * 3 + ("guarantor", "Co-Signer", "Emergency Contact", "Parent/Guardian (pays rent)")
BUILDING_CATEGORIES = ("RESIDENTIAL", "COMMERCIAL")
PROPERTY_TYPES = ("NONE", "APARTMENT", "CONDO", "COMMERCIAL", "DU_FOUR_PLEX", "HOUSE", "SECTION_8_AFFORDABLE", "SENIOR",
                  "SHORT_TERM_VACATION", "STUDENT", "TOWNHOUSE", "OTHER")
AREA_UNITS = ("Sq Ft", "Sq M")
PAYMENT_TYPES = ("CHECK", "CHECK21", "CASHIERS_CHECK", "CREDIT_CARD", "CASH", "MONEY_ORDER", "OTHER", "CLICKPAY",
                 "SECTION8", "EPAY", "ECHECK", "NACHA", "RENTMONEY", "PUBLIC_ASSISTANCE", "PAYMENT_TYPE_NA")
PRIORITIES = ("HIGH", "MEDIUM", "LOW")
LONG_TEXT = 500


def long_text(rng: random.Random, start: str) -> str:
    """A value of LONG_TEXT characters or more, as a pasted note or a run-on custom label gives."""
    words = ("tenant", "reports", "again", "see", "previous", "ticket", "vendor", "note:", "urgent", "unit", "access",
             "code", "call", "before", "entering", "Ünïcödé", "—", "#2")
    text = start
    while len(text) < LONG_TEXT:
        text += " " + rng.choice(words)
    return text


def vary(portfolio: dict[str, list[dict]], seed: int) -> None:
    """Lay the variety over the portfolio in place (deterministic per seed)."""
    rng = random.Random(f"pmsync-sandbox-variety/{seed}")
    _buildings(rng, portfolio["buildings"], portfolio["units"])
    renamed = _leases(rng, portfolio["leases"])
    _workorders(rng, portfolio["workorders"], renamed)
    for position, payment in enumerate(portfolio["payments"][: len(PAYMENT_TYPES)]):
        payment["paymentType"] = PAYMENT_TYPES[position]


def _buildings(rng: random.Random, buildings: list[dict], units: list[dict]) -> None:
    category_of = {}
    for position, building in enumerate(buildings):
        if position < len(PROPERTY_TYPES):
            building["propertyType"] = PROPERTY_TYPES[position]
        elif rng.random() < 0.2:
            building["propertyType"] = rng.choice(PROPERTY_TYPES)
        building["category"] = BUILDING_CATEGORIES[position % 2] if position < 2 else (
            "COMMERCIAL" if building["propertyType"] == "COMMERCIAL" or rng.random() < 0.05 else "RESIDENTIAL")
        if position == 2 or rng.random() < 0.01:
            building["name"] = long_text(rng, building["name"])
        category_of[building["id"]] = building["category"]
    for position, unit in enumerate(units):
        unit["category"] = category_of.get(unit["buildingID"], "RESIDENTIAL")
        if position < len(AREA_UNITS) or rng.random() < 0.1:
            unit["areaUnits"] = AREA_UNITS[position % 2] if position < len(AREA_UNITS) else "Sq M"


def _leases(rng: random.Random, leases: list[dict]) -> dict[tuple[int, str], str]:
    """Vary the leases; returns the new name of each renamed lease by (unit id, old name)."""
    renamed = {}
    for position, lease in enumerate(leases):
        statuses = LEASE_STATUSES_ACTIVE if lease["active"] else LEASE_STATUSES_PAST
        if lease["status"] != "Terminated" or rng.random() < 0.5:
            lease["status"] = rng.choice(statuses)
        if position == 1 or rng.random() < 0.02:
            lease["status"] = long_text(rng, lease["status"] + " (custom status)")
        if position == 3 or rng.random() < 0.01:
            renamed[(lease["unitID"], lease["leaseName"])] = long_text(rng, lease["leaseName"])
            lease["leaseName"] = renamed[(lease["unitID"], lease["leaseName"])]
        for contact in lease["contacts"]:
            role = contact["role"]
            contact["role"] = rng.choice(RESIDENT_ROLES[role]) if role in RESIDENT_ROLES else rng.choice(OTHER_ROLES)
            if rng.random() < 0.01:
                contact["lastName"] = long_text(rng, contact["lastName"] + "-")
    return renamed


def _workorders(rng: random.Random, workorders: list[dict], renamed: dict[tuple[int, str], str]) -> None:
    for position, order in enumerate(workorders):
        order["lease"] = renamed.get((order["unitID"], order["lease"]), order["lease"])
        if position < len(PRIORITIES):
            order["priority"] = PRIORITIES[position]
        if position == 0 or rng.random() < 0.25:
            order["status"] = rng.choice(WORK_ORDER_STATUSES)
        if position == 1 or rng.random() < 0.2:
            order["category"] = rng.choice(WORK_ORDER_CATEGORIES)
        if position == 2 or rng.random() < 0.15:
            order["type"] = rng.choice(WORK_ORDER_TYPES)
        if position == 3 or rng.random() < 0.03:
            order["description"] = long_text(rng, order["description"] + ".")
        if position == 4:
            order["category"] = long_text(rng, "Custom category:")
