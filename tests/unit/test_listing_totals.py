"""A spec-driven mock source over real HTTP (the sandbox serving records drawn from the vendor's schemas, each answer
telling a random X-Total-Count: any value the spec's int64 allows, or text that is no number at all): no listing is
marked complete unless it really ended, and a total that cannot be true stops it naming the request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmsync.source import PropertywareClient, RetryPolicy, SourceDataError, SourceError
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID, SandboxServer
from sandbox.faults import total_header_fault
from sandbox.store import SandboxStore
from schemas.records import BuildingRecord, UnitRecord
from tests.unit.openapi_strategies import on_the_wire, records_of, response_header

LISTINGS = {"buildings": ("Building", BuildingRecord), "units": ("Unit", UnitRecord)}
NOT_A_COUNT = ["", "ten", "1_0", "+3", "3.0", "0x10", "\u00b2", "-0", "4 4", "99999999999999999999"]
"""X-Total-Count texts that are no count (\u00b2 is a Latin-1 digit Python's isdigit accepts; the last beyond int64)."""


@pytest.fixture(scope="module")
def mock_source() -> Iterator[SandboxServer]:
    with SandboxServer(store=SandboxStore({})) as server:
        yield server


def told_totals(path: str, records: int) -> st.SearchStrategy[str]:
    """What an answer says: near the truth (negative, short, long, exact), any int64 the spec allows, or no number."""
    near = st.integers(-3, records + 3)
    return st.one_of(near, near, response_header(path, "X-Total-Count"), st.sampled_from(NOT_A_COUNT)).map(str)


@st.composite
def listings(draw, name: str):
    schema, _ = LISTINGS[name]
    records = draw(st.lists(records_of(schema).map(on_the_wire), max_size=6, unique_by=lambda r: r["id"]))
    records = [record for record in records if record["id"] != 0]  # the sandbox numbers a record added with id 0
    told = draw(st.lists(told_totals(f"/{name}", len(records)), max_size=8))
    return records, draw(st.integers(1, 4)), told


def serve(store: SandboxStore, name: str, records: list[dict], told: list[str]) -> None:
    store.clear_faults()
    for record_id in [r["id"] for r in store.records(name)]:
        store.delete(name, record_id)
    for record in records:
        store.add(name, record)
    for text in told:
        store.inject(total_header_fault(f"/{name}", text))
    store.clear_requests_log()


def is_count(text: str) -> bool:
    return text.strip().isascii() and text.strip().isdigit() and int(text) < 2**63


@pytest.mark.parametrize("name", list(LISTINGS))
def test_no_listing_is_complete_unless_it_really_ended_whatever_total_each_answer_tells(mock_source, name):
    _, model = LISTINGS[name]

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(listings(name))
    def check(case):
        records, page_size, told = case
        store = mock_source.store
        serve(store, name, records, told)
        client = PropertywareClient(mock_source.base_url, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID,
                                    retry=RetryPolicy(max_attempts=1), page_size=page_size, concurrency=1)
        pages, stopped = [], None
        try:
            for page in client.iter_pages(f"/{name}", model, entity=name, params={"includeDeactivated": "true"}):
                pages.append(page)
        except SourceError as failure:
            stopped = failure
        served = len(store.requests_log)
        said = (told + [str(len(records))] * served)[:served]
        read = [record.id for page in pages for record in page.records]
        if stopped is None:
            assert read == sorted(r["id"] for r in records), "complete, yet not every record was read once (a spec-valid record refused?)"
            assert [page.complete for page in pages] == [False] * (len(pages) - 1) + [True]
            assert all(is_count(text) for text in said), f"a listing was trusted on X-Total-Count {said}"
            return
        assert not any(page.complete for page in pages)
        assert f"[GET /{name}?" in str(stopped) and "offset=" in str(stopped)
        assert said != [str(len(records))] * served, f"a listing that told the truth failed: {stopped}"
        if not is_count(said[-1]):
            assert isinstance(stopped, SourceDataError) and "X-Total-Count" in str(stopped)

    check()
