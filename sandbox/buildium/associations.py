"""The association side of a generated Buildium account: associations, their units, ownership accounts over time,
owners and the accounts' outstanding balances."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..clock import format_date, format_datetime
from . import shapes as s
from .constants import OTHER_STAFF_USER_IDS, SANDBOX_STAFF_USER_ID

if TYPE_CHECKING:
    from .data import _AccountGenerator

DAY = 86_400


def add_associations(gen: _AccountGenerator) -> None:
    rng, left, position = gen.rng, gen.association_units, 0
    owners: dict[int, dict] = {}
    while left > 0:
        size = min(left, rng.randint(4, 40), max(2, gen.association_units // 3))
        left -= size
        association = {
            "Id": gen.new_id("associations"),
            "Name": f"{rng.choice(s.STREETS)} {'Condominium' if position % 2 else 'Homeowners'} Association"
                    + (" — Résidence Étoile" if position % 7 == 3 else ""),
            "IsActive": position != 1 and rng.random() > 0.05, "Reserve": float(rng.choice((0, 5000, 25000))),
            "Description": s.maybe(rng, 0.5, "Self-managed board, monthly dues", ""), "YearBuilt": s.maybe(rng, 0.3, rng.randint(1950, 2022)),
            "OperatingBankAccount": s.maybe(rng, 0.2, "Operating — First Bank"), "OperatingBankAccountId": 20 + position % 2,
            "Address": s.address(rng, position),
            "AssociationManager": s.manager(rng, position, rng.choice((SANDBOX_STAFF_USER_ID,) + OTHER_STAFF_USER_IDS)),
            "FiscalYearEndDay": 31, "FiscalYearEndMonth": 12 if position % 3 else 6,
            "TaxInformation": s.tax_information(rng, position, "Association", with_1099=False)}
        gen.stamp(association)
        gen.out["associations"].append(association)
        for number in range(size):
            unit_position = len(gen.out["associationunits"])
            unit = {"Id": gen.new_id("associationunits"), "AssociationId": association["Id"],
                    "AssociationName": association["Name"], "UnitNumber": f"{chr(65 + number // 20)}{number % 20 + 1}",
                    "Address": s.address(rng, unit_position),
                    "UnitBedrooms": s.cycled(rng, s.BEDROOMS + (None,), unit_position),
                    "UnitBathrooms": s.cycled(rng, s.BATHROOMS + (None,), unit_position),
                    "UnitSize": s.maybe(rng, 0.2, rng.randint(500, 3000))}
            gen.stamp(unit)
            gen.out["associationunits"].append(unit)
            _ownership_history(gen, association, unit, unit_position, owners)
        position += 1
    for owner in owners.values():
        gen.out["associationowners"].append(owner)
    gen.out["associationowners"].sort(key=lambda owner: owner["Id"])


def _ownership_history(gen: _AccountGenerator, association: dict, unit: dict, position: int,
                       owners: dict[int, dict]) -> None:
    """Past accounts (each sold on), the active one, sometimes a future one; a unit now and then has none."""
    rng = gen.rng
    if position % 10 == 6:
        return
    statuses = ["Past"] * rng.choice((0, 1, 1, 2)) + ["Active"] + (["Future"] if position % 15 == 1 else [])
    purchase = gen.anchor - rng.randint(1500, 6000) * DAY
    for status in statuses:
        sale = purchase + rng.randint(300, 1400) * DAY if status == "Past" else None
        if status == "Future":
            purchase = gen.anchor + rng.randint(5, 60) * DAY
        elif status == "Active":
            purchase = min(purchase, gen.anchor - DAY)
        account_position = len(gen.out["ownershipaccounts"])
        account = {"Id": gen.new_id("ownershipaccounts"), "AssociationId": association["Id"], "UnitId": unit["Id"],
                   "Status": status, "DateOfPurchase": format_date(purchase),
                   "DateOfSale": format_date(sale) if sale else None,
                   "Comments": s.maybe(rng, 0.7, "Transferred from estate", ""), "AssociationOwnerIds": [],
                   "DelinquencyStatus": s.cycled(rng, s.DELINQUENCY_STATUSES, account_position)
                   if account_position < 8 else ("InCollections" if rng.random() < 0.04 else "NoDelinquency")}
        gen.stamp(account)
        for _ in range(rng.choice((1, 1, 1, 2))):
            owner = _owner_for(gen, owners, account_position, status)
            account["AssociationOwnerIds"].append(owner["Id"])
            owner["OwnershipAccounts"].append({key: value for key, value in account.items() if not key.startswith("_")})
            owner["OccupiesUnit"] = status == "Active" and rng.random() < 0.7
        gen.out["ownershipaccounts"].append(account)
        if status != "Future" and rng.random() < 0.3:
            _account_balance(gen, account)
        if sale:
            purchase = sale + DAY


def _owner_for(gen: _AccountGenerator, owners: dict[int, dict], position: int, status: str) -> dict:
    """A new owner, or (now and then) one who already owns elsewhere: investors hold several accounts."""
    rng = gen.rng
    if owners and position % 17 == 9:
        return owners[rng.choice(sorted(owners))]
    user_id = gen.new_id("users")
    first, last = s.person_name(rng, user_id)
    owner = {"Id": user_id, "FirstName": first, "LastName": last, "Email": s.email(rng, first, last, user_id),
             "AlternateEmail": None, "PhoneNumbers": s.phones(rng, user_id), "PrimaryAddress": s.address(rng, user_id),
             "AlternateAddress": s.maybe(rng, 0.85, s.address(rng, user_id + 1)),
             "Comment": s.maybe(rng, 0.8, "Snowbird: mail to alternate address Nov–Apr", ""),
             "EmergencyContact": None, "OwnershipAccounts": [],
             "MailingPreference": s.cycled(rng, s.MAILING_PREFERENCES, user_id % 30),
             "Vehicles": [] if user_id % 3 else [{"Make": "Subaru", "Model": "Outback", "LicensePlateNumber": "7ABC123",
                                                  "ParkingPassNumber": None}],
             "OccupiesUnit": False,
             "BoardMemberTerms": [] if user_id % 11 else [{"Id": user_id, "AssociationId": 0,
                                                          "BoardPositionType": s.cycled(rng, s.BOARD_POSITIONS, user_id // 11 % 9),
                                                          "StartDate": format_date(gen.anchor - 300 * DAY),
                                                          "EndDate": None, "CreatedDateTime": None}],
             "CreatedDateTime": format_datetime(gen.anchor - rng.randint(30, 3000) * DAY), "TaxId": None,
             "DelinquencyStatus": "NoDelinquency"}
    gen.stamp(owner)
    owners[user_id] = owner
    return owner


def _account_balance(gen: _AccountGenerator, account: dict) -> None:
    buckets = [round(gen.rng.choice((0, 0, 85.0, 340.25, 2200)), 2) for _ in range(4)]
    if not any(buckets):
        buckets[1] = 170.0
    gen.out["ownershipaccountbalances"].append({
        "OwnershipAccountId": account["Id"], "AssociationId": account["AssociationId"], "UnitId": account["UnitId"],
        "Balance0To30Days": buckets[0], "Balance31To60Days": buckets[1], "Balance61To90Days": buckets[2],
        "BalanceOver90Days": buckets[3], "TotalBalance": round(sum(buckets), 2),
        "Balances": [{"GlAccountId": 4100, "TotalBalance": round(sum(buckets), 2)}], "PastDueEmailSentDate": None,
        "_updated": gen.anchor})
