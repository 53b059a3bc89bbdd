"""People in a generated portfolio: staff, property managers, owners, lease contacts and vendors."""

from __future__ import annotations

import random

from . import vocab

_MALFORMED_EMAILS = (
    "{first}.{last}@@example.com",
    "{first}.{last}(at)example.com",
    "{first}.{last}@example",
    "{first} {last}@example.com",
    "{first}.{last}@example..com",
)
_NEAR_MISS_USERS = ("pmsync@sandbox.example.com", "pmsync2@sandbox.example", "pm.sync@sandbox.example")


def _local_part(name: str) -> str:
    return name.lower().replace("'", "").replace(" ", "")


class PeopleFactory:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.staff = [self.full_name() for _ in range(8)]
        self.staff_emails = [self.staff_address(first, last) for first, last in self.staff]
        self.manager_emails: list[str] = []

    def full_name(self) -> tuple[str, str]:
        return self.rng.choice(vocab.FIRST_NAMES), self.rng.choice(vocab.LAST_NAMES)

    def staff_address(self, first: str, last: str) -> str:
        return f"{_local_part(first)}.{_local_part(last)}@{vocab.STAFF_DOMAIN}"

    def staff_email(self) -> str:
        return self.rng.choice(self.staff_emails)

    def staff_name(self) -> str:
        return " ".join(self.rng.choice(self.staff))

    def other_user_email(self) -> str:
        if self.rng.random() < 0.03:
            return self.rng.choice(_NEAR_MISS_USERS)
        return self.rng.choice(self.manager_emails or self.staff_emails)

    def phone(self) -> str:
        return f"({self.rng.randint(201, 989)}) 555-01{self.rng.randint(0, 99):02d}"

    def email(self, first: str, last: str) -> str:
        suffix = str(self.rng.randint(1, 999)) if self.rng.random() < 0.5 else ""
        return f"{_local_part(first)}.{_local_part(last)}{suffix}@{self.rng.choice(vocab.EMAIL_DOMAINS)}"

    def manager(self, index: int) -> dict:
        first, last = self.full_name()
        email = self.staff_address(first, last)
        if email in self.manager_emails:
            email = email.replace("@", f"{index}@")
        self.manager_emails.append(email)
        return {"id": 9_001 + index * 7, "userID": 501 + index, "name": f"{first} {last}", "email": email,
                "roleAsString": "Property Manager"}

    def owner(self) -> dict:
        rng = self.rng
        first, last = self.full_name()
        city, state, zip3 = rng.choice(vocab.CITIES)
        return {
            "id": 0, "firstName": first, "lastName": last, "name": f"{first} {last}",
            "email": self.email(first, last), "mobilePhone": self.phone(),
            "address": {"address": f"{rng.randint(100, 9999)} {rng.choice(vocab.STREETS)} {rng.choice(vocab.STREET_SUFFIXES)}",
                        "city": city, "stateRegion": state, "postalCode": f"{zip3}{rng.randint(1, 99):02d}",
                        "country": "USA"},
        }

    def lease_contacts(self) -> list[dict]:
        rng = self.rng
        r = rng.random()
        count = 1 if r < 0.5 else 2 if r < 0.85 else 3
        contacts = [self.contact("Tenant", primary=True)]
        for _ in range(count - 1):
            v = rng.random()
            role = "Occupant" if v < 0.254 else "Guarantor" if v < 0.381 else "Tenant"
            shared_last = contacts[0]["lastName"] if role != "Guarantor" and rng.random() < 0.5 else None
            contacts.append(self.contact(role, primary=False, last=shared_last))
        return contacts

    def contact(self, role: str, *, primary: bool, last: str | None = None) -> dict:
        rng = self.rng
        first, random_last = self.full_name()
        last = last or random_last
        r = rng.random()
        if r < 0.04:
            email = None
        elif r < 0.06:
            email = rng.choice(_MALFORMED_EMAILS).format(first=_local_part(first), last=_local_part(last))
        else:
            email = self.email(first, last)
        return {
            "id": 0, "firstName": first, "lastName": last, "email": email, "mobilePhone": self.phone(),
            "homePhone": self.phone() if rng.random() < 0.3 else None, "role": role, "primary": primary,
            "namedOnLease": role != "Occupant",
        }

    def vendor(self) -> dict:
        rng = self.rng
        first, last = self.full_name()
        trade, vendor_type = rng.choice(vocab.VENDOR_TRADES)
        city, state, zip3 = rng.choice(vocab.CITIES)
        company = f"{last} {trade}"
        terms, days = rng.choice((("Net 15", 15), ("Net 30", 30), ("Net 30", 30), ("Due on receipt", 0)))
        return {
            "id": 0, "name": company, "companyName": company, "type": vendor_type, "active": rng.random() < 0.9,
            "email": f"office@{_local_part(last)}-{trade.split()[0].lower()}.example",
            "phone": self.phone(), "address": f"{rng.randint(100, 9999)} {rng.choice(vocab.STREETS)} {rng.choice(vocab.STREET_SUFFIXES)}",
            "city": city, "state": state, "zip": f"{zip3}{rng.randint(1, 99):02d}", "country": "USA",
            "eligible1099": rng.random() < 0.7, "paymentTerms": terms, "paymentTermDaysToPay": days, "taxId": f"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}",
        }
