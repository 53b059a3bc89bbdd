"""Listings with several pages in flight, over real HTTP against the sandbox: the same pages as one request at a time,
through drift, faults and early exits; batches; the request budget, its settings and its pause (a Retry-After holds
every thread)."""

from __future__ import annotations

import itertools
import threading

import pytest

from pmsync.integrations.integration import IntegrationNotConfigured, environment_settings, integration_from_environment
from pmsync.source import PropertywareClient, RetryPolicy, SourcePagingBroken
from pmsync.source.budget import RequestBudget
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID
from sandbox.faults import drift_fault, ignore_offset_fault, status_fault
from sandbox.slowdowns import Slowdown
from schemas.records import LeaseRecord, UnitRecord
from tests.unit.test_client import make_client
from tests.unit.test_client_faults import PAGES_ENOUGH, active_unit_ids


def concurrent_client(sandbox, concurrency, **kwargs):
    client = make_client(sandbox, **kwargs)
    client.concurrency = concurrency
    return client


def page_facts(pages) -> list[tuple]:
    return [(p.offset, p.total, p.complete, p.requests_made, p.next_cursor, [r.id for r in p.records], p.raw)
            for p in pages]


def worker_threads(entity: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(f"pmsync-{entity}")]


@pytest.mark.parametrize("page_size", [1, 4, 10])
def test_every_concurrency_yields_exactly_the_pages_of_one_request_at_a_time(sandbox, page_size):
    one_at_a_time = make_client(sandbox, page_size=page_size)
    one_at_a_time.concurrency = 1
    expected = page_facts(one_at_a_time.iter_pages("/leases", LeaseRecord, entity="leases"))
    for concurrency in (2, 3, 4):
        sandbox.store.clear_requests_log()
        client = concurrent_client(sandbox, concurrency, page_size=page_size)
        assert page_facts(client.iter_pages("/leases", LeaseRecord, entity="leases")) == expected
        assert client.requests_made == one_at_a_time.requests_made == len(sandbox.store.requests_log), \
            "no page is fetched past the listing's end, and every request is counted once"
    assert worker_threads("leases") == []


def test_pages_really_are_in_flight_together(sandbox):
    sandbox.store.slowdowns.add(Slowdown(0.3, "/units"))
    sandbox.store.clear_requests_log()
    ids = [r.id for page in concurrent_client(sandbox, 3, page_size=5).iter_pages("/units", UnitRecord, entity="units")
           for r in page.records]
    assert ids == active_unit_ids(sandbox)
    assert sandbox.store.most_in_flight == 3


def test_records_leaving_and_arriving_mid_listing_with_pages_in_flight_skip_and_repeat_nothing(sandbox):
    before = active_unit_ids(sandbox)
    sandbox.store.inject(drift_fault("/units", after_pages=2, insert=4, delete_front=4))
    sandbox.store.inject(drift_fault("/units", after_pages=2, insert=0, delete_front=3))
    ids = [r.id for page in concurrent_client(sandbox, 3, page_size=5).iter_pages("/units", UnitRecord, entity="units")
           for r in page.records]
    assert ids == sorted(set(ids))
    assert set(before[7:]) <= set(ids)
    assert sandbox.store.faults == []


def test_records_deleted_between_pages_make_speculative_pages_be_discarded_and_the_listing_step_back(sandbox):
    units = active_unit_ids(sandbox)
    pages = concurrent_client(sandbox, 4, page_size=5).iter_pages("/units", UnitRecord, entity="units")
    first, second = next(pages), next(pages)
    for gone in units[:4]:
        sandbox.store.delete("units", gone)
    rest = list(pages)
    assert [r.id for r in first.records + second.records] + [r.id for page in rest for r in page.records] == units
    assert any(page.requests_made > 1 for page in rest), "a page stepped back after the pages sent ahead"


def test_a_500_storm_within_the_retry_budget_ends_with_the_whole_listing_and_an_exact_request_count(sandbox):
    sleeps: list[float] = []
    sandbox.store.inject(status_fault("/units", 500, times=25))
    sandbox.store.clear_requests_log()
    client = concurrent_client(sandbox, 3, attempts=30, page_size=4, sleeps=sleeps)
    ids = [r.id for page in client.iter_pages("/units", UnitRecord, entity="units") for r in page.records]
    assert ids == active_unit_ids(sandbox)
    assert len(sleeps) >= 25 and sandbox.store.faults == []
    assert client.requests_made == len(sandbox.store.requests_log)


