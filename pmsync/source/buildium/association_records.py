"""Buildium's association side (the spec's AssociationMessage, AssociationUnitMessage,
AssociationOwnershipAccountMessage, AssociationOwnerMessage) and the platform rows they become."""

from __future__ import annotations

from typing import Any

from pmsync.source.buildium.parts import (
    ASSOCIATION,
    ASSOCIATION_OWNER,
    ASSOCIATION_UNIT,
    OWNERS_GROUP,
    OWNERSHIP_ACCOUNT,
    AddressMessage,
    BuildiumId,
    BuildiumRecord,
    Part,
    PhoneNumberMessage,
    PropertyManagerMessage,
    best_phone,
    kinds,
    property_candidate,
    unit_candidate,
)
from schemas.records import Candidate
from schemas.source_values import SourceDate


class AssociationRecord(BuildiumRecord):
    """An association (GET /v1/associations) → property of kind "association"."""

    Name: str | None = None
    IsActive: bool | None = None
    Address: AddressMessage | None = None
    AssociationManager: PropertyManagerMessage | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        manager = self.AssociationManager
        return [property_candidate(self.id, ASSOCIATION, self.Name, self.IsActive, self.Address, manager, raw)]


class AssociationUnitRecord(BuildiumRecord):
    """An association unit (GET /v1/associations/units) → unit of its association."""

    AssociationId: BuildiumId | None = None
    UnitNumber: str | None = None
    Address: AddressMessage | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        association = self.AssociationId
        return [unit_candidate(self.id, ASSOCIATION_UNIT, association, ASSOCIATION, self.UnitNumber, self.Address, raw)]


class OwnershipAccountRecord(BuildiumRecord):
    """An ownership account (GET /v1/associations/ownershipaccounts) → ownership account of its association unit:
    its owners, status, purchase and sale dates, delinquency status (`active`: its status is Active)."""

    AssociationId: BuildiumId | None = None
    UnitId: BuildiumId | None = None
    Status: str | None = None
    DateOfPurchase: SourceDate | None = None
    DateOfSale: SourceDate | None = None
    Comments: str | None = None
    AssociationOwnerIds: list[BuildiumId] | None = None
    DelinquencyStatus: str | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        columns = {
            "status": self.Status,
            "active": self.Status == "Active",
            "purchase_date": self.DateOfPurchase,
            "sale_date": self.DateOfSale,
            "delinquency_status": self.DelinquencyStatus,
            "owner_source_ids": list(self.AssociationOwnerIds or []),
            "comments": self.Comments,
            "source_data": raw,
            "source_modified_at": None,
        }
        facts = {"source_kind": OWNERSHIP_ACCOUNT, "parent_kinds": kinds(unit=ASSOCIATION_UNIT, property=ASSOCIATION)}
        return [Candidate("ownership_account", self.id, columns, {"unit": self.UnitId, "property": self.AssociationId},
                          facts, raw)]


class OwnedAccount(Part):
    """An entry of an owner's OwnershipAccounts (the spec's AssociationOwnershipAccountMessage, as nested)."""

    Id: BuildiumId | None = None
    UnitId: BuildiumId | None = None
    Status: str | None = None
    DateOfPurchase: SourceDate | None = None
    DateOfSale: SourceDate | None = None


NO_ACCOUNT = OwnedAccount()


class AssociationOwnerRecord(BuildiumRecord):
    """An association owner (GET /v1/associations/owners) → a resident in the group "Owners" per ownership account.

    Every account becomes a candidate (an owner without any, one candidate with no unit), with the facts a rule decides
    on: `unit_agreement_active` (the account's status is Active), `role` "owner", the account's id and status. The
    purchase and sale dates are the move-in and move-out dates."""

    FirstName: str | None = None
    LastName: str | None = None
    Email: str | None = None
    PhoneNumbers: list[PhoneNumberMessage] | None = None
    OccupiesUnit: bool | None = None
    OwnershipAccounts: list[OwnedAccount] | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        return [self._resident(account, raw) for account in self.OwnershipAccounts or [NO_ACCOUNT]]

    def _resident(self, account: OwnedAccount, raw: dict[str, Any]) -> Candidate:
        columns = {
            "first_name": self.FirstName,
            "last_name": self.LastName,
            "email": self.Email,
            "phone": best_phone(self.PhoneNumbers),
            "role": "Owner",
            "group_name": OWNERS_GROUP,
            "move_in_date": account.DateOfPurchase,
            "move_out_date": account.DateOfSale,
            "source_modified_at": None,
        }
        facts = {
            "role": "owner",
            "unit_agreement_active": account.Status == "Active",
            "unit_agreement_kind": OWNERSHIP_ACCOUNT,
            "unit_agreement_source_id": account.Id,
            "ownership_account_status": account.Status,
            "ownership_account_source_id": account.Id,
            "occupies_unit": self.OccupiesUnit,
            "source_kind": ASSOCIATION_OWNER,
            "parent_kinds": kinds(unit=ASSOCIATION_UNIT, ownership_account=OWNERSHIP_ACCOUNT),
        }
        parents = {"unit": account.UnitId, "lease": None, "ownership_account": account.Id}
        return Candidate("resident", self.id, columns, parents, facts, raw)
