"""Deterministic Buildium accounts: rentals and associations sized in units, with the variety real accounts have."""

from __future__ import annotations

import random
from datetime import datetime

from ..clock import format_date, format_datetime
from ..data import anchor_timestamp
from . import shapes as s
from .associations import add_associations
from .ledger import add_credits
from .constants import ENTITIES, OTHER_STAFF_USER_IDS, SANDBOX_STAFF_USER_ID, SANDBOX_VENDOR_ID

DAY = 86_400
FIRST_IDS = {"rentals": 1000, "associations": 1000, "rentalunits": 2000, "associationunits": 2000,
             "leases": 5000, "ownershipaccounts": 5000, "tasks": 8000, "workorders": 8000, "vendors": SANDBOX_VENDOR_ID,
             "leasetransactions": 1_000,
             "users": 500_001}
"""Ids of different entity types start together on purpose: a rental and an association share ids, as in Buildium."""
UPDATED = "_updated"
"""The hidden epoch second each record last changed: Buildium filters on it but (mostly) never shows it."""


def generate_account(units: int, seed: int = 7, anchor: datetime | None = None) -> dict[str, list[dict]]:
    """Same (units, seed, anchor) gives identical output; about 70 % of the units are rental, 30 % association."""
    if units < 0:
        raise ValueError("units must be >= 0")
    return _AccountGenerator(units, seed, anchor_timestamp(anchor)).build()


