"""The engine's whole view of a source system: listings, reads by id, write-back and credentials, in neutral types."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pmsync.source.paging import PageCursor, SourcePage, refusal_error
from schemas.records import SourceRecord

if TYPE_CHECKING:
    from pmsync.sync.rule_types import RuleTable, Stream

NO_SCOPE: Mapping[str, int] = {}


@dataclass(frozen=True)
class Window:
    """The span a windowed listing reads: records changed from `start` (None: from the beginning) up to `end`, frozen
    when the run starts so the listing cannot grow under it."""

    start: datetime | None
    end: datetime


class PresenceRecord(SourceRecord):
    """Just enough of a listed record to reconcile it: its id and whether the source calls it active (None: the source
    does not say). A source package maps its own fields onto these."""

    active: bool | None = None

    @classmethod
    def says_inactive(cls, raw: dict[str, Any]) -> bool:
        """Whether a record this model refused still says, in its raw fields, that it is inactive (a refused record
        is listed all the same, and active unless it says otherwise)."""
        return False


class Source(Protocol):
    """One account of one source system, as the engine sees it. A source raises only pmsync.source.errors classes.

    Listings are key-ordered pages from a cursor; every page proves progress, and only the last page of a listing that
    reached its total has `complete=True`. `within` scopes a listing to a parent ({"lease": 12}: that lease's
    charges), by entity name; how the source expresses that scope (a filter, a path) is its own affair."""

    system: str
    page_size: int

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far by this source's every thread."""

    def filters(self, stream: Stream) -> bool:
        """Whether `stream`'s listing honours a window; False: a window is ignored and the stream is read whole."""

    def page(self, stream: Stream, cursor: PageCursor = PageCursor(), window: Window | None = None, *,
             within: Mapping[str, int] = NO_SCOPE) -> SourcePage:
        """One page of `stream` from `cursor` (its next_cursor says where the listing goes on)."""

    def pages(self, stream: Stream, window: Window | None = None, *,
              within: Mapping[str, int] = NO_SCOPE) -> Iterator[SourcePage]:
        """Every page of `stream`, streamed (possibly several requests in flight; the same pages as one by one)."""

    def presence_listing(self, entity: str) -> Stream:
        """The stream listing every record of `entity` the source still has, inactive ones included, read into a
        PresenceRecord: what reconciliation compares with the platform (pass it to `page`/`pages`/`get`)."""

    def get(self, stream: Stream, source_id: int) -> SourcePage | None:
        """One record of `stream` by id as a one-record page (a record its model refuses is the page's refused one);
        None when the source says it has no such record (404)."""

    def request_for(self, stream: Stream, source_id: int) -> str:
        """How messages name the request `get` sends for that record (e.g. "GET /units/12")."""

    def work_orders(self) -> WorkOrderWriter | None:
        """The work-order write-back of this source; None when it takes none."""

    def close(self) -> None:
        """Release the connections."""


def one_record(page: SourcePage) -> Any:
    """The record of a one-record page (a `get`); a record its model refused is the SourceDataError naming its id and
    first field."""
    if page.refused:
        raise refusal_error(page.refused[0], page.request, page.entity)
    return page.records[0]


class PushedWorkOrder(Protocol):
    """A platform work order as the push hands it to a source: its parents' source ids and its own fields."""

    id: int
    source_id: int | None
    building_source_id: int | None
    building_kind: str | None
    """The kind of the work order's property row ('rental', 'association'): a source whose ids repeat across kinds
    names the property by more than its id."""
    unit_source_id: int | None
    resident_source_id: int | None
    title: str | None
    description: str | None
    priority: str | None
    status: str | None
    category: str | None
    type: str | None


class WorkOrderWriter(Protocol):
    """Work-order write-back: the source package builds its own bodies from the platform's row. `marker` is the
    change's own mark, written where the source keeps it, so a look before a resend finds what a lost answer made."""

    def create(self, order: PushedWorkOrder, marker: str) -> int:
        """The new work order's source id."""

    def find_created(self, order: PushedWorkOrder, marker: str, since: datetime) -> int | None:
        """The work order carrying `marker` created for `order` since then, if any."""

    def add_note(self, source_id: int, text: str, marker: str) -> int | None:
        """A note (or progress line) on the work order, carrying `marker`; its source id if it has one."""

    def find_note(self, source_id: int, marker: str) -> int | None:
        """The note carrying `marker`, if any."""

    def close(self, source_id: int, completed_on: date | str | None, comments: str | None) -> None:
        """Close the work order (safe to send twice)."""

    def set_custom_fields(self, source_id: int, fields: Mapping[str, str]) -> None:
        """Set named custom fields (safe to send twice)."""


@runtime_checkable
class WorkOrderUpdater(Protocol):
    """A capability a WorkOrderWriter may have: changing the work order's own fields in the source. A writer without
    it gets a field change as a progress note instead (add_note)."""

    def update(self, order: PushedWorkOrder, fields: Collection[str]) -> None:
        """Send the platform's current values of `fields` (work-order column names) to the source's work order
        (safe to send twice); fields the source has no place for stay on the platform."""


class SourceCredentials(Protocol):
    """A source account's settings as its package defines them; never logged (repr hides the secrets)."""

    base_url: str

    @property
    def account(self) -> str:
        """What tells this account apart from another at the same host (the platform binds an integration to it)."""

    def secrets(self) -> list[str]:
        """Every value a message must never show: run errors are scrubbed of them."""


class SourcePackage(Protocol):
    """One row of the source registry (pmsync.source.registry): a vendor, its rule tables, how to build its
    credentials from settings and how to open a source."""

    vendor: str
    rule_tables: tuple[RuleTable, ...]
    block_type_slug: str
    """The Prefect block type an integration of this vendor is saved as (pmsync.integrations.blocks defines it)."""
    block_type_name: str

    def credentials(self, **fields: Any) -> SourceCredentials:
        """The credentials object from its fields."""

    def credentials_from_settings(self, settings: Any) -> SourceCredentials:
        """The default integration's credentials, from the PMSYNC_* environment's settings."""

    def credentials_from_block(self, block: Any) -> SourceCredentials:
        """An integration block's credentials."""

    def open(self, integration: Any) -> Source:
        """A source for the integration (its credentials, rule table and tuning)."""
