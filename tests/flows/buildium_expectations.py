"""What a Buildium initial sync must do, worked out from the sandbox's raw records and the rules alone."""

from __future__ import annotations

import re

WELL_FORMED = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


def counts(fetched: int, created: int = 0, excluded: int = 0, parked: int = 0, quarantined: int = 0) -> dict[str, int]:
    return {"fetched": fetched, "created": created, "updated": 0, "unchanged": 0, "excluded": excluded,
            "parked": parked, "quarantined": quarantined}


def expected_rental_counts(store, staff_user_id: int) -> dict[str, dict[str, int]]:
    """Per entity: an inactive rental is excluded and its units park; a lease applies when its unit did; a resident is
    a Current tenant of an Active lease (one count per tenant id, an included copy winning); a work order applies when
    its task is assigned to the staff user and its property (a rental or an association, by the task's
    Property.Type) is on the platform, and parks otherwise; owners and vendors all apply."""
    rentals = store.records("rentals")
    active_rentals = {r["Id"] for r in rentals if r["IsActive"]}
    units = store.records("rentalunits")
    unit_ok = {u["Id"] for u in units if u["PropertyId"] in active_rentals}
    leases = store.records("leases")
    lease_ok = {lease["Id"] for lease in leases if lease["UnitId"] in unit_ok}
    tenants: dict[int, list[tuple[dict, dict]]] = {}
    for lease in leases:
        listed = {t["Id"] for t in lease["Tenants"]}
        entries = lease["Tenants"] + [{"Id": t["Id"], "Status": None} for t in lease["CurrentTenants"]
                                      if t["Id"] not in listed]
        for entry in entries:
            tenants.setdefault(entry["Id"], []).append((entry, lease))
    emails = {t["Id"]: t.get("Email") for lease in leases for t in lease["CurrentTenants"]}
    bad_email = {tid for tid, email in emails.items() if email and not WELL_FORMED.fullmatch(email)}
    included: dict[int, dict] = {}
    for tid, seen in tenants.items():
        for entry, lease in seen:
            if entry["Status"] == "Current" and lease["LeaseStatus"] == "Active":
                included.setdefault(tid, lease)
    included = {tid: lease for tid, lease in included.items() if tid not in bad_email}
    tasks = {t["Id"]: t for t in store.records("tasks")}
    # The sandbox keeps a work order's task id as `_task_id` and serves it as the work order's Task.Id.
    # The client lists only the staff user's work orders (assignedtoid).
    orders = [w for w in store.records("workorders")
              if tasks.get(w["_task_id"], {}).get("AssignedToUserId") == staff_user_id]
    mine = [w for w in orders if (tasks[w["_task_id"]].get("Property") or {}).get("Type") in ("Rental", "Association")]
    on_the_platform = {"Rental": active_rentals, "Association": {a["Id"] for a in store.records("associations")
                                                                 if a["IsActive"]}}

    def on_platform(order: dict) -> bool:
        where = tasks[order["_task_id"]].get("Property") or {}
        return where.get("Id") in on_the_platform[where["Type"]]

    return {
        "property": counts(len(rentals), created=len(active_rentals), excluded=len(rentals) - len(active_rentals)),
        "unit": counts(len(units), created=len(unit_ok), parked=len(units) - len(unit_ok)),
        "lease": counts(len(leases), created=len(lease_ok), parked=len(leases) - len(lease_ok)),
        "resident": counts(
            len(tenants),
            created=sum(lease["Id"] in lease_ok for lease in included.values()),
            excluded=len(tenants) - len(included) - len(bad_email & set(tenants)),
            parked=sum(lease["Id"] not in lease_ok for lease in included.values()),
            quarantined=len(bad_email & set(tenants)),
        ),
        "work_order": counts(len(orders), created=sum(map(on_platform, mine)), excluded=len(orders) - len(mine),
                             parked=len(mine) - sum(map(on_platform, mine))),
        "owner": counts(len(store.records("rentalowners")), created=len(store.records("rentalowners"))),
        "service_provider": counts(len(store.records("vendors")), created=len(store.records("vendors"))),
    }