class _AccountGenerator:
    def __init__(self, units: int, seed: int, anchor: int):
        self.rng = random.Random(f"pmsync-buildium-sandbox/{seed}")
        self.anchor = anchor
        self.rental_units = units - units * 3 // 10
        self.association_units = units - self.rental_units
        self.out: dict[str, list[dict]] = {entity: [] for entity in ENTITIES}
        self.next_ids = dict(FIRST_IDS)

    def new_id(self, sequence: str) -> int:
        self.next_ids[sequence] += 1
        return self.next_ids[sequence] - 1

    def stamp(self, record: dict, oldest_days: int = 720) -> int:
        record[UPDATED] = self.anchor - self.rng.randint(DAY, oldest_days * DAY)
        return record[UPDATED]

    def build(self) -> dict[str, list[dict]]:
        self._vendors(max(5, (self.rental_units + self.association_units) // 25))
        self._rentals()
        self._rental_owners()
        self._associations()
        self._tasks()
        add_credits(self)
        return self.out

    def _vendors(self, count: int) -> None:
        rng = self.rng
        for position in range(count):
            first, last = s.person_name(rng, position)
            company = position % 3 != 1
            category = s.cycled(rng, s.VENDOR_CATEGORIES, position)
            vendor = {"Id": self.new_id("vendors"), "IsCompany": company,
                      "IsActive": position == 0 or position % 6 != 4,
                      "FirstName": s.maybe(rng, 0.5, first, "") if company else first, "LastName": last,
                      "PrimaryEmail": s.email(rng, first, last, position), "AlternateEmail": None,
                      "CompanyName": f"{last} {category[1]}" if company else None, "PhoneNumbers": s.phones(rng, position),
                      "Website": s.maybe(rng, 0.6, f"https://{last.lower()}.example.com", ""),
                      "Category": None if position % 9 == 8 else {"Id": category[0], "Name": category[1]},
                      "Address": s.maybe(rng, 0.1, s.address(rng, position)),
                      "VendorInsurance": s.maybe(rng, 0.4, {"Provider": "Acme Mutual", "PolicyNumber": f"P-{position}",
                                                            "ExpirationDate": format_datetime(self.anchor + rng.randint(-90, 400) * DAY)}),
                      "Comments": "" if position % 4 == 0 else None, "AccountNumber": s.maybe(rng, 0.5, f"A{position:05d}"),
                      "ExpenseGLAccountId": s.maybe(rng, 0.5, 6000 + position % 10),
                      "TaxInformation": s.tax_information(rng, position, f"{first} {last}")}
            self.stamp(vendor)
            self.out["vendors"].append(vendor)

    def _rentals(self) -> None:
        rng, left, position = self.rng, self.rental_units, 0
        while left > 0:
            size = min(left, 1 if rng.random() < 0.3 else rng.randint(2, 24))
            left -= size
            rental_type = s.cycled(rng, s.RENTAL_TYPES, position) if position < 3 else (
                "Commercial" if rng.random() < 0.08 else "Residential")
            subtypes = s.COMMERCIAL_SUBTYPES if rental_type == "Commercial" else s.RESIDENTIAL_SUBTYPES
            name = f"{rng.choice(s.STREETS)} {'Place' if size > 1 else 'House'} {position + 1}"
            rental = {"Id": self.new_id("rentals"), "Name": name + (" — Ünïcødé Lofts" if position % 31 == 5 else ""),
                      "StructureDescription": s.maybe(rng, 0.5, f"{size}-unit building", ""), "NumberUnits": size,
                      "IsActive": position != 1 and rng.random() > 0.05, "OperatingBankAccountId": 10 + position % 3,
                      "Reserve": float(rng.choice((0, 250, 500, 1000))), "Address": s.address(rng, position),
                      "YearBuilt": s.maybe(rng, 0.2, rng.randint(1900, 2024)), "RentalType": rental_type,
                      "RentalSubType": s.cycled(rng, subtypes, position // 3) if size > 1 or rental_type == "Commercial"
                      else "SingleFamily",
                      "RentalManager": s.manager(rng, position, rng.choice((SANDBOX_STAFF_USER_ID,) + OTHER_STAFF_USER_IDS))}
            self.stamp(rental)
            self.out["rentals"].append(rental)
            for number in range(size):
                self._rental_unit(rental, number)
            position += 1

    def _rental_unit(self, rental: dict, number: int) -> None:
        rng, position = self.rng, len(self.out["rentalunits"])
        unit = {"Id": self.new_id("rentalunits"), "PropertyId": rental["Id"],
                "BuildingName": s.maybe(rng, 0.6, rental["Name"], ""),
                "UnitNumber": "" if position % 37 == 12 else (str(100 + number) if rental["NumberUnits"] > 1 else "1"),
                "Description": s.maybe(rng, 0.7, "Corner unit, lots of light", None),
                "MarketRent": s.maybe(rng, 0.1, float(rng.randint(800, 4200))), "Address": s.address(rng, position),
                "UnitBedrooms": s.cycled(rng, s.BEDROOMS + (None,), position),
                "UnitBathrooms": s.cycled(rng, s.BATHROOMS + (None,), position),
                "UnitSize": s.maybe(rng, 0.2, rng.randint(350, 2400)), "IsUnitListed": s.maybe(rng, 0.3, False),
                "IsUnitOccupied": None}
        self.stamp(unit)
        self.out["rentalunits"].append(unit)
        unit["IsUnitOccupied"] = self._leases(rental, unit, position)

    def _leases(self, rental: dict, unit: dict, position: int) -> bool:
        """The unit's lease history (past, active, future); True when someone lives there now."""
        rng = self.rng
        if position % 9 == 4:
            return False
        statuses = ["Past"] * rng.choice((0, 0, 1, 2)) + (["Active"] if position % 8 != 6 else [])
        statuses += ["Future"] if rng.random() < 0.08 or position == 0 else []
        start = self.anchor - rng.randint(400, 2000) * DAY
        for status in statuses:
            end = start + rng.choice((180, 365, 365, 730)) * DAY
            if status == "Active":
                start, end = min(start, self.anchor - 30 * DAY), max(end, self.anchor + 30 * DAY)
            elif status == "Future":
                start, end = self.anchor + rng.randint(10, 60) * DAY, self.anchor + 400 * DAY
            self._lease(rental, unit, status, start, end)
            start = end + DAY
        return "Active" in statuses

    def _lease(self, rental: dict, unit: dict, status: str, start: int, end: int) -> None:
        rng, position = self.rng, len(self.out["leases"])
        tenant_statuses = {"Past": ["MovedOut"], "Future": ["Future"]}.get(status, ["Current"])
        tenant_statuses += {"Active": ["Current", "MovedOut", "Future"], "Past": ["MovedOut"], "Future": ["Future"]}[
            status][: rng.choice((0, 0, 1, 2, 3))]
        tenants, current = [], []
        for tenant_status in tenant_statuses:
            user_id = self.new_id("users")
            first, last = s.person_name(rng, user_id)
            tenants.append({"Id": user_id, "Status": tenant_status,
                            "MoveInDate": None if user_id % 10 == 3 else format_date(start)})
            if tenant_status == "Current":
                current.append(self._tenant(user_id, first, last, start))
        lease = {"Id": self.new_id("leases"), "PropertyId": rental["Id"], "UnitId": unit["Id"],
                 "UnitNumber": unit["UnitNumber"], "LeaseFromDate": format_date(start),
                 "LeaseToDate": None if position % 10 == 7 else format_date(end),
                 "LeaseType": s.cycled(rng, s.LEASE_TYPES, position), "LeaseStatus": status,
                 "IsEvictionPending": position % 41 == 13, "TermType": s.cycled(rng, s.TERM_TYPES, position),
                 "RenewalOfferStatus": s.cycled(rng, s.RENEWAL_OFFER_STATUSES + (None,), position),
                 "CurrentTenants": current, "CurrentNumberOfOccupants": len(current) + rng.choice((0, 0, 1)),
                 "AccountDetails": {"SecurityDeposit": s.maybe(rng, 0.2, float(rng.randint(5, 30) * 100)),
                                    "Rent": s.maybe(rng, 0.05, float(rng.randint(800, 4200)))},
                 "Cosigners": [] if position % 12 else [self._cosigner(position)],
                 "AutomaticallyMoveOutTenants": rng.random() < 0.5, "CreatedDateTime": "", "LastUpdatedDateTime": None,
                 "MoveOutData": [{"TenantId": t["Id"], "MoveOutDate": format_date(end),
                                  "NoticeGivenDate": s.maybe(rng, 0.4, format_date(end - 30 * DAY))}
                                 for t in tenants if t["Status"] == "MovedOut"],
                 "PaymentDueDay": rng.choice((1, 1, 1, 5, 15)), "Tenants": tenants}
        updated = self.stamp(lease)
        lease["CreatedDateTime"] = format_datetime(min(start, updated) - DAY)
        lease["LastUpdatedDateTime"] = format_datetime(updated)
        self.out["leases"].append(lease)
        if status != "Future" and rng.random() < 0.35:
            self._lease_balance(lease)

    def _tenant(self, user_id: int, first: str, last: str, start: int) -> dict:
        rng = self.rng
        return {"Id": user_id, "FirstName": first, "LastName": last, "Email": s.email(rng, first, last, user_id),
                "AlternateEmail": None, "PhoneNumbers": s.phones(rng, user_id),
                "CreatedDateTime": format_datetime(start - 5 * DAY),
                "EmergencyContact": s.maybe(rng, 0.6, {"Name": "Pat Doe", "RelationshipDescription": "Parent",
                                                       "Phone": "(555) 555-0100", "Email": None}),
                "DateOfBirth": s.maybe(rng, 0.5, format_date(start - rng.randint(7000, 25000) * DAY)),
                "SMSOptInStatus": s.cycled(rng, s.SMS_STATUSES + (None,), user_id % 50),
                "Address": s.maybe(rng, 0.3, s.address(rng, user_id)), "AlternateAddress": None,
                "MailingPreference": s.cycled(rng, s.MAILING_PREFERENCES + (None,), user_id % 40),
                "Leases": None, "Comment": s.maybe(rng, 0.8, "Prefers email", ""), "TaxId": None}

    def _cosigner(self, position: int) -> dict:
        rng, user_id = self.rng, self.new_id("users")
        first, last = s.person_name(rng, user_id)
        return {"Id": user_id, "FirstName": first, "LastName": last, "Email": s.email(rng, first, last, user_id),
                "AlternateEmail": None, "PhoneNumbers": s.phones(rng, position), "CreatedDateTime": None,
                "Address": None, "AlternateAddress": None, "MailingPreference": "PrimaryAddress"}

    def _lease_balance(self, lease: dict) -> None:
        buckets = [round(self.rng.choice((0, 0, 25.5, 120, 1450.75)), 2) for _ in range(4)]
        if not any(buckets):
            buckets[0] = 60.0
        self.out["leasebalances"].append({
            "LeaseId": lease["Id"], "PropertyId": lease["PropertyId"], "UnitId": lease["UnitId"],
            "Balance0To30Days": buckets[0], "Balance31To60Days": buckets[1], "Balance61To90Days": buckets[2],
            "BalanceOver90Days": buckets[3], "TotalBalance": round(sum(buckets), 2),
            "Balances": [{"GlAccountId": 4000, "TotalBalance": round(sum(buckets), 2)}],
            "PastDueEmailSentDate": None, "EvictionPendingDate": None, "IsNoticeGiven": False, UPDATED: self.anchor})

    def _associations(self) -> None:
        add_associations(self)

    def _rental_owners(self) -> None:
        rng, rentals = self.rng, self.out["rentals"]
        index, position = 0, 0
        while index < len(rentals):
            owned = rentals[index: index + rng.choice((1, 1, 1, 2, 3))]
            index += len(owned)
            user_id = self.new_id("users")
            first, last = s.person_name(rng, user_id)
            company = position % 4 == 2
            owner = {"Id": user_id, "IsCompany": company, "IsActive": position != 1 and position % 10 != 7,
                     "FirstName": None if company else first, "LastName": None if company else last,
                     "PhoneNumbers": s.phones(rng, position), "Email": s.email(rng, first, last, position),
                     "AlternateEmail": None, "Comment": s.maybe(rng, 0.7, "Wants quarterly statements", ""),
                     "Address": s.address(rng, position),
                     "ManagementAgreementStartDate": s.maybe(rng, 0.2, format_date(self.anchor - 900 * DAY)),
                     "ManagementAgreementEndDate": s.maybe(rng, 0.7, format_date(self.anchor + 300 * DAY)),
                     "CompanyName": f"{last} Holdings LLC" if company else None,
                     "PropertyIds": [r["Id"] for r in owned],
                     "TaxInformation": s.tax_information(rng, position, f"{first} {last}")}
            self.stamp(owner)
            self.out["rentalowners"].append(owner)
            position += 1

    def _tasks(self) -> None:
        """Tasks on a share of units, rental and association; most carry a work order."""
        rng = self.rng
        targets = [("Rental", u["PropertyId"], u["Id"]) for u in self.out["rentalunits"][::6]]
        targets += [("Association", u["AssociationId"], u["Id"]) for u in self.out["associationunits"][::9]]
        vendors = [v["Id"] for v in self.out["vendors"]]
        for position, (kind, property_id, unit_id) in enumerate(targets):
            category = s.cycled(rng, s.TASK_CATEGORIES + (None,), position)
            task = {"Id": self.new_id("tasks"), "TaskType": s.cycled(rng, s.TASK_TYPES, position),
                    "Category": category and {"Id": category[0], "Name": category[1], "Href": None, "SubCategory": None},
                    "Title": "Leaking faucet — kitchen" if position % 14 == 3 else f"Repair request {position + 1}",
                    "Description": s.maybe(rng, 0.3, "Tenant reports the issue again; see earlier note.", ""),
                    "Property": {"Id": property_id, "Type": kind, "Href": None},
                    "UnitId": None if position % 10 == 9 else unit_id, "UnitAgreement": None,
                    "RequestedByUserEntity": None,
                    "AssignedToUserId": SANDBOX_STAFF_USER_ID if position % 5 < 3 else rng.choice(OTHER_STAFF_USER_IDS),
                    "TaskStatus": s.cycled(rng, s.TASK_STATUSES, position),
                    "Priority": s.cycled(rng, s.TASK_PRIORITIES, position),
                    "DueDate": s.maybe(rng, 0.4, format_date(self.anchor + rng.randint(-20, 40) * DAY)),
                    "CreatedDateTime": "", "LastUpdatedDateTime": None}
            updated = self.stamp(task, 120)
            task["CreatedDateTime"] = format_datetime(updated - rng.randint(0, 20) * DAY)
            task["LastUpdatedDateTime"] = format_datetime(updated)
            self.out["tasks"].append(task)
            if position % 6 != 5:
                self.out["workorders"].append(self._work_order(task, rng.choice(vendors), position))

    def _work_order(self, task: dict, vendor_id: int, position: int) -> dict:
        rng = self.rng
        lines = [{"GlAccountId": s.maybe(rng, 0.3, 6100), "Quantity": float(rng.randint(1, 3)), "Memo": "Labor",
                  "UnitPrice": float(rng.randint(40, 400))} for _ in range(rng.choice((0, 1, 2)))]
        order = {"Id": self.new_id("workorders"), "_task_id": task["Id"],
                 "WorkDetails": s.maybe(rng, 0.3, "Replace cartridge; check shut-off valve.", ""),
                 "InvoiceNumber": s.maybe(rng, 0.6, f"INV-{position:05d}"), "ChargeableTo": s.maybe(rng, 0.7, "Owner"),
                 "EntryAllowed": s.cycled(rng, s.ENTRY_ALLOWED, position), "EntryNotes": s.maybe(rng, 0.6, "Dog", ""),
                 "VendorId": vendor_id, "VendorNotes": None, "EntryContact": None, "EntryContacts": [],
                 "BillTransactionId": None, "BillTransactionIds": [],
                 "Amount": round(sum(i["Quantity"] * i["UnitPrice"] for i in lines), 2), "LineItems": lines}
        order[UPDATED] = task[UPDATED]
        return order
