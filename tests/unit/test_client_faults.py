"""The client over real HTTP against misbehaving sandbox answers: transient read faults retried, paging that proves progress."""

from __future__ import annotations

import itertools

import pytest

from pmsync.source import (
    PropertywareClient,
    RetryPolicy,
    SourceListingUnstable,
    SourceOutcomeUnknown,
    SourcePagingBroken,
    SourceUnavailable,
)
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID
from sandbox.faults import (
    cut_body_fault,
    drift_fault,
    ignore_offset_fault,
    reset_fault,
    total_jump_fault,
    truncated_json_fault,
)
from schemas.records import UnitRecord
from tests.unit.test_client import all_ids, make_client

READ_FAULTS = {
    "body cut mid-transfer (Content-Length promises more)": lambda: cut_body_fault("/units", times=2),
    "connection reset": lambda: reset_fault("/units", times=2),
    "200 with a truncated JSON body": lambda: truncated_json_fault("/units", times=2),
}
PAGES_ENOUGH = 200
"""More pages than any listing here has: a client that loops is stopped by the test, not by a timeout."""


def active_unit_ids(sandbox) -> list[int]:
    return sorted(u["id"] for u in sandbox.store.records("units") if u["active"])


@pytest.mark.parametrize("fault", list(READ_FAULTS.values()), ids=list(READ_FAULTS))
def test_a_transient_read_fault_is_retried_and_the_listing_completes(sandbox, fault):
    sleeps: list[float] = []
    sandbox.store.inject(fault())
    assert all_ids(make_client(sandbox, sleeps=sleeps)) == active_unit_ids(sandbox)
    assert sleeps and sandbox.store.faults == []


def test_a_body_cut_on_every_attempt_fails_as_unavailable_naming_the_request(sandbox):
    sandbox.store.inject(cut_body_fault("/units", times=10))
    with pytest.raises(SourceUnavailable, match=r"after 4 attempts \(last: ChunkedEncodingError\).*\[GET /units\?") as failed:
        all_ids(make_client(sandbox, attempts=4))
    assert failed.value.retriable


def test_a_write_whose_answer_is_cut_must_be_looked_for_before_resending(sandbox):
    building = next(b for b in sandbox.store.records("buildings") if b["active"])
    client = make_client(sandbox)
    sandbox.store.inject(cut_body_fault("/workorders", "POST"))
    with pytest.raises(SourceOutcomeUnknown, match=r"ChunkedEncodingError.*may have been applied \[POST /workorders\]"):
        client.send_write("POST", "/workorders", {"buildingID": building["id"], "description": "Leak"}, entity="workorders")
    assert [w["status"] for w in sandbox.store.writes_log] == [201]


def test_a_server_that_ignores_offset_is_a_clear_error_not_a_loop(sandbox):
    sandbox.store.inject(ignore_offset_fault("/units", times=10_000))
    pages = make_client(sandbox).iter_pages("/units", UnitRecord, entity="units")
    with pytest.raises(SourcePagingBroken, match=r"units page at offset 9 brought no record not already seen.*\[GET /units\?"):
        list(itertools.islice(pages, PAGES_ENOUGH))


def test_a_total_that_jumps_by_more_than_a_page_is_a_clear_error(sandbox):
    sandbox.store.inject(total_jump_fault("/units", page_offset=18, jump=10))
    assert all_ids(make_client(sandbox)) == active_unit_ids(sandbox), "a change of one page size is normal drift"
    sandbox.store.inject(total_jump_fault("/units", page_offset=18, jump=11))
    with pytest.raises(SourceListingUnstable, match=r"units listing changed from \d+ to \d+ records between two pages") as jumped:
        list(itertools.islice(make_client(sandbox).iter_pages("/units", UnitRecord, entity="units"), PAGES_ENOUGH))
    assert jumped.value.retriable and "offset=18" in jumped.value.request


def test_a_bulk_insert_while_paging_is_a_clear_error(sandbox):
    sandbox.store.inject(drift_fault("/units", after_pages=1, insert=25))
    with pytest.raises(SourceListingUnstable, match="more than one page of 10"):
        list(itertools.islice(make_client(sandbox).iter_pages("/units", UnitRecord, entity="units"), PAGES_ENOUGH))


def test_a_page_size_of_one_pages_through_the_whole_listing(sandbox):
    pages = make_client(sandbox, page_size=1).iter_pages("/units", UnitRecord, entity="units")
    ids = [record.id for page in itertools.islice(pages, PAGES_ENOUGH) for record in page.records]
    assert ids == active_unit_ids(sandbox)


def test_only_the_page_where_the_listing_ends_is_complete(sandbox):
    pages = list(make_client(sandbox).iter_pages("/units", UnitRecord, entity="units"))
    assert [page.complete for page in pages] == [False] * (len(pages) - 1) + [True]


@pytest.mark.parametrize("page_size", [0, -1, 501, 10_000])
def test_a_page_size_outside_1_to_500_is_refused_by_the_client(page_size):
    with pytest.raises(ValueError, match=rf"PMSYNC_PW_PAGE_SIZE must be a whole number from 1 to 500.*got {page_size}"):
        PropertywareClient("http://127.0.0.1:9/pw/api/rest/v1", SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET,
                           SANDBOX_SYSTEM_ID, retry=RetryPolicy(), page_size=page_size)
