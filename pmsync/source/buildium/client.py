"""Buildium v1 client: its auth headers and dialect over the shared offset kit, work orders joined with their tasks,
and the engine's Source view."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
from pydantic import Field, SecretStr

from pmsync.sync.rule_types import Stream
from pmsync.source.answers import parse_records
from pmsync.source.budget import DEFAULT_CONCURRENCY
from pmsync.source.buildium.dialect import (BUILDIUM_DIALECT, LISTING_KEYS, MAX_PAGE_SIZE, MAX_QUERY_CHARACTERS,
                                            check_page_size, filters_by_window, headers, listing_params, query_length,
                                            record_path)
from pmsync.source.buildium.ledger import LEASE_TRANSACTIONS, LeaseTransactionRecord, LedgerTotals
from pmsync.source.buildium.parts import BuildiumRecord
from pmsync.source.buildium.push import LOOKUP as PUSH_LOOKUP
from pmsync.source.buildium.push import BuildiumWorkOrders
from pmsync.source.buildium.work_orders import joined_with_task
from pmsync.source.errors import SourceDataError, SourceListingUnstable, SourceRequestRejected, SourceRequestUnsendable
from pmsync.source.exchange import AnswerLimits
from pmsync.source.offset_client import OffsetClient
from pmsync.source.paging import PageCursor, PageRequest, SourcePage, refusal_error
from pmsync.source.protocol import NO_SCOPE, PresenceRecord, Window
from pmsync.source.retry import RetryPolicy
from schemas.source_values import Int32

WORK_ORDERS, TASKS = "/v1/workorders", "/v1/tasks"


class ListedRecord(PresenceRecord):
    """A listed Buildium rental, association or unit: its `Id`, and `IsActive` where the record has one (units do
    not)."""

    id: Int32 = Field(alias="Id")
    active: bool | None = Field(default=None, alias="IsActive")

    @classmethod
    def says_inactive(cls, raw: dict) -> bool:
        return raw.get("IsActive") is False


PRESENCE_STREAMS = {"unit": ("rentalunits", "/v1/rentals/units"), "property": ("rentals", "/v1/rentals"),
                    "association_unit": ("associationunits", "/v1/associations/units"),
                    "association": ("associations", "/v1/associations")}
"""The listings reconciliation compares, each kind with its own: rental units and rentals, association units and
associations (inactive rentals and associations are listed by default); each is read by id at `{path}/{id}`."""


class BuildiumClient(OffsetClient):
    """Talks to one Buildium account; knows the dialect, not the platform. It is the Buildium Source
    (pmsync.source.protocol) the engine uses.

    A work order's assignee and property are its task's (the work-order listing does not carry them): before a
    work-order listing, the tasks assigned to the staff user are listed whole, once per client, and every listed
    work order is joined with its task (buildium.work_orders.joined_with_task); a work order whose task is not
    among them has no assignee, and the rule excludes it."""

    system = "buildium"

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: SecretStr | str,
        staff_user_id: int,
        *,
        retry: RetryPolicy = RetryPolicy(backoff_base=0.2),
        page_size: int = MAX_PAGE_SIZE,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_requests_per_second: float | None = None,
        limits: AnswerLimits = AnswerLimits(),
        clock: Callable[[], float] = time.monotonic,
        vendor_id: int | None = None,
    ) -> None:
        secret = client_secret.get_secret_value() if isinstance(client_secret, SecretStr) else client_secret
        super().__init__(
            base_url, BUILDIUM_DIALECT, headers(client_id, secret), [secret, client_id],
            page_size=check_page_size(page_size), retry=retry, sleep=sleep, session=session, rng=rng,
            concurrency=concurrency, max_requests_per_second=max_requests_per_second, limits=limits, clock=clock,
            account=client_id,
        )
        self.staff_user_id, self.vendor_id = staff_user_id, vendor_id
        self._staff_tasks: dict[int, dict[str, Any]] | None = None
        self._tasks_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BuildiumClient({self.base_url!r})"

    def filters(self, stream: Stream) -> bool:
        """Whether the listing takes lastupdatedfrom/lastupdatedto (ownership accounts and balances do not)."""
        return filters_by_window(stream.path)

    def page(self, stream: Stream, cursor: PageCursor = PageCursor(), window: Window | None = None, *,
             within: Mapping[str, int] = NO_SCOPE) -> SourcePage:
        if stream.path == LEASE_TRANSACTIONS:
            return self.lease_ledger_page(stream, _lease_of(within))
        params = self._prepared(stream, window, within)
        return self.list_page(stream.path, stream.record, entity=stream.name, cursor=cursor, params=params)

    def pages(self, stream: Stream, window: Window | None = None, *,
              within: Mapping[str, int] = NO_SCOPE) -> Iterator[SourcePage]:
        if stream.path == LEASE_TRANSACTIONS:
            return iter([self.lease_ledger_page(stream, _lease_of(within))])
        params = self._prepared(stream, window, within)
        return self.iter_pages(stream.path, stream.record, entity=stream.name, params=params)

    def presence_listing(self, entity: str) -> Stream:
        if entity not in PRESENCE_STREAMS:
            raise ValueError(f"Buildium lists no {entity} for reconciliation; it reconciles {', '.join(PRESENCE_STREAMS)}")
        name, path = PRESENCE_STREAMS[entity]
        return Stream(name, path, ListedRecord, (entity,))

    def get(self, stream: Stream, source_id: int) -> SourcePage | None:
        if stream.path != WORK_ORDERS:
            return self.get_page_or_none(record_path(stream.path, source_id), stream.record, entity=stream.name)
        path = record_path(WORK_ORDERS, source_id)
        with self._scrubbed():
            work_order = self._get_object_or_none(path, stream.name)
            if work_order is None:
                return None
            body, request = work_order
            task_id = (body.get("Task") or {}).get("Id") if isinstance(body.get("Task"), dict) else None
            task = self._get_object_or_none(record_path(TASKS, task_id), "task") if isinstance(task_id, int) else None
            joined = joined_with_task(body, task[0] if task else {})
            records, raw, refused = parse_records([joined], stream.record, request, stream.name, self._scrubber.text,
                                                  key=self.dialect.key)
        return SourcePage(stream.name, request, records, raw, 1, None, refused=refused)

    def lease_ledger_page(self, stream: Stream, lease_id: int) -> SourcePage:
        """The lease's balance now, as a one-record page of `stream`'s model (an outstanding-balance entry): every page
        of its transactions read (Id-ordered) and added up (buildium.ledger). A transaction the model cannot read,
        or a listing not proven complete, leaves the balance unknown: SourceDataError / SourceListingUnstable."""
        path = LEASE_TRANSACTIONS.format(leaseId=lease_id)
        totals, requests, request, complete = LedgerTotals(lease_id), 0, f"GET {path}", False
        for page in self.iter_pages(path, LeaseTransactionRecord, entity="lease transaction"):
            if page.refused:
                raise self._scrubber.error(refusal_error(page.refused[0], page.request, "lease transaction"))
            for transaction in page.records:
                totals.add(transaction)
            requests, request, complete = requests + page.requests_made, page.request, page.complete
        if not complete:
            raise SourceListingUnstable(f"lease {lease_id}'s transactions could not be read to their end, so its "
                                        "balance is unknown; run it again", request=request)
        with self._scrubbed():
            records, raw, refused = parse_records([totals.as_balance_record()], stream.record, request, stream.name,
                                                  self._scrubber.text, key="LeaseId")
        return SourcePage(stream.name, request, records, raw, 1, None, requests_made=max(requests, 1), complete=True,
                          refused=refused)

    def request_for(self, stream: Stream, source_id: int) -> str:
        return f"GET {record_path(stream.path, source_id)}"

    def work_orders(self) -> BuildiumWorkOrders:
        """The work-order push: work orders and their to-do tasks (pmsync.source.buildium.push)."""
        return BuildiumWorkOrders(self, self.staff_user_id, self.vendor_id)

    def read_object(self, path: str, entity: str) -> dict[str, Any]:
        """One record by its path as the source sends it (a 404 is a SourceRequestRejected like any refusal)."""
        with self._scrubbed():
            body, _, request = self._get(path, {}, entity)
        if not isinstance(body, dict):
            raise SourceDataError("response is not a JSON object", request=request, entity=entity)
        return body

    def fetch_listing_page(self, path: str, params: Mapping[str, Any] | None, wanted: PageRequest, entity: str, *,
                           session: requests.Session | None = None,
                           cancelled: threading.Event | None = None) -> tuple[list[dict[str, Any]], int, str]:
        """One list request (the shared kit's), its query checked against the spec's cap first; a work-order page's
        records joined with their tasks (not the push's own look-up, which needs only the work orders)."""
        query = {**(params or {}), **self.listing_order(path), self.dialect.limit_param: wanted.limit,
                 self.dialect.offset_param: wanted.offset}
        if query_length(query) > MAX_QUERY_CHARACTERS:
            raise SourceRequestUnsendable(
                f"the query string would be {query_length(query)} characters; Buildium refuses more than "
                f"{MAX_QUERY_CHARACTERS} (send fewer ids per request)", request=f"GET {path}")
        raw, total, request = super().fetch_listing_page(path, params, wanted, entity, session=session,
                                                         cancelled=cancelled)
        if path == WORK_ORDERS and entity != PUSH_LOOKUP:
            tasks = self.staff_tasks()
            raw = [joined_with_task(record, tasks.get(_task_id(record), {})) if isinstance(record, dict) else record
                   for record in raw]
        return raw, total, request

    def listing_key(self, path: str) -> str:
        """`Id`, but the outstanding-balance lists' LeaseId / OwnershipAccountId."""
        return LISTING_KEYS.get(path, self.dialect.key)

    def listing_order(self, path: str) -> Mapping[str, str]:
        return {"orderby": self.listing_key(path)}

    def staff_tasks(self) -> dict[int, dict[str, Any]]:
        """The tasks assigned to the staff user, by id (listed whole the first time, then kept for this client)."""
        with self._tasks_lock:
            if self._staff_tasks is None:
                tasks: dict[int, dict[str, Any]] = {}
                params = {"assignedtoid": self.staff_user_id}
                for page in self.iter_pages(TASKS, BuildiumRecord, entity="task", params=params):
                    tasks.update((record.id, raw) for record, raw in zip(page.records, page.raw))
                self._staff_tasks = tasks
            return self._staff_tasks

    def _prepared(self, stream: Stream, window: Window | None, within: Mapping[str, int]) -> dict[str, Any]:
        """The listing's query; work orders only the staff user's (`assignedtoid`, as the rule wants them: the others
        would be read, checked and excluded on every pass of their day's window)."""
        params = listing_params(stream.path, stream.list_params, window, within)
        if stream.path == WORK_ORDERS:
            self.staff_tasks()
            params = {**params, "assignedtoid": self.staff_user_id}
        return params

    def _get_object_or_none(self, path: str, entity: str) -> tuple[dict[str, Any], str] | None:
        try:
            body, _, request = self._get(path, {}, entity)
        except SourceRequestRejected as rejected:
            if rejected.status == 404:
                return None
            raise
        if not isinstance(body, dict):
            raise SourceDataError("response is not a JSON object", request=request, entity=entity)
        return body, request


def _task_id(work_order: dict[str, Any]) -> Any:
    task = work_order.get("Task")
    return task.get("Id") if isinstance(task, dict) else None


def _lease_of(within: Mapping[str, int]) -> int:
    if set(within) != {"lease"}:
        raise ValueError(f"a lease's transactions are read within one lease, not {dict(within) or 'everything'}")
    return within["lease"]