def expected_association_counts(store) -> dict[str, dict[str, int]]:
    """Per entity of the association side (pmsync.sync.association_rules): an inactive association is excluded and its
    units park; an ownership account applies when its unit did; an owner is a resident (group 'Owners') while one of
    its ownership accounts is Active, parked when that account's unit is not on the platform; an owner with no Active
    account is excluded. Each (owner, account) candidate counts as fetched; the verdicts count each owner once, its
    last Active account winning (the engine's: a later included copy replaces an earlier one)."""
    associations = store.records("associations")
    active = {a["Id"] for a in associations if a["IsActive"]}
    units = store.records("associationunits")
    unit_ok = {u["Id"] for u in units if u["AssociationId"] in active}
    accounts = store.records("ownershipaccounts")
    account_ok = {a["Id"] for a in accounts if a["UnitId"] in unit_ok}
    owners = store.records("associationowners")
    emails = {o["Id"]: o.get("Email") for o in owners}
    bad_email = {oid for oid, email in emails.items() if email and not WELL_FORMED.fullmatch(email)}
    last_active = {o["Id"]: [a for a in o["OwnershipAccounts"] if a["Status"] == "Active"][-1]
                   for o in owners if any(a["Status"] == "Active" for a in o["OwnershipAccounts"])}
    included = {oid: account for oid, account in last_active.items() if oid not in bad_email}
    return {
        "association": counts(len(associations), created=len(active), excluded=len(associations) - len(active)),
        "association_unit": counts(len(units), created=len(unit_ok), parked=len(units) - len(unit_ok)),
        "ownership_account": counts(len(accounts), created=len(account_ok), parked=len(accounts) - len(account_ok)),
        "association_owner": counts(
            sum(max(1, len(o["OwnershipAccounts"])) for o in owners),
            created=sum(account["UnitId"] in unit_ok for account in included.values()),
            excluded=len(owners) - len(last_active),
            parked=sum(account["UnitId"] not in unit_ok for account in included.values()),
            quarantined=len(bad_email & set(last_active)),
        ),
    }


def platform_leases_and_accounts(store) -> tuple[set[int], set[int]]:
    """The leases and ownership accounts an initial sync puts on the platform: those whose unit's rental or
    association is active."""
    active_rentals = {r["Id"] for r in store.records("rentals") if r["IsActive"]}
    rental_units = {u["Id"] for u in store.records("rentalunits") if u["PropertyId"] in active_rentals}
    active_associations = {a["Id"] for a in store.records("associations") if a["IsActive"]}
    association_units = {u["Id"] for u in store.records("associationunits")
                         if u["AssociationId"] in active_associations}
    return ({lease["Id"] for lease in store.records("leases") if lease["UnitId"] in rental_units},
            {a["Id"] for a in store.records("ownershipaccounts") if a["UnitId"] in association_units})


BALANCE_LISTS = {"lease_balance": ("leasebalances", "LeaseId"),
                 "ownership_account_balance": ("ownershipaccountbalances", "OwnershipAccountId")}


def expected_balance_counts(store) -> dict[str, dict[str, int]]:
    """Per balance list, on a fresh platform: each entry whose lease (ownership account) is on the platform sets its
    balance (an update of that row), one whose row is not parks; then every row on the platform the list left out
    is set to zero, which is no update: the sync created that row, and 0 is its first balance."""
    on_platform = dict(zip(BALANCE_LISTS, platform_leases_and_accounts(store)))
    found = {}
    for entity, (listing, key) in BALANCE_LISTS.items():
        listed = {entry[key] for entry in store.records(listing)}
        found[entity] = {**counts(len(listed), parked=len(listed - on_platform[entity])),
                         "updated": len(listed & on_platform[entity])}
    return found


def balance_entries_applied(store) -> dict[str, int]:
    """Per balance list, the entries whose row is on the platform (a second sync finds each unchanged)."""
    on_platform = dict(zip(BALANCE_LISTS, platform_leases_and_accounts(store)))
    return {entity: len({entry[key] for entry in store.records(listing)} & on_platform[entity])
            for entity, (listing, key) in BALANCE_LISTS.items()}
