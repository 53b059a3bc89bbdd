"""Key-ordered offset listings over HTTP: pages proven complete, one or several in flight, and records read by path."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import requests

from pmsync.source.answers import as_record_list, listing_total, parse_records
from pmsync.source.dialect import OffsetDialect
from pmsync.source.errors import SourceDataError, SourceRequestRejected
from pmsync.source.http import HttpTransport
from pmsync.source.listing import concurrent_pages
from pmsync.source.paging import (PageCursor, PageCut, Paginator, PageRequest, Record, SourcePage, batched_pages,
                                  refusal_error)


class OffsetClient(HttpTransport):
    """An HTTP transport that lists by offset in its dialect's key order; `page_size` is already checked against the
    source's cap by its package (which names its own setting)."""

    def __init__(self, base_url: str, dialect: OffsetDialect, headers: Mapping[str, str], secrets: Iterable[str], *,
                 page_size: int, **options: Any) -> None:
        super().__init__(base_url, dialect, headers, secrets, **options)
        self.page_size = page_size

    def list_page(
        self,
        path: str,
        model: type[Record],
        *,
        entity: str,
        cursor: PageCursor = PageCursor(),
        params: Mapping[str, Any] | None = None,
    ) -> SourcePage[Record]:
        """Fetch one key-ordered page holding only records above the previous page's last key; the paginator
        (pmsync.source.paging.Paginator) decides the requests and proves progress."""
        key = self.listing_key(path)
        paginator = Paginator(cursor, self.page_size, entity=entity, key=key)
        while True:
            raw, total, request = self.fetch_listing_page(path, params, paginator.request(), entity)
            cut = paginator.judge(raw, total, request=request)
            if cut is not None:
                return self.page_of(cut, model, entity, request, key=key)

    def iter_pages(
        self,
        path: str,
        model: type[Record],
        *,
        entity: str,
        params: Mapping[str, Any] | None = None,
    ) -> Iterator[SourcePage[Record]]:
        """Every page of a listing, streamed; with a concurrency above 1, the next pages are fetched speculatively
        while earlier ones are judged and consumed (the same pages as one request at a time)."""
        if self.concurrency > 1:
            yield from concurrent_pages(
                lambda wanted, session, cancelled: self.fetch_listing_page(path, params, wanted, entity,
                                                                           session=session, cancelled=cancelled),
                self.new_session,
                lambda cut, request: self.page_of(cut, model, entity, request, key=self.listing_key(path)),
                concurrency=self.concurrency, page_size=self.page_size, key=self.listing_key(path), entity=entity,
            )
            return
        cursor: PageCursor | None = PageCursor()
        while cursor is not None:
            page = self.list_page(path, model, entity=entity, cursor=cursor, params=params)
            yield page
            cursor = page.next_cursor

    def iter_batches(
        self,
        path: str,
        model: type[Record],
        *,
        entity: str,
        params: Mapping[str, Any] | None = None,
        pages_per_batch: int,
    ) -> Iterator[list[SourcePage[Record]]]:
        """A listing's pages in batches of up to `pages_per_batch` consecutive pages; the last batch ends where the
        listing ends (its last page has no next cursor)."""
        return batched_pages(self.iter_pages(path, model, entity=entity, params=params), pages_per_batch)

    def fetch_listing_page(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        wanted: PageRequest,
        entity: str,
        *,
        session: requests.Session | None = None,
        cancelled: threading.Event | None = None,
    ) -> tuple[list[dict[str, Any]], int, str]:
        """One list request as the paginator asked for it: the raw records, the total and the request's name."""
        dialect = self.dialect
        query = {**(params or {}), **self.listing_order(path), dialect.limit_param: wanted.limit,
                 dialect.offset_param: wanted.offset}
        with self._scrubbed():
            body, headers, request = self._get(path, query, entity, session=session, cancelled=cancelled)
            total = listing_total(headers, request, entity, dialect.total_header)
            return as_record_list(body, request, entity), total, request

    def listing_key(self, path: str) -> str:
        """The raw field the listing at `path` is ordered by and its records keyed on: the dialect's `key`, unless the
        source package says otherwise for that listing."""
        return self.dialect.key

    def listing_order(self, path: str) -> Mapping[str, str]:
        """The query that orders the listing at `path` on its key: the dialect's `order`, unless the source package
        says otherwise for that listing."""
        return self.dialect.order

    def page_of(self, cut: PageCut, model: type[Record], entity: str, request: str, *,
                key: str | None = None) -> SourcePage[Record]:
        """The accepted page with its new records parsed into `model` (those it refuses kept apart, for quarantine,
        under their `key`: the dialect's by default)."""
        with self._scrubbed():
            records, raw, refused = parse_records(cut.fresh, model, request, entity, self._scrubber.text,
                                                  key=key or self.dialect.key)
        return SourcePage(entity, request, records, raw, cut.total, cut.next_cursor, cut.offset, cut.calls,
                          complete=cut.complete, refused=refused)

    def get_one(self, path: str, model: type[Record], *, entity: str) -> Record | None:
        """One record by its path (e.g. `/units/12`); None when the source says 404; a record its model refuses is a
        SourceDataError naming its id and field."""
        page = self.get_page_or_none(path, model, entity=entity)
        if page is None:
            return None
        if page.refused:
            raise self._scrubber.error(refusal_error(page.refused[0], page.request, entity))
        return page.records[0]

    def get_page_or_none(self, path: str, model: type[Record], *, entity: str) -> SourcePage[Record] | None:
        """One record by its path as a one-record page (see get_page_of_one); None when the source says 404."""
        try:
            return self.get_page_of_one(path, model, entity=entity)
        except SourceRequestRejected as rejected:
            if rejected.status == 404:
                return None
            raise

    def get_page_of_one(self, path: str, model: type[Record], *, entity: str) -> SourcePage[Record]:
        """One record by its path (e.g. `/leases/12`) as a one-record page, raw JSON kept (a record its model refuses
        is the page's refused record, for quarantine); a 404 is an error."""
        with self._scrubbed():
            body, _, request = self._get(path, {}, entity)
            if not isinstance(body, dict):
                raise SourceDataError("response is not a JSON object", request=request, entity=entity)
            records, raw, refused = parse_records([body], model, request, entity, self._scrubber.text,
                                                  key=self.dialect.key)
        return SourcePage(entity, request, records, raw, 1, None, refused=refused)
