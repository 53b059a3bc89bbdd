"""A second source system for the seam tests, written the way a vendor package would be: PascalCase records keyed
"Id", a rental listing that cannot filter by time, a unit listing that can, reads by id, no write-back. Real objects
over in-memory data, paged by the shared Paginator."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, SecretStr

from pmsync.integrations import Integration
from pmsync.rule_types import INTEGRATION_DATA, EntityRule, ParentLink, RuleTable, Stream
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

    def __init__(self, source: ShelfSource) -> None:
        self.source = source

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
