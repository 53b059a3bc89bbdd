"""Buildium's floor: the listings an initial sync reads (the rule table's, and the staff user's tasks), paged bare at the
same request rate, then one bulk insert per listing."""

from __future__ import annotations

import collections
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import requests
import sqlalchemy as sa

from bench.floor import FloorResult, insert_rows
from pmsync.platform.database import make_engine
from pmsync.source.buildium.dialect import BUILDIUM_DIALECT, LISTING_KEYS, MAX_PAGE_SIZE, headers, listing_params
from pmsync.source.buildium.rules import BUILDIUM_RULES
from pmsync.source.protocol import Window
from sandbox.buildium import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_STAFF_USER_ID

TASKS = ("tasks", "/v1/tasks", {"assignedtoid": SANDBOX_STAFF_USER_ID})
"""The sync lists the staff user's tasks whole before work orders (a work order's assignee is its task's)."""
STAFF_USERS_ONLY = {"/v1/workorders": {"assignedtoid": SANDBOX_STAFF_USER_ID}}
"""The sync lists only the staff user's work orders (the client adds assignedtoid)."""
TOO_MANY_REQUESTS_BACKOFF = 0.2
"""The spec: a 429 comes without Retry-After; retry after ~200 ms."""


@dataclass(frozen=True)
class Listing:
    """One listing the floor reads, with the query the initial sync sends (its window ending at the run's start)."""

    name: str
    path: str
    params: dict[str, Any]


def buildium_listings(until: datetime) -> list[Listing]:
    """Every listing of Buildium's rule table in the initial sync's form, and the staff user's tasks."""
    window = Window(None, until)
    listings = [Listing(stream.name, stream.path, {**listing_params(stream.path, stream.list_params, window, {}),
                                                   **STAFF_USERS_ONLY.get(stream.path, {})})
                for stream in BUILDIUM_RULES.streams]
    name, path, params = TASKS
    return [Listing(name, path, dict(params)), *listings]


def floor_table(metadata: sa.MetaData, name: str) -> sa.Table:
    return sa.Table(f"floor_buildium_{name}", metadata,
                    sa.Column("source_id", sa.BigInteger, primary_key=True),
                    sa.Column("source_modified_at", sa.Text),
                    sa.Column("source_data", sa.Text, nullable=False),
                    comment=f"One row per Buildium {name} record fetched by the benchmark's floor.")


def record_key(record: dict[str, Any]) -> int:
    """The record's id (`Id`; a balance row's is its `LeaseId` or `OwnershipAccountId`)."""
    key = record.get(BUILDIUM_DIALECT.key)
    if key is None:
        key = next(value for field, value in record.items() if field.endswith("Id") and isinstance(value, int))
    return key


class Pacer:
    """At most `per_second` request starts in any second (None: no pacing): the least waiting that keeps within a
    limit of that many requests a second per account, with `margin` seconds for the requests' travel."""

    def __init__(self, per_second: float | None, margin: float = 0.05):
        self.per_second = int(per_second) if per_second else 0
        self.margin = margin
        self.starts: collections.deque[float] = collections.deque()

    def wait(self) -> None:
        if not self.per_second:
            return
        if len(self.starts) >= self.per_second:
            free_at = self.starts.popleft() + 1.0 + self.margin
            if free_at > time.monotonic():
                time.sleep(free_at - time.monotonic())
        self.starts.append(time.monotonic())


def fetch_listing(http: requests.Session, root_url: str, listing: Listing, pacer: Pacer) -> tuple[list[tuple], int, int]:
    """Every record of one listing, pages of 1000 ordered on its key as the sync's (`Id`; a balance list's `LeaseId` /
    `OwnershipAccountId`), as (id, None, json) rows; requests and 429s."""
    rows: list[tuple] = []
    offset = calls = refused = 0
    while True:
        pacer.wait()
        response = http.get(root_url + listing.path, timeout=120,
                            params={**listing.params, "orderby": LISTING_KEYS.get(listing.path, BUILDIUM_DIALECT.key),
                                    "limit": MAX_PAGE_SIZE, "offset": offset})
        calls += 1
        if response.status_code == 429:
            refused += 1
            time.sleep(TOO_MANY_REQUESTS_BACKOFF)
            continue
        response.raise_for_status()
        page = response.json()
        rows.extend((record_key(record), None, json.dumps(record)) for record in page)
        offset += len(page)
        if len(page) < MAX_PAGE_SIZE or offset >= int(response.headers["X-Total-Count"]):
            return rows, calls, refused


@dataclass
class BuildiumFloor(FloorResult):
    """The floor's cost, and how many of its requests the source refused with 429 (retried after ~200 ms)."""

    too_many_requests: int = 0


def measure_buildium_floor(root_url: str, database_url: str, per_second: float | None) -> BuildiumFloor:
    """Fetch every page of every listing (paced to `per_second`) and bulk-insert each listing's rows, in one
    transaction."""
    until = datetime.now(timezone.utc)
    metadata = sa.MetaData()
    listings = buildium_listings(until)
    tables = {listing.name: floor_table(metadata, listing.name) for listing in listings}
    engine = make_engine(database_url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    pacer = Pacer(per_second)
    fetch_seconds = insert_seconds = 0.0
    records = requests_made = refused = 0
    started = time.perf_counter()
    with requests.Session() as http, engine.begin() as connection:
        http.headers.update({**headers(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET), "Accept": "application/json"})
        for listing in listings:
            fetching = time.perf_counter()
            rows, calls, too_many = fetch_listing(http, root_url, listing, pacer)
            inserting = time.perf_counter()
            insert_rows(connection, tables[listing.name], rows)
            fetch_seconds += inserting - fetching
            insert_seconds += time.perf_counter() - inserting
            records += len(rows)
            requests_made += calls
            refused += too_many
    seconds = time.perf_counter() - started
    engine.dispose()
    return BuildiumFloor(seconds, fetch_seconds, insert_seconds, records, requests_made, refused)
