"""The paginator alone, against an in-memory listing: overlap, step back, progress checks and speculation; no server."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmsync.source import SourceDataError, SourceListingUnstable, SourcePagingBroken, SourceUnavailable
from pmsync.source.paging import PageCursor, PageCut, Paginator, PageRequest

REQUESTS_ENOUGH = 5_000
"""More requests than any listing here needs: a paginator that loops fails the test instead of hanging it."""


@dataclass
class Listing:
    """An id-ordered listing as a source serves it, changed between requests by the test."""

    ids: list[int]
    ignores_offset: bool = False
    total_bonus: dict[int, int] = field(default_factory=dict)
    short_at: int | None = None
    served: list[PageRequest] = field(default_factory=list)

    def answer(self, wanted: PageRequest) -> tuple[list[dict], int]:
        self.served.append(wanted)
        offset = 0 if self.ignores_offset else wanted.offset
        end = offset + wanted.limit if self.short_at is None else min(offset + wanted.limit, self.short_at)
        raw = [{"id": record_id} for record_id in sorted(self.ids)[offset:end]]
        return raw, len(self.ids) + self.total_bonus.get(wanted.offset, 0)

    def delete(self, *gone: int) -> None:
        self.ids = [i for i in self.ids if i not in gone]

    def insert(self, count: int) -> None:
        top = max(self.ids, default=0)
        self.ids += list(range(top + 1, top + 1 + count))


def read_page(listing: Listing, cursor: PageCursor, page_size: int, before_request=lambda: None) -> PageCut:
    paginator = Paginator(cursor, page_size, entity="units")
    while True:
        before_request()
        wanted = paginator.request()
        raw, total = listing.answer(wanted)
        cut = paginator.judge(raw, total, request=f"GET /units?offset={wanted.offset}&limit={wanted.limit}")
        if cut is not None:
            return cut
        assert len(listing.served) < REQUESTS_ENOUGH, "the paginator keeps stepping back"


def read_all(listing: Listing, page_size: int, before_request=lambda: None) -> list[PageCut]:
    cuts: list[PageCut] = []
    cursor: PageCursor | None = PageCursor()
    while cursor is not None:
        cuts.append(read_page(listing, cursor, page_size, before_request))
        cursor = cuts[-1].next_cursor
        assert len(listing.served) < REQUESTS_ENOUGH, "the listing never ends"
    return cuts


def ids_of(cuts: list[PageCut]) -> list[int]:
    return [record["id"] for cut in cuts for record in cut.fresh]


def test_a_static_listing_is_read_once_in_order_each_page_starting_one_record_early():
    listing = Listing(list(range(1, 31)))
    cuts = read_all(listing, 10)
    assert ids_of(cuts) == list(range(1, 31))
    assert listing.served == [PageRequest(0, 10), PageRequest(9, 10), PageRequest(18, 10), PageRequest(27, 10)]
    assert [cut.complete for cut in cuts] == [False, False, False, True]
    assert cuts[-1].next_cursor is None and [cut.calls for cut in cuts] == [1, 1, 1, 1]


def test_records_leaving_the_listing_make_the_page_step_back_until_it_overlaps():
    listing = Listing(list(range(1, 41)))
    first = read_page(listing, PageCursor(), 10)
    listing.delete(1, 2, 3)
    paginator = Paginator(first.next_cursor, 10, entity="units")
    wanted = paginator.request()
    assert wanted == PageRequest(9, 10)
    assert paginator.judge(*listing.answer(wanted), request="GET /units") is None, "id 13 after 10: records left"
    assert paginator.request() == PageRequest(6, 10), "stepped back 4 records"
    cut = paginator.judge(*listing.answer(paginator.request()), request="GET /units")
    assert [r["id"] for r in cut.fresh] == list(range(11, 20)) and cut.calls == 2 and cut.offset == 6
    assert cut.next_cursor == PageCursor(16, 19, 37)


def test_step_back_grows_fourfold_and_stops_at_the_start():
    listing = Listing(list(range(1, 101)))
    cursor = PageCursor(60, 60, 60)
    listing.delete(*range(1, 41))
    paginator = Paginator(cursor, 10, entity="units")
    offsets = []
    while True:
        offsets.append(paginator.request().offset)
        cut = paginator.judge(*listing.answer(paginator.request()), request="GET /units")
        if cut is not None:
            break
    assert offsets == [59, 56, 44, 0]
    assert cut.fresh == [] and cut.next_cursor == PageCursor(10, 60, 60, reached=50), "only seen records, up to id 50"
    rest = []
    cursor = cut.next_cursor
    while cursor is not None:
        page = read_page(listing, cursor, 10)
        rest += [r["id"] for r in page.fresh]
        cursor = page.next_cursor
    assert rest == list(range(61, 101)), "pages behind the last id seen move on until they reach new records"


def test_a_small_page_far_behind_after_stepping_back_is_not_mistaken_for_a_source_ignoring_offset():
    """Found by the property below: page size 1 (2 records a page), one record gone, a step back of 4 lands two
    pages behind; the page after it holds only seen records too, yet it moved forward."""
    listing = Listing([1, 2, 3, 4, 5])
    cursor = PageCursor(4, 4, 5)
    listing.delete(1)
    rest = []
    while cursor is not None:
        page = read_page(listing, cursor, 1)
        rest += [r["id"] for r in page.fresh]
        cursor = page.next_cursor
    assert rest == [5]


def test_records_inserted_while_paging_are_read_and_nothing_twice():
    listing = Listing(list(range(1, 26)))
    requests = iter(range(REQUESTS_ENOUGH))
    cuts = read_all(listing, 10, lambda: listing.insert(3) if next(requests) in (1, 2) else None)
    assert ids_of(cuts) == list(range(1, 32))


def test_a_server_that_ignores_offset_is_paging_broken_not_a_loop():
    listing = Listing(list(range(1, 31)), ignores_offset=True)
    with pytest.raises(SourcePagingBroken, match=r"units page at offset 9 brought no record not already seen.*30"):
        read_all(listing, 10)
    assert len(listing.served) == 2


def test_a_total_that_jumps_by_more_than_a_page_is_unstable_and_one_page_is_drift():
    assert ids_of(read_all(Listing(list(range(1, 31)), total_bonus={18: 10}), 10)) == list(range(1, 31))
    with pytest.raises(SourceListingUnstable, match=r"units listing changed from 30 to 41 records between two pages"):
        read_all(Listing(list(range(1, 31)), total_bonus={18: 11}), 10)


def test_a_listing_that_ends_short_of_its_total_is_unavailable():
    with pytest.raises(SourceUnavailable, match=r"units listing ended at 15 of 30 records \[GET /units\?offset=9"):
        read_all(Listing(list(range(1, 31)), short_at=15), 10)


def test_a_page_size_of_one_reads_two_records_a_page_one_seen_one_new():
    listing = Listing(list(range(1, 6)))
    cuts = read_all(listing, 1)
    assert ids_of(cuts) == [1, 2, 3, 4, 5]
    assert listing.served[:3] == [PageRequest(0, 1), PageRequest(0, 2), PageRequest(1, 2)]
    assert [len(cut.fresh) for cut in cuts] == [1, 1, 1, 1, 1, 0], "the last full page is confirmed by a short one"


def test_a_full_page_ending_at_the_total_is_confirmed_by_one_more_request_that_comes_back_short():
    listing = Listing(list(range(1, 20)))
    cuts = read_all(listing, 10)
    assert [(cut.offset, len(cut.fresh), cut.complete) for cut in cuts] == [(0, 10, False), (9, 9, False), (18, 0, True)]
    assert listing.served[-1] == PageRequest(18, 10)


def test_an_empty_listing_is_one_complete_page():
    listing = Listing([])
    cuts = read_all(listing, 10)
    assert [(cut.fresh, cut.total, cut.complete, cut.next_cursor) for cut in cuts] == [([], 0, True, None)]


def test_speculation_predicts_exactly_the_requests_of_a_static_listing_and_none_past_its_end():
    listing = Listing(list(range(1, 48)))
    cuts = read_all(listing, 10)
    second = Paginator(cuts[0].next_cursor, 10, entity="units")
    assert [second.request(), *second.speculate(10)] == listing.served[1:]
    assert Paginator(PageCursor(), 10, entity="units").speculate(3) == [], "the first page knows no total"
    assert Paginator(cuts[-2].next_cursor, 10, entity="units").speculate(3) == []


def test_a_paginator_that_stepped_back_predicts_nothing():
    listing = Listing(list(range(1, 41)))
    first = read_page(listing, PageCursor(), 10)
    listing.delete(1)
    paginator = Paginator(first.next_cursor, 10, entity="units")
    assert paginator.judge(*listing.answer(paginator.request()), request="GET /units") is None
    assert paginator.speculate(3) == []


@st.composite
def listings_with_changes(draw):
    page_size = draw(st.integers(1, 6))
    ids = sorted(draw(st.sets(st.integers(1, 400), max_size=40)))
    changes = draw(st.lists(
        st.tuples(st.lists(st.integers(0, 60), max_size=page_size), st.integers(0, page_size)), max_size=30
    ))
    return page_size, ids, changes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(listings_with_changes())
def test_any_deletions_and_insertions_between_pages_yield_every_lasting_id_once_in_order(case):
    """Before each request up to one page of records leave the listing (any of them) and up to one page of new ids
    arrive (ids above every id the source has used, as a source numbers new records): every id present throughout is
    read exactly once, and the ids come in increasing order."""
    page_size, ids, changes = case
    listing = Listing(list(ids))
    ever = set(ids)
    pending = iter(changes)

    def change() -> None:
        leaving, arriving = next(pending, ((), 0))
        current = sorted(listing.ids)
        listing.delete(*{current[i] for i in leaving if i < len(current)})
        top = max(ever, default=0)
        listing.ids += list(range(top + 1, top + 1 + arriving))
        ever.update(listing.ids)

    cuts = read_all(listing, page_size, change)
    read = ids_of(cuts)
    lasting = set(ids) & set(listing.ids)
    assert read == sorted(set(read)), "ids come once each, in increasing order"
    assert lasting <= set(read)
    assert set(read) <= ever
    assert [cut.complete for cut in cuts] == [False] * (len(cuts) - 1) + [True]


def test_a_full_page_that_ends_where_a_lying_total_says_is_not_the_end():
    """X-Total-Count says 10 on a full first page of 10 while 30 exist: before, the listing was complete after one
    page; the page that must confirm it finds more records than the total allows."""
    listing = ToldListing(list(range(1, 31)), told=[10, 10])
    with pytest.raises(SourceDataError, match=r"X-Total-Count says 10 records, yet this answer proves at least 19"):
        read_all(listing, 10)


@pytest.mark.parametrize("total", [-1, -(2**63), 4])
def test_a_total_below_what_the_answer_itself_holds_is_a_data_error_naming_the_request(total):
    with pytest.raises(SourceDataError, match=rf"^units: X-Total-Count says {total} records.*\[GET /units\?offset=0"):
        read_all(ToldListing(list(range(1, 31)), told=[total]), 10)
    with pytest.raises(SourceDataError, match=rf"X-Total-Count says -1 records, yet this answer proves at least 0"):
        read_all(ToldListing([], told=[-1]), 10)


@dataclass
class ToldListing(Listing):
    """A listing whose answers report the totals in `told`, in order (None: the true one), then the true ones."""

    told: list[int | None] = field(default_factory=list)

    def answer(self, wanted: PageRequest) -> tuple[list[dict], int]:
        raw, true_total = super().answer(wanted)
        said = self.told[len(self.served) - 1] if len(self.served) <= len(self.told) else None
        return raw, true_total if said is None else said


@st.composite
def listings_with_told_totals(draw):
    page_size = draw(st.integers(1, 6))
    ids = sorted(draw(st.sets(st.integers(-400, 400), max_size=30)))
    near = st.integers(-3, len(ids) + 3)
    told = draw(st.lists(st.none() | near | st.integers(-(2**63), 2**63 - 1), max_size=12))
    return page_size, ids, told


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(listings_with_told_totals())
def test_whatever_totals_a_static_listing_reports_it_is_complete_only_when_every_record_was_read(case):
    """Each answer's X-Total-Count is drawn at random (the truth, near it, negative, any int64); the records served are
    the true ones. A listing ends complete only having read every id once, in order; else it stops with a source
    error naming the request; and a listing whose every answer told the truth completes."""
    page_size, ids, told = case
    listing = ToldListing(list(ids), told=told)
    cuts: list[PageCut] = []
    try:
        cursor: PageCursor | None = PageCursor()
        while cursor is not None:
            cuts.append(read_page(listing, cursor, page_size))
            cursor = cuts[-1].next_cursor
    except (SourceDataError, SourceListingUnstable, SourcePagingBroken, SourceUnavailable) as stopped:
        assert "[GET /units?offset=" in str(stopped)
        assert not any(cut.complete for cut in cuts)
        truthful = all(said in (None, len(ids)) for said in told[: len(listing.served)])
        assert not truthful, f"a listing that told the truth failed: {stopped}"
        return
    assert ids_of(cuts) == ids, "complete, yet not every record was read once, in order"
    assert [cut.complete for cut in cuts] == [False] * (len(cuts) - 1) + [True]
