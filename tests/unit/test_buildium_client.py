"""The Buildium client over real HTTP against the Buildium sandbox: its windows (date-time, or whole days on work
orders and tasks), the streams read whole, the query cap, reads by id and work orders joined with their tasks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmsync.sync.rule_types import Stream
from pmsync.source.buildium.client import BuildiumClient
from pmsync.source.buildium.dialect import (MAX_QUERY_CHARACTERS, format_source_time, window_end_day,
                                            window_start_day)
from pmsync.source.buildium.records import RentalUnitRecord
from pmsync.source.buildium.rules import BUILDIUM_RULES
from pmsync.source.errors import SourceRequestUnsendable
from pmsync.source.protocol import Window
from sandbox.buildium import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_STAFF_USER_ID, BuildiumSandboxServer

UPDATED = "_updated"
"""Where the sandbox keeps a record's hidden last-change time (epoch seconds)."""

moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1),
                       timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-7)),
                                                  timezone(timedelta(hours=5, minutes=30))]))


@pytest.fixture(scope="module")
def buildium() -> Iterator[BuildiumSandboxServer]:
    with BuildiumSandboxServer(units=60, seed=9, rate_limit=None) as server:
        yield server


@pytest.fixture
def client(buildium: BuildiumSandboxServer) -> Iterator[BuildiumClient]:
    opened = BuildiumClient(buildium.base_url, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_STAFF_USER_ID,
                            page_size=7)
    yield opened
    opened.close()


def listed(client: BuildiumClient, stream_name: str, window: Window | None) -> list[int]:
    stream = BUILDIUM_RULES.stream(stream_name)
    return [record.id for page in client.pages(stream, window) for record in page.records]


def day_start(day: str) -> int:
    return int(datetime.combine(datetime.fromisoformat(day).date(), time(0), timezone.utc).timestamp())


@settings(max_examples=200, deadline=None)
@given(start=moments, length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)))
def test_a_date_only_window_covers_the_whole_span_in_whole_days(start, length):
    end = start + length
    first, last = window_start_day(start), window_end_day(end)
    assert day_start(first) <= start.timestamp() < day_start(first) + 86_400
    assert day_start(last) < end.timestamp() <= day_start(last) + 86_400
    assert first <= last or end == start


@settings(max_examples=100, deadline=None)
@given(moment=moments)
def test_a_date_time_filter_is_the_moment_in_utc_to_the_second(moment):
    text = format_source_time(moment)
    assert len(text) == 20 and text.endswith("Z")
    parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert parsed == moment.astimezone(timezone.utc).replace(microsecond=0)


