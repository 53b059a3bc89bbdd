"""Source record models (the vendor's field names) and the candidate platform rows they become."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticSerializationError, to_json

from schemas.source_values import Int32, MoneyAmount, SourceDate, SourceId, UtcMoment, storable

BARE_NON_FINITE = re.compile(rb"[:,\[]-?(?:NaN|Infinity)")
"""A NaN or an infinity as pydantic's encoder writes them: bare, after a colon, a comma or a bracket."""


def is_storable(raw: Any) -> bool:
    """Whether `raw` (a record, or a page's list of them) holds nothing that `storable` would change: no NUL (its JSON
    has no \\u0000 escape), no lone surrogate (it encodes as UTF-8), no NaN or infinity (a lenient parser reads them
    where the models do not look; the encoder writes them bare). One pass in pydantic's Rust encoder; a value it
    cannot encode counts as not storable, so the caller takes the careful path."""
    try:
        encoded = to_json(raw)
    except PydanticSerializationError:
        return False
    if b"\\u0000" in encoded:
        return False
    return not (b"NaN" in encoded or b"Infinity" in encoded) or BARE_NON_FINITE.search(encoded) is None


@dataclass
class Candidate:
    """A would-be platform row for one source record, before the sync rules decide its fate."""

    entity: str
    source_id: int
    columns: dict[str, Any]
    parents: dict[str, int | None] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)