def test_a_server_that_ignores_offset_is_still_a_clear_error_with_pages_in_flight(sandbox):
    sandbox.store.inject(ignore_offset_fault("/units", times=10_000))
    pages = concurrent_client(sandbox, 3).iter_pages("/units", UnitRecord, entity="units")
    with pytest.raises(SourcePagingBroken, match=r"units page at offset 9 brought no record not already seen"):
        list(itertools.islice(pages, PAGES_ENOUGH))
    assert worker_threads("units") == []


def test_leaving_a_listing_early_cancels_what_is_in_flight_and_joins_the_workers(sandbox):
    sandbox.store.slowdowns.add(Slowdown(0.2, "/units"))
    pages = concurrent_client(sandbox, 4, page_size=3).iter_pages("/units", UnitRecord, entity="units")
    next(pages), next(pages)
    assert worker_threads("units"), "pages are being fetched ahead"
    pages.close()
    assert worker_threads("units") == []


def test_batches_hold_consecutive_pages_and_the_last_ends_at_the_listing_end(sandbox):
    client = concurrent_client(sandbox, 3, page_size=4)
    batches = list(client.iter_batches("/units", UnitRecord, entity="units", pages_per_batch=3))
    pages = [page for batch in batches for page in batch]
    assert [len(batch) for batch in batches[:-1]] == [3] * (len(batches) - 1) and 1 <= len(batches[-1]) <= 3
    assert batches[-1][-1].complete and batches[-1][-1].next_cursor is None
    assert not any(page.complete for page in pages[:-1])
    assert [r.id for page in pages for r in page.records] == active_unit_ids(sandbox)
    with pytest.raises(ValueError, match="pages_per_batch must be at least 1"):
        next(client.iter_batches("/units", UnitRecord, entity="units", pages_per_batch=0))


