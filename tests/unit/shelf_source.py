"""A second source system for the seam tests, written the way a vendor package would be: PascalCase records keyed
"Id", a rental listing that cannot filter by time, a unit listing that can, reads by id, no write-back. Real objects
over in-memory data, paged by the shared Paginator."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, SecretStr

from pmsync.sync.association_rules import ASSOCIATION_RULES
from pmsync.integrations.integration import Integration
from pmsync.sync.rule_types import INTEGRATION_DATA, EntityRule, ParentLink, RuleTable, Stream
from pmsync.source.paging import PageCursor, Paginator, SourcePage
from pmsync.source.protocol import NO_SCOPE, PresenceRecord, Source, Window
from schemas.records import Candidate, SourceRecord
from schemas.source_values import SourceId


class ShelfRental(SourceRecord):
    id: SourceId = Field(alias="Id")
    Name: str | None = None
    IsActive: bool | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        columns = {"name": self.Name, "source_data": raw, "source_modified_at": None}
        return [Candidate("property", self.id, columns, facts={"source_active": self.IsActive}, payload=raw)]


class ShelfUnit(SourceRecord):
    id: SourceId = Field(alias="Id")
    Name: str | None = None
    RentalId: SourceId | None = None
    Updated: int = 0

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        columns = {"name": self.Name, "source_data": raw, "source_modified_at": None}
        return [Candidate("unit", self.id, columns, {"property": self.RentalId}, {"source_active": True}, raw)]


class ShelfAssociation(SourceRecord):
    """An association: a property of kind "association", its ids repeating the rentals' (as Buildium's do)."""

    id: SourceId = Field(alias="Id")
    Name: str | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        columns = {"name": self.Name, "source_data": raw, "source_modified_at": None}
        facts = {"source_kind": "association", "parent_kinds": {}}
        return [Candidate("property", self.id, columns, facts=facts, payload=raw)]


class ShelfAssociationUnit(SourceRecord):
    id: SourceId = Field(alias="Id")
    Name: str | None = None
    AssociationId: SourceId | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        columns = {"name": self.Name, "source_data": raw, "source_modified_at": None}
        facts = {"source_kind": "association_unit", "parent_kinds": {"property": "association"}}
        return [Candidate("unit", self.id, columns, {"property": self.AssociationId}, facts, raw)]


class ShelfOwnershipAccount(SourceRecord):
    id: SourceId = Field(alias="Id")
    UnitId: SourceId | None = None
    AssociationId: SourceId | None = None
    Status: str | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        columns = {"status": self.Status, "active": self.Status == "Active", "source_data": raw, "source_modified_at": None}
        facts = {"source_kind": "ownership_account", "parent_kinds": {"unit": "association_unit", "property": "association"}}
        return [Candidate("ownership_account", self.id, columns, {"unit": self.UnitId, "property": self.AssociationId},
                          facts, raw)]


class ShelfOwner(SourceRecord):
    """An association owner: a resident in the group "Owners" of its account's unit."""

    id: SourceId = Field(alias="Id")
    LastName: str | None = None
    AccountId: SourceId | None = None
    UnitId: SourceId | None = None
    AccountStatus: str | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        columns = {"last_name": self.LastName, "role": "Owner", "group_name": "Owners", "source_modified_at": None}
        facts = {"source_kind": "association_owner", "ownership_account_source_id": self.AccountId,
                 "unit_agreement_active": self.AccountStatus == "Active", "ownership_account_status": self.AccountStatus,
                 "parent_kinds": {"unit": "association_unit", "ownership_account": "ownership_account"}}
        parents = {"unit": self.UnitId, "ownership_account": self.AccountId}
        return [Candidate("resident", self.id, columns, parents, facts, raw)]


class ShelfPresence(PresenceRecord):
    id: SourceId = Field(alias="Id")
    active: bool | None = Field(default=None, alias="IsActive")

    @classmethod
    def says_inactive(cls, raw: dict) -> bool:
        return raw.get("IsActive") is False


SHELF_RULES = RuleTable(
    source_system="shelf",
    vendor="shelf",
    streams=(Stream("rentals", "rentals", ShelfRental, ("property",)), Stream("units", "units", ShelfUnit, ("unit",))),
    rules={
        "property": EntityRule("property", on_update=INTEGRATION_DATA),
        "unit": EntityRule("unit", parents=(ParentLink("property", "property_id"),), on_update=INTEGRATION_DATA),
    },
)


SHELF_KIND_RULES = RuleTable(
    source_system="shelf-kinds",
    vendor="shelf",
    streams=(
        *SHELF_RULES.streams,
        Stream("associations", "associations", ShelfAssociation, ("association",)),
        Stream("association_units", "association_units", ShelfAssociationUnit, ("association_unit",)),
        Stream("ownership_accounts", "ownership_accounts", ShelfOwnershipAccount, ("ownership_account",)),
        Stream("owners", "owners", ShelfOwner, ("association_owner",)),
    ),
    rules={**SHELF_RULES.rules, **ASSOCIATION_RULES},
)
"""The shelf with an association side whose ids repeat the rental side's: the same engine, the kinds apart."""


@dataclass
class ShelfAccount:
    """The shelf's credentials object: a base URL and one token (no system id)."""

    base_url: str
    token: SecretStr = field(repr=False)

    @property
    def account(self) -> str:
        return "shelf-1"

    def secrets(self) -> list[str]:
        return [self.token.get_secret_value()]