class SourceRecord(BaseModel):
    """Fields every listed source record has.

    The models read the vendor's spec (tests/contract/propertyware-openapi.json) and hold only what the platform's
    columns can store: ids and references int64 (BIGINT), int32 numbers (INTEGER), money within NUMERIC(14,2), and
    enum fields no longer than their column. A record a model refuses is quarantined by the quality gate, by field.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: SourceId
    lastModifiedDateTime: UtcMoment | None = None
    createdDateTime: UtcMoment | None = None

    @classmethod
    def raw_id(cls, raw: dict[str, Any]) -> Any:
        """The id as `raw` (this model's source JSON) carries it, under the key the model reads its id from (the
        vendor's: its alias, if it has one); None when absent."""
        return raw.get(cls.model_fields["id"].alias or "id")

    def candidates(self, raw: dict[str, Any], *, storable_already: bool = False) -> list[Candidate]:
        """The platform rows this record becomes, its text made storable (see schemas.source_values.storable).

        Most records hold nothing to clean; they are found so in one pass of the JSON encoder (`is_storable`), and
        their rows are built from `raw` as it is. `storable_already`: the caller found the whole page so.
        """
        if storable_already or is_storable(raw):
            return self.rows(raw)
        clean = storable(raw)
        found = self.rows(clean)
        for candidate in found:
            candidate.columns = {
                name: value if value is clean else storable(value) for name, value in candidate.columns.items()
            }
            candidate.facts = {name: storable(value) for name, value in candidate.facts.items()}
        return found

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        raise NotImplementedError(f"{type(self).__name__} must say which platform rows it becomes")

    def ledger_read(self, raw: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """The charges and payments a ledger record read without making rows of them (a lease's transactions added
        up into its balance), each in a platform charge's or payment's fields: {"charges": [...], "payments": [...]}."""
        return {}


class Address(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    address: str | None = None
    addressCont: str | None = None
    city: str | None = None
    stateRegion: str | None = None
    postalCode: str | None = None
    country: str | None = None

    def columns(self) -> dict[str, Any]:
        return {
            "address_line": self.address,
            "address_city": self.city,
            "address_state": self.stateRegion,
            "address_postal_code": self.postalCode,
            "address_country": self.country,
        }


EMPTY_ADDRESS = Address()


class PropertyManager(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: SourceId | None = None
    userID: SourceId | None = None
    name: str | None = None
    email: str | None = None


class BuildingRecord(SourceRecord):
    name: str | None = None
    abbreviation: str | None = None
    active: bool | None = None
    address: Address | None = None
    portfolioID: SourceId | None = None
    propertyManagerList: list[PropertyManager] | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        manager = (self.propertyManagerList or [PropertyManager()])[0]
        columns = {
            "name": self.name,
            "abbreviation": self.abbreviation,
            **(self.address or EMPTY_ADDRESS).columns(),
            "portfolio_source_id": self.portfolioID,
            "manager_source_id": manager.userID or manager.id,
            "manager_name": manager.name,
            "manager_email": manager.email,
            "source_data": raw,
            "source_modified_at": self.lastModifiedDateTime,
        }
        return [Candidate("property", self.id, columns, facts={"source_active": self.active}, payload=raw)]


class UnitRecord(SourceRecord):
    name: str | None = None
    abbreviation: str | None = None
    active: bool | None = None
    buildingID: SourceId | None = None
    address: Address | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        columns = {
            "name": self.name,
            "abbreviation": self.abbreviation,
            **(self.address or EMPTY_ADDRESS).columns(),
            "source_data": raw,
            "source_modified_at": self.lastModifiedDateTime,
        }
        return [
            Candidate(
                "unit", self.id, columns, {"property": self.buildingID}, {"source_active": self.active}, raw
            )
        ]


class LeaseContact(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: SourceId
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None
    mobilePhone: str | None = None
    homePhone: str | None = None
    workPhone: str | None = None
    role: str | None = None
    primary: bool | None = None


class LeaseRecord(SourceRecord):
    leaseName: str | None = None
    unitID: SourceId | None = None
    buildingID: SourceId | None = None
    active: bool | None = None
    status: str | None = None
    startDate: SourceDate | None = None
    endDate: SourceDate | None = None
    moveInDate: SourceDate | None = None
    moveOutDate: SourceDate | None = None
    scheduleMoveOutDate: SourceDate | None = None
    baseRent: MoneyAmount | None = None
    leaseBalance: MoneyAmount | None = None
    contacts: list[LeaseContact] | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        move_out = self.moveOutDate or self.scheduleMoveOutDate
        lease = Candidate(
            "lease",
            self.id,
            {
                "name": self.leaseName,
                "status": self.status,
                "active": bool(self.active),
                "start_date": self.startDate,
                "end_date": self.endDate,
                "move_in_date": self.moveInDate,
                "move_out_date": move_out,
                "base_rent": self.baseRent,
                "balance": self.leaseBalance,
                "primary_contact_source_id": next((c.id for c in self.contacts or [] if c.primary), None),
                "source_data": raw,
                "source_modified_at": self.lastModifiedDateTime,
            },
            {"unit": self.unitID, "property": self.buildingID},
            payload=raw,
        )
        residents = [
            Candidate(
                "resident",
                contact.id,
                {
                    "first_name": contact.firstName,
                    "last_name": contact.lastName,
                    "email": contact.email,
                    "phone": contact.mobilePhone or contact.homePhone or contact.workPhone,
                    "role": contact.role,
                    "move_in_date": self.moveInDate,
                    "move_out_date": move_out,
                    "source_modified_at": self.lastModifiedDateTime,
                },
                {"unit": self.unitID, "lease": self.id},
                {"role": contact.role, "lease_active": self.active, "lease_source_id": self.id},
                raw,
            )
            for contact in self.contacts or []
        ]
        return [lease, *residents]


class WorkOrderRecord(SourceRecord):
    number: Int32 | None = None
    buildingID: SourceId | None = None
    unitID: SourceId | None = None
    description: str | None = None
    priority: Annotated[str, StringConstraints(max_length=20)] | None = None
    status: str | None = None
    type: str | None = None
    category: str | None = None
    managedBy: str | None = None
    requestedBy: str | None = None
    lease: str | None = None
    searchTag: str | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        columns = {
            "number": self.number,
            "description": self.description,
            "priority": self.priority,
            "status": self.status,
            "category": self.category,
            "type": self.type,
            "managed_by": self.managedBy,
            "requested_by": self.requestedBy,
            "lease_name": self.lease,
            "origin": "source",
            "source_data": raw,
            "source_modified_at": self.lastModifiedDateTime,
        }
        parents = {"property": self.buildingID, "unit": self.unitID}
        facts = {"managed_by": self.managedBy, "search_tag": self.searchTag}
        return [Candidate("work_order", self.id, columns, parents, facts, raw)]


class ChargeRecord(SourceRecord):
    """A lease charge (the vendor's ChargeTx)."""

    leaseID: SourceId | None = None
    postDate: SourceDate | None = Field(None, alias="date")
    amount: MoneyAmount | None = None
    amountDue: MoneyAmount | None = None
    amountPaid: MoneyAmount | None = None
    glAccountID: SourceId | None = None
    refNo: str | None = None
    comments: str | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        columns = {
            "post_date": self.postDate,
            "amount": self.amount,
            "amount_due": self.amountDue,
            "amount_paid": self.amountPaid,
            "gl_account_source_id": self.glAccountID,
            "ref_no": self.refNo,
            "comments": self.comments,
            "active": True,
            "source_data": raw,
            "source_modified_at": self.lastModifiedDateTime,
        }
        return [Candidate("charge", self.id, columns, {"lease": self.leaseID}, payload=raw)]


class PaymentRecord(SourceRecord):
    """A lease payment (the vendor's Payment)."""

    leaseID: SourceId | None = None
    contactID: SourceId | None = None
    postDate: SourceDate | None = Field(None, alias="date")
    amount: MoneyAmount | None = None
    paymentType: Annotated[str, StringConstraints(max_length=40)] | None = None
    refNo: str | None = None
    depositDate: SourceDate | None = None
    isDeposited: bool | None = None
    comments: str | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        columns = {
            "contact_source_id": self.contactID,
            "post_date": self.postDate,
            "amount": self.amount,
            "payment_type": self.paymentType,
            "ref_no": self.refNo,
            "deposit_date": self.depositDate,
            "is_deposited": self.isDeposited,
            "comments": self.comments,
            "active": True,
            "source_data": raw,
            "source_modified_at": self.lastModifiedDateTime,
        }
        return [Candidate("payment", self.id, columns, {"lease": self.leaseID}, payload=raw)]