def test_the_budget_paces_requests_shared_by_all_threads_after_a_burst():
    now = [100.0]
    waits: list[float] = []
    budget = RequestBudget(10, burst=2, clock=lambda: now[0], sleep=waits.append)
    spent = [budget.spend() for _ in range(5)]
    assert spent == pytest.approx([0, 0, 0.1, 0.2, 0.3]) and waits == pytest.approx([0.1, 0.2, 0.3])
    now[0] += 10
    assert [budget.spend(), budget.spend()] == [0, 0], "an idle budget allows a burst again"
    shared = RequestBudget(10, burst=1, clock=lambda: now[0], sleep=lambda _s: None)
    threads = [threading.Thread(target=shared.spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert shared.spend() == pytest.approx(0.8), "eight requests from eight threads took eight slots"


def test_the_budget_never_starts_more_than_its_rate_in_any_second():
    """A source counting a sliding second (Buildium: 10 per second per account) never sees more, burst included."""
    now = [0.0]
    budget = RequestBudget(10, burst=2, clock=lambda: now[0], sleep=lambda _s: None)
    starts = [now[0] + budget.spend() for _ in range(25)]
    assert starts[:11] == pytest.approx([0, 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.05])
    assert all(sum(1 for t in starts if begin <= t < begin + 1.05 - 1e-9) <= 10 for begin in starts)


def test_clients_of_one_account_share_its_budget_and_other_accounts_do_not():
    from pmsync.source import PropertywareClient
    from pmsync.source.buildium.client import BuildiumClient

    first, again = (BuildiumClient("http://127.0.0.1:9", "account-a", "secret-value", 7) for _ in range(2))
    other = BuildiumClient("http://127.0.0.1:9", "account-b", "secret-value", 7)
    assert first._budget is again._budget and first._budget is not other._budget
    pw = [PropertywareClient("http://127.0.0.1:9", SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID)
          for _ in range(2)]
    assert pw[0]._budget is pw[1]._budget and pw[0]._budget is not first._budget
    paced = BuildiumClient("http://127.0.0.1:9", "account-a", "secret-value", 7, sleep=lambda _s: None)
    assert paced._budget is not first._budget, "a client given its own sleep (a test's clock) keeps its own budget"


def test_the_integration_opens_a_client_within_its_concurrency_and_budget(integration_env, monkeypatch):
    monkeypatch.setenv("PMSYNC_PW_CONCURRENCY", "3")
    monkeypatch.setenv("PMSYNC_PW_MAX_REQUESTS_PER_SECOND", "12.5")
    client = integration_from_environment().open_client()
    assert client.concurrency == 3 and client._budget.interval == pytest.approx(0.08)
    monkeypatch.delenv("PMSYNC_PW_CONCURRENCY")
    monkeypatch.delenv("PMSYNC_PW_MAX_REQUESTS_PER_SECOND")
    assert environment_settings().pw_concurrency == 2


@pytest.mark.parametrize("variable, value, message", [
    ("PMSYNC_PW_CONCURRENCY", "0", "PMSYNC_PW_CONCURRENCY must be a whole number from 1 to 4"),
    ("PMSYNC_PW_CONCURRENCY", "5", "PMSYNC_PW_CONCURRENCY must be a whole number from 1 to 4"),
    ("PMSYNC_PW_CONCURRENCY", "two", "PMSYNC_PW_CONCURRENCY: Input should be a valid integer"),
    ("PMSYNC_PW_MAX_REQUESTS_PER_SECOND", "0", "PMSYNC_PW_MAX_REQUESTS_PER_SECOND must be a number above 0"),
    ("PMSYNC_PW_MAX_REQUESTS_PER_SECOND", "-3", "PMSYNC_PW_MAX_REQUESTS_PER_SECOND must be a number above 0"),
])
def test_a_concurrency_or_request_rate_out_of_range_is_refused_at_configuration(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(IntegrationNotConfigured, match=message):
        environment_settings()


def test_the_client_refuses_a_concurrency_outside_1_to_4():
    from pmsync.source import PropertywareClient

    for concurrency in (0, 5):
        with pytest.raises(ValueError, match="PMSYNC_PW_CONCURRENCY must be a whole number from 1 to 4"):
            PropertywareClient("http://127.0.0.1:9", SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID,
                               concurrency=concurrency)


@pytest.mark.parametrize("field, value", [("concurrency", 5), ("concurrency", 0), ("max_requests_per_second", 0)])
def test_the_integration_block_refuses_a_concurrency_or_request_rate_out_of_range(field, value):
    from pydantic import ValidationError

    from pmsync.integrations.blocks import PropertywareIntegration

    fields = dict(base_url="http://127.0.0.1:9", client_id="id", client_secret="secret-value", system_id="1",
                  integration_user="someone@example.com")
    assert PropertywareIntegration(**fields).concurrency is None, "unset: PMSYNC_PW_CONCURRENCY applies"
    with pytest.raises(ValidationError, match=rf"{field} must be"):
        PropertywareIntegration(**fields, **{field: value})


def test_a_pause_holds_every_request_of_the_budget_until_it_ends():
    now = [50.0]
    waits: list[float] = []
    budget = RequestBudget(None, clock=lambda: now[0], sleep=waits.append)
    assert budget.spend() == 0 and budget.interval == 0, "no rate: only a pause holds requests"
    budget.pause(3)
    budget.pause(1)
    assert budget.spend() == pytest.approx(3), "a shorter pause does not shorten the one set"
    now[0] += 2
    assert budget.spend() == pytest.approx(1) and waits == pytest.approx([3, 1])
    now[0] += 1
    assert budget.spend() == 0
    paced = RequestBudget(10, clock=lambda: now[0], sleep=waits.append)
    paced.pause(2)
    assert [paced.spend(), paced.spend()] == pytest.approx([2, 2.1]), "after the pause the rate applies again"


RETRY_AFTER_SECONDS = 1


@pytest.mark.parametrize("concurrency", [2, 3])
def test_a_retry_after_pauses_every_thread_of_the_client_not_only_the_one_that_got_it(sandbox, concurrency):
    """Pages of 10 go out at offsets 0, 9, 18, 27 …; the request at 18 (sent ahead with the one at 9) gets the 429 at
    once, while the answer at 9 is held half a second, so the listing sends its next pages after the 429 is in. The
    pages sent together with it may still arrive; every request sent after it arrives no earlier than the Retry-After
    allows (the sandbox's arrival times)."""
    sandbox.store.inject(status_fault("/units", 429, retry_after=RETRY_AFTER_SECONDS, page_offset=18))
    sandbox.store.slowdowns.add(Slowdown(0.5, "/units", times=1, page_offset=9))
    sandbox.store.clear_requests_log()
    client = PropertywareClient(sandbox.base_url, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID,
                                retry=RetryPolicy(max_attempts=3), page_size=10, concurrency=concurrency)
    ids = [r.id for page in client.iter_pages("/units", UnitRecord, entity="units") for r in page.records]
    assert ids == active_unit_ids(sandbox) and sandbox.store.faults == []
    arrivals = [(int(query["offset"]), at) for (_, _, query), at in
                zip(sandbox.store.requests_log, sandbox.store.request_times)]
    refused_at = next(at for offset, at in arrivals if offset == 18)
    sent_with_it = {9 * page for page in range(1, concurrency + 1)}
    early = [offset for offset, at in arrivals if refused_at < at < refused_at + RETRY_AFTER_SECONDS]
    assert set(early) <= sent_with_it, f"requests sent during the Retry-After: {sorted(set(early) - sent_with_it)}"
    first_sent_after = 9 * (concurrency + 1)
    assert any(offset == first_sent_after for offset, _ in arrivals), "another thread had a page to fetch meanwhile"