def test_work_orders_are_read_by_whole_days_and_join_their_tasks(client, buildium):
    store = buildium.store
    staff_tasks = {t["Id"] for t in store.records("tasks") if t.get("AssignedToUserId") == SANDBOX_STAFF_USER_ID}
    orders = [order for order in store.records("workorders") if order["_task_id"] in staff_tasks]
    before_start = next(order for order in sorted(orders, key=lambda order: order[UPDATED])[len(orders) // 2:]
                        if order[UPDATED] % 86_400 < 86_399)
    start = datetime.fromtimestamp(before_start[UPDATED] + 1, timezone.utc)
    end = start + timedelta(days=2)
    store.clear_requests_log()

    got = listed(client, "workorders", Window(start, end))

    first, last = day_start(start.date().isoformat()), day_start(end.date().isoformat()) + 86_399
    assert sorted(got) == sorted(order["Id"] for order in orders if first <= order[UPDATED] <= last)
    assert before_start["Id"] in got, "changed a second before the window on its first day: the day is read whole"
    queries = [query for _, path, query in store.requests_log if path == "/v1/workorders"]
    assert queries and all(query["lastupdatedfrom"] == start.date().isoformat() for query in queries)
    assert all(query["lastupdatedto"] == end.date().isoformat() for query in queries)
    assert all(query["assignedtoid"] == str(SANDBOX_STAFF_USER_ID) for query in queries), "only the staff user's"
    tasks = [query for _, path, query in store.requests_log if path == "/v1/tasks"]
    assert tasks and all(query["assignedtoid"] == str(SANDBOX_STAFF_USER_ID) for query in tasks)


def test_a_date_time_window_reads_only_records_changed_within_it(client, buildium):
    store = buildium.store
    leases = store.records("leases")
    times = sorted(lease[UPDATED] for lease in leases)
    start = datetime.fromtimestamp(times[len(times) // 3], timezone.utc)
    end = datetime.fromtimestamp(times[2 * len(times) // 3], timezone.utc)
    store.clear_requests_log()

    got = listed(client, "leases", Window(start, end))

    assert sorted(got) == sorted(l["Id"] for l in leases if start.timestamp() <= l[UPDATED] <= end.timestamp())
    queries = [query for _, path, query in store.requests_log if path == "/v1/leases"]
    assert queries[0]["lastupdatedfrom"] == format_source_time(start) and queries[0]["orderby"] == "Id"


def test_every_rentals_stream_filters_by_window_and_a_stream_without_the_filter_is_read_whole(client, buildium):
    read_whole = {"ownershipaccounts", "leasebalances", "ownershipaccountbalances"}
    assert all(client.filters(stream) for stream in BUILDIUM_RULES.streams if stream.name not in read_whole)
    assert not any(client.filters(BUILDIUM_RULES.stream(name)) for name in read_whole)
    accounts = Stream("ownershipaccounts", "/v1/associations/ownershipaccounts", RentalUnitRecord, ("x",))
    assert client.filters(accounts) is False
    buildium.store.clear_requests_log()
    whole = listed_stream(client, accounts, Window(datetime(2000, 1, 1, tzinfo=timezone.utc), datetime.now(timezone.utc)))
    assert sorted(whole) == sorted(r["Id"] for r in buildium.store.records("ownershipaccounts"))
    assert all("lastupdatedfrom" not in query for _, _, query in buildium.store.requests_log)


def listed_stream(client: BuildiumClient, stream: Stream, window: Window | None) -> list[int]:
    return [record.id for page in client.pages(stream, window) for record in page.records]


def test_a_query_over_the_spec_cap_is_refused_before_it_is_sent(client, buildium):
    long = Stream("rentals", "/v1/rentals", RentalUnitRecord, ("property",), {"location": "x" * MAX_QUERY_CHARACTERS})
    buildium.store.clear_requests_log()

    with pytest.raises(SourceRequestUnsendable, match="4096"):
        client.page(long)

    assert buildium.store.requests_log == []


def test_a_record_by_id_is_a_one_record_page_and_a_missing_one_is_none(client, buildium):
    store = buildium.store
    units = BUILDIUM_RULES.stream("rentalunits")
    unit = store.records("rentalunits")[3]
    assert client.get(units, unit["Id"]).records[0].id == unit["Id"]
    assert client.get(units, 99_999_999) is None
    orders = BUILDIUM_RULES.stream("workorders")
    order = store.records("workorders")[0]
    task = store.get("tasks", order["_task_id"])

    page = client.get(orders, order["Id"])

    joined = page.raw[0]["Task"]
    assert joined["AssignedToUserId"] == task["AssignedToUserId"] and joined["Property"]["Id"] == task["Property"]["Id"]
    assert client.request_for(orders, order["Id"]) == f"GET /v1/workorders/{order['Id']}"


def test_presence_listings_list_every_rental_and_unit_inactive_ones_included(client, buildium):
    store = buildium.store
    rentals = [record for page in client.pages(client.presence_listing("property")) for record in page.records]
    units = [record for page in client.pages(client.presence_listing("unit")) for record in page.records]

    assert {r.id: r.active for r in rentals} == {r["Id"]: r["IsActive"] for r in store.records("rentals")}
    assert False in {r.active for r in rentals}
    assert sorted(u.id for u in units) == sorted(u["Id"] for u in store.records("rentalunits"))
    with pytest.raises(ValueError, match="reconciles unit, property"):
        client.presence_listing("lease")
