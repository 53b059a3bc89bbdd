"""Buildium's rental owners and vendors (the spec's RentalOwnerMessage, VendorMessage) → owners, service providers."""

from __future__ import annotations

from typing import Any

from pmsync.source.buildium.parts import (
    OWNERS_GROUP,
    RENTAL_OWNER,
    VENDOR,
    BuildiumId,
    BuildiumRecord,
    Part,
    PhoneNumberMessage,
    best_phone,
    full_name,
)
from schemas.records import Candidate


class RentalOwnerRecord(BuildiumRecord):
    """A rental owner (GET /v1/rentals/owners) → owner (group "Owners"); its rentals in `facts["property_ids"]`."""

    IsCompany: bool | None = None
    IsActive: bool | None = None
    FirstName: str | None = None
    LastName: str | None = None
    CompanyName: str | None = None
    Email: str | None = None
    PhoneNumbers: list[PhoneNumberMessage] | None = None
    PropertyIds: list[BuildiumId] | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        columns = {
            "group_name": OWNERS_GROUP,
            "first_name": self.FirstName,
            "last_name": self.LastName,
            "company": self.CompanyName,
            "email": self.Email,
            "phone": best_phone(self.PhoneNumbers),
            "source_data": raw,
        }
        facts = {"source_active": self.IsActive, "property_ids": list(self.PropertyIds or []),
                 "source_kind": RENTAL_OWNER, "parent_kinds": {}}
        return [Candidate("owner", self.id, columns, facts=facts, payload=raw)]


class LookupMessage(Part):
    Name: str | None = None


class VendorRecord(BuildiumRecord):
    """A vendor (GET /v1/vendors) → service provider; its category is the trade."""

    IsCompany: bool | None = None
    IsActive: bool | None = None
    FirstName: str | None = None
    LastName: str | None = None
    CompanyName: str | None = None
    PrimaryEmail: str | None = None
    PhoneNumbers: list[PhoneNumberMessage] | None = None
    Category: LookupMessage | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        person = full_name(self.FirstName, self.LastName)
        columns = {
            "company_name": self.CompanyName or (None if self.IsCompany else person),
            "contact_name": person,
            "email": self.PrimaryEmail,
            "phone": best_phone(self.PhoneNumbers),
            "trade": self.Category.Name if self.Category else None,
            "source_data": raw,
        }
        facts = {"source_active": self.IsActive, "source_kind": VENDOR, "parent_kinds": {}}
        return [Candidate("service_provider", self.id, columns, facts=facts, payload=raw)]
