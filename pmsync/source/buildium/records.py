"""Buildium's rental properties, rental units and leases (the spec's RentalMessage, RentalUnitMessage, LeaseMessage)
and the platform rows they become; every other Buildium record model is re-exported here."""

from __future__ import annotations

from typing import Any

from pmsync.source.buildium.association_records import (
    AssociationOwnerRecord,
    AssociationRecord,
    AssociationUnitRecord,
    OwnershipAccountRecord,
)
from pmsync.source.buildium.balances import LeaseBalanceRecord, OwnershipAccountBalanceRecord
from pmsync.source.buildium.parts import (
    LEASE,
    LEASE_TENANT,
    RENTAL,
    RENTAL_UNIT,
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
from pmsync.source.buildium.people import RentalOwnerRecord, VendorRecord
from pmsync.source.buildium.work_orders import WorkOrderRecord, joined_with_task
from schemas.records import Candidate
from schemas.source_values import MoneyAmount, SourceDate, UtcMoment

__all__ = [
    "AssociationOwnerRecord",
    "AssociationRecord",
    "AssociationUnitRecord",
    "LeaseBalanceRecord",
    "LeaseRecord",
    "OwnershipAccountBalanceRecord",
    "OwnershipAccountRecord",
    "RentalOwnerRecord",
    "RentalRecord",
    "RentalUnitRecord",
    "VendorRecord",
    "WorkOrderRecord",
    "joined_with_task",
]


class RentalRecord(BuildiumRecord):
    """A rental property (GET /v1/rentals) → property of kind "rental"."""

    Name: str | None = None
    IsActive: bool | None = None
    Address: AddressMessage | None = None
    RentalManager: PropertyManagerMessage | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        return [property_candidate(self.id, RENTAL, self.Name, self.IsActive, self.Address, self.RentalManager, raw)]


class RentalUnitRecord(BuildiumRecord):
    """A rental unit (GET /v1/rentals/units) → unit of its rental."""

    PropertyId: BuildiumId | None = None
    UnitNumber: str | None = None
    Address: AddressMessage | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        return [unit_candidate(self.id, RENTAL_UNIT, self.PropertyId, RENTAL, self.UnitNumber, self.Address, raw)]


class LeaseTenantMessage(Part):
    """An entry of a lease's Tenants (the spec's LeaseTenantMessage): every tenant the lease ever had."""

    Id: BuildiumId
    Status: str | None = None
    MoveInDate: SourceDate | None = None


class TenantMessage(Part):
    """An entry of a lease's CurrentTenants (the spec's TenantMessage): a current tenant's name and contacts."""

    Id: BuildiumId | None = None
    FirstName: str | None = None
    LastName: str | None = None
    Email: str | None = None
    PhoneNumbers: list[PhoneNumberMessage] | None = None


class LeaseMoveOutDataMessage(Part):
    """An entry of a lease's MoveOutData (the spec's LeaseMoveOutDataMessage)."""

    TenantId: BuildiumId | None = None
    MoveOutDate: SourceDate | None = None


class LeaseAccountDetailMessage(Part):
    Rent: MoneyAmount | None = None


class LeaseRecord(BuildiumRecord):
    """A lease (GET /v1/leases, every status) → lease, and a resident candidate per tenant in its Tenants.

    Every tenant becomes a candidate, with the facts a rule decides on: `role` is "tenant" only for a tenant whose
    status is Current ("movedout tenant", "future tenant" otherwise), `lease_active` is whether the lease's status is
    Active (so pmsync.sync.rules.LivesOnActiveLease excludes the others with a reason). A current tenant listed only in
    CurrentTenants (not in Tenants) is a candidate with no status. Names and contacts come from CurrentTenants; the
    lease's move-in is its tenants' earliest, its move-out their latest (MoveOutData); its balance comes from the
    outstanding-balance list (balances.LeaseBalanceRecord), so a lease read leaves it as it is."""

    PropertyId: BuildiumId | None = None
    UnitId: BuildiumId | None = None
    UnitNumber: str | None = None
    LeaseFromDate: SourceDate | None = None
    LeaseToDate: SourceDate | None = None
    LeaseStatus: str | None = None
    LeaseType: str | None = None
    AccountDetails: LeaseAccountDetailMessage | None = None
    CurrentTenants: list[TenantMessage] | None = None
    Tenants: list[LeaseTenantMessage] | None = None
    MoveOutData: list[LeaseMoveOutDataMessage] | None = None
    LastUpdatedDateTime: UtcMoment | None = None

    @property
    def active(self) -> bool:
        """Whether the lease is Active (what the engine's hash check compares with the lease row's `active`)."""
        return self.LeaseStatus == "Active"

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        active = self.active
        moves_out = {move.TenantId: move.MoveOutDate for move in self.MoveOutData or [] if move.MoveOutDate}
        move_ins = [tenant.MoveInDate for tenant in self.Tenants or [] if tenant.MoveInDate]
        current = [tenant for tenant in self.CurrentTenants or [] if tenant.Id is not None]
        lease = Candidate(
            "lease",
            self.id,
            {
                "name": None,
                "status": self.LeaseStatus,
                "active": active,
                "start_date": self.LeaseFromDate,
                "end_date": self.LeaseToDate,
                "move_in_date": min(move_ins, default=None),
                "move_out_date": max(moves_out.values(), default=None),
                "base_rent": self.AccountDetails.Rent if self.AccountDetails else None,
                "primary_contact_source_id": current[0].Id if current else None,
                "source_data": raw,
                "source_modified_at": self.LastUpdatedDateTime,
            },
            {"unit": self.UnitId, "property": self.PropertyId},
            {"source_kind": LEASE, "parent_kinds": kinds(unit=RENTAL_UNIT, property=RENTAL)},
            raw,
        )
        listed = {tenant.Id for tenant in self.Tenants or []}
        people = {tenant.Id: tenant for tenant in current}
        unlisted = [tenant_id for tenant_id in dict.fromkeys(t.Id for t in current) if tenant_id not in listed]
        entries = [*(self.Tenants or []), *(LeaseTenantMessage(Id=tenant_id) for tenant_id in unlisted)]
        residents = [self._resident(entry, people.get(entry.Id), moves_out.get(entry.Id), raw) for entry in entries]
        return [lease, *residents]

    def _resident(
        self, entry: LeaseTenantMessage, person: TenantMessage | None, move_out: Any, raw: dict[str, Any]
    ) -> Candidate:
        person, active = person or TenantMessage(), self.LeaseStatus == "Active"
        role = "tenant" if entry.Status == "Current" else f"{(entry.Status or 'unlisted').lower()} tenant"
        columns = {
            "first_name": person.FirstName,
            "last_name": person.LastName,
            "email": person.Email,
            "phone": best_phone(person.PhoneNumbers),
            "role": "Tenant",
            "group_name": None,
            "move_in_date": entry.MoveInDate,
            "move_out_date": move_out,
            "source_modified_at": self.LastUpdatedDateTime,
        }
        facts = {
            "role": role,
            "tenant_status": entry.Status,
            "lease_active": active,
            "lease_status": self.LeaseStatus,
            "lease_source_id": self.id,
            "unit_agreement_active": active,
            "unit_agreement_kind": LEASE,
            "unit_agreement_source_id": self.id,
            "source_kind": LEASE_TENANT,
            "parent_kinds": kinds(unit=RENTAL_UNIT, lease=LEASE),
        }
        parents = {"unit": self.UnitId, "lease": self.id, "ownership_account": None}
        return Candidate("resident", entry.Id, columns, parents, facts, raw)