class ShelfSource:
    """The Source protocol over lists of raw records, paged by the shared Paginator on the raw key "Id"."""

    system = "shelf"
    page_size = 2

    def __init__(self, data: dict[str, list[dict[str, Any]]]) -> None:
        self.data = data
        self.windows: list[tuple[str, Window | None]] = []
        self.requests = 0
        self.closed = False

    @property
    def requests_made(self) -> int:
        return self.requests

    def filters(self, stream: Stream) -> bool:
        return stream.name == "units"

    def page(self, stream: Stream, cursor: PageCursor = PageCursor(), window: Window | None = None, *,
             within: Mapping[str, int] = NO_SCOPE) -> SourcePage:
        self.windows.append((stream.name, window))
        listed = sorted(self._listed(stream, window), key=lambda raw: raw["Id"])
        paginator = Paginator(cursor, self.page_size, entity=stream.name, key="Id")
        while True:
            wanted = paginator.request()
            self.requests += 1
            request = f"LIST {stream.path} from {wanted.offset}"
            cut = paginator.judge(listed[wanted.offset:wanted.offset + wanted.limit], len(listed), request=request)
            if cut is not None:
                records = [stream.record.model_validate(raw) for raw in cut.fresh]
                return SourcePage(stream.name, request, records, cut.fresh, cut.total, cut.next_cursor, cut.offset,
                                  cut.calls, complete=cut.complete)

    def pages(self, stream: Stream, window: Window | None = None, *,
              within: Mapping[str, int] = NO_SCOPE) -> Iterator[SourcePage]:
        cursor: PageCursor | None = PageCursor()
        while cursor is not None:
            page = self.page(stream, cursor, window, within=within)
            yield page
            cursor = page.next_cursor

    def presence_listing(self, entity: str) -> Stream:
        name = {"unit": "units", "property": "rentals"}[entity]
        return Stream(name, name, ShelfPresence, (entity,))

    def get(self, stream: Stream, source_id: int) -> SourcePage | None:
        self.requests += 1
        found = [raw for raw in self.data[stream.path] if raw["Id"] == source_id]
        if not found:
            return None
        return SourcePage(stream.name, self.request_for(stream, source_id), [stream.record.model_validate(found[0])],
                          found, 1, None)

    def request_for(self, stream: Stream, source_id: int) -> str:
        return f"READ {stream.path} #{source_id}"

    def work_orders(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def _listed(self, stream: Stream, window: Window | None) -> list[dict[str, Any]]:
        rows = self.data[stream.path]
        if stream.name == "rentals" and stream.record is ShelfRental:
            rows = [raw for raw in rows if raw.get("IsActive") is not False]
        return rows


class ShelfPackage:
    vendor = "shelf"
    rule_tables = (SHELF_RULES,)

    def __init__(self, source: ShelfSource, rules: RuleTable = SHELF_RULES) -> None:
        self.source = source
        self.rule_tables = (rules,)

    def credentials(self, **fields: Any) -> ShelfAccount:
        return ShelfAccount(**fields)

    def open(self, integration: Integration) -> Source:
        assert integration.credentials.token.get_secret_value() == "shelf-token"
        return self.source


def shelf_data() -> dict[str, list[dict[str, Any]]]:
    rentals = [{"Id": n, "Name": f"Rental {n}", "IsActive": n != 5} for n in (3, 1, 4, 5, 9)]
    shelf_units = [{"Id": 100 + n, "Name": f"Unit {n}", "RentalId": (1, 3, 4, 9)[n % 4]} for n in range(7)]
    return {"rentals": rentals, "units": shelf_units}


def shelf_integration() -> Integration:
    account = ShelfAccount("https://shelf.example", SecretStr("shelf-token"))
    return Integration("shelf-co", credentials=account, integration_user="staff-7", source_system="shelf")


def shelf_kinds_data() -> dict[str, list[dict[str, Any]]]:
    """Rentals 7 and 8 and association 7; rental units 70 and 71, association units 70 and 72 (both kinds share 7
    and 70); ownership accounts 700 (active, on association unit 70) and 701 (past, on 72); owners 9000 and 9001."""
    return {
        "rentals": [{"Id": 7, "Name": "Rental Seven", "IsActive": True}, {"Id": 8, "Name": "Rental Eight", "IsActive": True}],
        "units": [{"Id": 70, "Name": "Rental unit 70", "RentalId": 7}, {"Id": 71, "Name": "Rental unit 71", "RentalId": 8}],
        "associations": [{"Id": 7, "Name": "Association Seven"}],
        "association_units": [{"Id": 70, "Name": "Condo 70", "AssociationId": 7},
                              {"Id": 72, "Name": "Condo 72", "AssociationId": 7}],
        "ownership_accounts": [{"Id": 700, "UnitId": 70, "AssociationId": 7, "Status": "Active"},
                               {"Id": 701, "UnitId": 72, "AssociationId": 7, "Status": "Past"}],
        "owners": [{"Id": 9000, "LastName": "Owner", "AccountId": 700, "UnitId": 70, "AccountStatus": "Active"},
                   {"Id": 9001, "LastName": "Seller", "AccountId": 701, "UnitId": 72, "AccountStatus": "Past"}],
    }
