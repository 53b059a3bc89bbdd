"""What Buildium's record models share: the Id key, the nested address, phone and manager objects, record kinds, and
the platform columns and tables the models need that the platform does not have yet."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.records import Candidate, SourceRecord
from schemas.source_values import Int32

BuildiumId = Int32
"""Buildium's ids and references are `integer` / `int32` in its spec (tests/contract/buildium-openapi.json): a value
beyond int32, a string, a float or a boolean is refused by field."""

RENTAL, ASSOCIATION = "rental", "association"
RENTAL_UNIT, ASSOCIATION_UNIT = "rental_unit", "association_unit"
LEASE, LEASE_TENANT, ASSOCIATION_OWNER = "lease", "lease_tenant", "association_owner"
OWNERSHIP_ACCOUNT, WORK_ORDER = "ownership_account", "work_order"
RENTAL_OWNER, VENDOR = "rental_owner", "vendor"
"""`facts["source_kind"]` of each candidate, and the kinds in `facts["parent_kinds"]`: Buildium's ids are unique per
kind only (a rental and an association may both be 7), so the platform's keys need the kind beside the id."""

OWNERS_GROUP = "Owners"
"""The group an association owner lands in as a resident (Condo Manager's owners land in Condo Control's "Owners")."""

NEW_COLUMNS: dict[str, dict[str, str]] = {
    "property": {"kind": "VARCHAR(20): 'rental' or 'association' (Buildium); NULL for Propertyware"},
    "resident": {"group_name": "VARCHAR(120): 'Owners' for an association owner; NULL for a tenant"},
    "work_order": {"title": "TEXT: the work order's Title (Buildium's work orders have no number)"},
    "ownership_account": {
        "status": "TEXT (Active, Past, Future)",
        "purchase_date": "DATE",
        "sale_date": "DATE",
        "delinquency_status": "TEXT (NoDelinquency, InCollections, InForeclosure, Foreclosed)",
        "owner_source_ids": "JSON: the association owners' ids",
        "comments": "TEXT",
        "balance": "NUMERIC(14,2): the outstanding balance (absent from its list = 0)",
    },
}
"""Columns the Buildium candidates write that schemas/tables.py does not have (ownership_account: a new synced table,
one row per ownership account per integration, with unit_id and property_id foreign keys from its parents)."""

WRITES_INTO = {"lease_balance": "lease", "ownership_account_balance": "ownership_account"}
"""Candidate entities that update a column of another entity's rows (keyed by that row's source id), not rows of
their own: a lease's and an ownership account's outstanding balance."""


class Part(BaseModel):
    """A nested object of a Buildium record: PascalCase fields, unknown ones ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class AddressMessage(Part):
    """The spec's AddressMessage."""

    AddressLine1: str | None = None
    AddressLine2: str | None = None
    AddressLine3: str | None = None
    City: str | None = None
    State: str | None = None
    PostalCode: str | None = None
    Country: str | None = None

    def columns(self) -> dict[str, Any]:
        lines = [line for line in (self.AddressLine1, self.AddressLine2, self.AddressLine3) if line]
        return {
            "address_line": ", ".join(lines) if lines else None,
            "address_city": self.City,
            "address_state": self.State,
            "address_postal_code": self.PostalCode,
            "address_country": self.Country,
        }


NO_ADDRESS = AddressMessage()


class PhoneNumberMessage(Part):
    """The spec's PhoneNumberMessage."""

    Number: str | None = None
    Type: str | None = None


PHONE_PREFERENCE = ("Cell", "Personal", "Home", "Office", "Other", "NotSet", None, "Fax")
"""Which of a person's numbers the platform's one phone column gets: a mobile first, a fax last."""


def best_phone(phones: list[PhoneNumberMessage] | None) -> str | None:
    """The number of the most reachable kind, of those that have one; an unknown kind ranks with NotSet."""
    known = [phone for phone in phones or [] if phone.Number]
    rank = {kind: place for place, kind in enumerate(PHONE_PREFERENCE)}
    ordered = sorted(known, key=lambda phone: rank.get(phone.Type, rank[None]))
    return ordered[0].Number if ordered else None


def full_name(first: str | None, last: str | None) -> str | None:
    name = " ".join(part for part in (first, last) if part)
    return name or None


class PropertyManagerMessage(Part):
    """The spec's PropertyManagerMessage (a rental's RentalManager, an association's AssociationManager)."""

    Id: BuildiumId | None = None
    FirstName: str | None = None
    LastName: str | None = None
    CompanyName: str | None = None
    IsCompany: bool | None = None
    Email: str | None = None

    def columns(self) -> dict[str, Any]:
        person = full_name(self.FirstName, self.LastName)
        name = (self.CompanyName or person) if self.IsCompany else (person or self.CompanyName)
        return {"manager_source_id": self.Id, "manager_name": name, "manager_email": self.Email}


NO_MANAGER = PropertyManagerMessage()


class BuildiumRecord(SourceRecord):
    """A listed Buildium record: its key is `Id` (int32), read as `id` like every source record's."""

    id: BuildiumId = Field(alias="Id")


def kinds(**parents: str | None) -> dict[str, str]:
    """`facts["parent_kinds"]`: the kind of each parent id (a kind not known is left out)."""
    return {parent: kind for parent, kind in parents.items() if kind is not None}


def property_candidate(
    source_id: int, kind: str, name: str | None, active: bool | None, address: AddressMessage | None,
    manager: PropertyManagerMessage | None, raw: dict[str, Any],
) -> Candidate:
    """A property row of a rental or an association (the same columns; `kind` tells them apart)."""
    columns = {
        "name": name,
        "abbreviation": None,
        **(address or NO_ADDRESS).columns(),
        "portfolio_source_id": None,
        **(manager or NO_MANAGER).columns(),
        "kind": kind,
        "source_data": raw,
        "source_modified_at": None,
    }
    facts = {"source_active": active, "source_kind": kind, "parent_kinds": {}}
    return Candidate("property", source_id, columns, facts=facts, payload=raw)


def unit_candidate(
    source_id: int, kind: str, property_id: int | None, property_kind: str, name: str | None,
    address: AddressMessage | None, raw: dict[str, Any],
) -> Candidate:
    """A unit row of a rental unit or an association unit."""
    columns = {
        "name": name,
        "abbreviation": None,
        **(address or NO_ADDRESS).columns(),
        "source_data": raw,
        "source_modified_at": None,
    }
    facts = {"source_kind": kind, "parent_kinds": kinds(property=property_kind)}
    return Candidate("unit", source_id, columns, {"property": property_id}, facts, raw)


def balance_candidate(entity: str, source_id: int, kind: str, total: Any, facts: dict, raw: dict) -> Candidate:
    """The balance of the `kind` record `source_id` (its own parent: the row whose balance column it sets)."""
    return Candidate(entity, source_id, {"balance": total}, {kind: source_id},
                     {**facts, "source_kind": kind, "parent_kinds": {kind: kind}}, raw)
