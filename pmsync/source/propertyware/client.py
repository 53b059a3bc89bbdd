"""Propertyware REST v1 client: its auth headers and dialect over the shared offset kit, and the engine's Source view."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping

import requests
from pydantic import SecretStr

from pmsync.sync.rule_types import Stream
from pmsync.source.budget import DEFAULT_CONCURRENCY
from pmsync.source.exchange import AnswerLimits
from pmsync.source.offset_client import OffsetClient
from pmsync.source.paging import PageCursor, SourcePage
from pmsync.source.propertyware.dialect import (INCLUDE_INACTIVE, MAX_PAGE_SIZE, PROPERTYWARE_DIALECT, check_page_size,
                                                headers, listing_params, record_path)
from pmsync.source.propertyware.workorders import PropertywareWorkOrders
from pmsync.source.protocol import NO_SCOPE, PresenceRecord, Window
from pmsync.source.retry import RetryPolicy

class ListedRecord(PresenceRecord):
    """A listed Propertyware unit or building: its `id` and `active`."""

    @classmethod
    def says_inactive(cls, raw: dict) -> bool:
        return raw.get("active") is False


PRESENCE_STREAMS = {"unit": ("units", "/units"), "property": ("buildings", "/buildings")}
"""The listings reconciliation compares: units and buildings, inactive ones included."""


class PropertywareClient(OffsetClient):
    """Talks to one Propertyware account; knows the dialect, not the platform. It is the Propertyware Source
    (pmsync.source.protocol) the engine uses, and keeps its path-level methods for the work-order endpoints."""

    system = "propertyware"

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: SecretStr | str,
        system_id: str,
        *,
        retry: RetryPolicy = RetryPolicy(),
        page_size: int = MAX_PAGE_SIZE,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_requests_per_second: float | None = None,
        limits: AnswerLimits = AnswerLimits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        secret = client_secret.get_secret_value() if isinstance(client_secret, SecretStr) else client_secret
        super().__init__(
            base_url, PROPERTYWARE_DIALECT, headers(client_id, secret, system_id), [secret, client_id],
            page_size=check_page_size(page_size), retry=retry, sleep=sleep, session=session, rng=rng,
            concurrency=concurrency, max_requests_per_second=max_requests_per_second, limits=limits, clock=clock,
            account=client_id,
        )

    def __repr__(self) -> str:
        return f"PropertywareClient({self.base_url!r})"

    def filters(self, stream: Stream) -> bool:
        """Every Propertyware listing filters by last-modified time."""
        return True

    def page(self, stream: Stream, cursor: PageCursor = PageCursor(), window: Window | None = None, *,
             within: Mapping[str, int] = NO_SCOPE) -> SourcePage:
        params = listing_params(stream.list_params, window, within)
        return self.list_page(stream.path, stream.record, entity=stream.name, cursor=cursor, params=params)

    def pages(self, stream: Stream, window: Window | None = None, *,
              within: Mapping[str, int] = NO_SCOPE) -> Iterator[SourcePage]:
        params = listing_params(stream.list_params, window, within)
        return self.iter_pages(stream.path, stream.record, entity=stream.name, params=params)

    def presence_listing(self, entity: str) -> Stream:
        if entity not in PRESENCE_STREAMS:
            raise ValueError(f"Propertyware lists no {entity} for reconciliation; it reconciles {', '.join(PRESENCE_STREAMS)}")
        name, path = PRESENCE_STREAMS[entity]
        return Stream(name, path, ListedRecord, (entity,), INCLUDE_INACTIVE)

    def get(self, stream: Stream, source_id: int) -> SourcePage | None:
        return self.get_page_or_none(record_path(stream.path, source_id), stream.record, entity=stream.name)

    def request_for(self, stream: Stream, source_id: int) -> str:
        return f"GET {record_path(stream.path, source_id)}"

    def work_orders(self) -> PropertywareWorkOrders:
        return PropertywareWorkOrders(self)
