"""A delta's windowed listings open together (their first requests in flight at once, within the account's request
budget, never beyond it) and a listing with nothing in its window takes no step of its own; over HTTP against the
sandboxes, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import pytest
import sqlalchemy as sa

from pmsync.integrations.integration import integration_from_environment
from pmsync.jobs import JOBS
from pmsync.jobs.steps import PLAIN_STEPS
from pmsync.runs.parameters import OVERLAP_HOURS_MAX
from pmsync.source.buildium.dialect import filters_by_window
from pmsync.source.errors import SourceUnavailable
from sandbox.buildium import BuildiumSandboxServer, buildium_sandbox_settings
from sandbox.faults import status_fault
from sandbox.slowdowns import Slowdown
from schemas.tables import sync_runs, sync_state

initial_sync, delta_sync = JOBS["initial-sync"], JOBS["delta-sync"]
FIRST_PAGE_SECONDS = 1.0
"""How long the sandbox holds every first page of the delta: listings opened one after another would never have two
in flight; opened together, they are in flight at once."""
IN_FLIGHT = 4
"""The client's requests in flight at most (PMSYNC_BUILDIUM_CONCURRENCY), whatever listings they serve."""


@pytest.mark.parametrize("rate", [5, 10])  # fewer, and more, than the delta's windowed listings
def test_a_deltas_windowed_listings_start_together_within_the_accounts_budget(rate, monkeypatch, platform_url):
    with BuildiumSandboxServer(units=60, seed=7, rate_limit=rate) as buildium:
        for name in [name for name in os.environ if name.startswith("PMSYNC_")]:
            monkeypatch.delenv(name)
        for name, value in {**buildium_sandbox_settings(buildium.base_url), "PMSYNC_DATABASE_URL": platform_url,
                            "PMSYNC_BUILDIUM_MAX_REQUESTS_PER_SECOND": str(rate),
                            "PMSYNC_BUILDIUM_CONCURRENCY": str(IN_FLIGHT)}.items():
            monkeypatch.setenv(name, value)
        store = buildium.store
        initial_sync()
        windowed = [s for s in integration_from_environment().rules.streams if not s.nightly and filters_by_window(s.path)]
        store.slowdowns.add(Slowdown(FIRST_PAGE_SECONDS, page_offset=0))
        time.sleep(1.1)  # a fresh second, in the account's budget and at the sandbox
        store.clear_requests_log()
        refused = store.rate_limited

        result = delta_sync()

        arrivals = list(store.request_times)
        assert result["counts"] and all(n["created"] == n["updated"] == 0 for n in result["counts"].values())
        assert store.rate_limited == refused, "the sandbox, counting a sliding second per client id, refused none"
        # the budget starts the (rate + 1)-th request 1.05 s after the first: within half a second (room for arrival
        # jitter on a loaded machine) never more than `rate` arrive; without it all nine would arrive at once
        assert max(sum(1 for t in arrivals if start <= t < start + 0.5) for start in arrivals) <= rate
        together = min(rate, len(windowed), IN_FLIGHT)  # 9 listings, at most 4 requests in flight
        assert store.most_in_flight == together, (
            f"{store.most_in_flight} requests in flight at most: the windowed listings' first pages did not start "
            f"together ({rate} may start in a second)")
        assert arrivals[together - 1] - arrivals[0] < 0.5, "as many as the budget allows in a second start at once"


def test_a_listing_with_nothing_in_its_window_takes_no_step_and_still_advances_its_mark(
        integration_env, sandbox, platform_engine):
    initial_sync()
    streams = integration_from_environment().rules.streams
    unit = sandbox.store.records("units")[0]
    sandbox.store.update("units", unit["id"], name=f"{unit['name']} (renamed)")
    extracted: list[str] = []

    def extract_batch(batches, stream, number):
        extracted.append(stream.name)
        return PLAIN_STEPS.extract_batch(batches, stream, number)

    result = delta_sync.function(replace(PLAIN_STEPS, extract_batch=extract_batch))

    assert result["counts"]["unit"]["updated"] == 1
    assert set(extracted) == {"units"}, "only the listing with a record in its window has steps"
    with platform_engine.connect() as connection:
        run_id = connection.execute(sa.select(sa.func.max(sync_runs.c.id))).scalar_one()
        marked = set(connection.execute(sa.select(sync_state.c.stream).where(sync_state.c.run_id == run_id)).scalars())
    assert marked == {stream.name for stream in streams if not stream.nightly}, "every stream's mark advanced"


def test_a_failing_listing_opened_ahead_fails_the_run_at_its_turn_after_the_streams_before_it(
        integration_env, sandbox, platform_engine):
    initial_sync()
    sandbox.store.inject(status_fault("/workorders", 503, times=1000))
    extracted: list[str] = []

    def extract_batch(batches, stream, number):
        extracted.append(stream.name)
        return PLAIN_STEPS.extract_batch(batches, stream, number)

    with pytest.raises(SourceUnavailable) as failed:
        delta_sync.function(replace(PLAIN_STEPS, extract_batch=extract_batch))

    assert "/workorders" in str(failed.value)
    assert extracted == ["workorders"], "the failure is raised by the step taking the listing's first batch"
    with platform_engine.connect() as connection:
        run_id = connection.execute(sa.select(sa.func.max(sync_runs.c.id))).scalar_one()
        marked = set(connection.execute(sa.select(sync_state.c.stream).where(sync_state.c.run_id == run_id)).scalars())
    assert marked == {"buildings", "units", "leases"}, "the streams before it were loaded, none after"


def test_a_listing_of_records_the_platform_holds_as_they_are_takes_no_step_and_counts_them_unchanged(
        integration_env, sandbox, platform_engine, monkeypatch):
    monkeypatch.setenv("PMSYNC_PW_PAGE_SIZE", "500")  # each listing one page
    initial_sync()
    extracted: list[str] = []

    def extract_batch(batches, stream, number):
        extracted.append(stream.name)
        return PLAIN_STEPS.extract_batch(batches, stream, number)

    result = delta_sync.function(replace(PLAIN_STEPS, extract_batch=extract_batch), overlap_hours=OVERLAP_HOURS_MAX)

    counts = result["counts"]
    streams = integration_from_environment().rules.streams
    listed = {stream.name for stream in streams if counts.get(stream.entities[0], {}).get("fetched")}
    retried = {stream.name for stream in streams if any(counts.get(entity, {}).get("parked") for entity in stream.entities)}
    assert len(listed - retried) >= 4, counts
    assert set(extracted) == retried, (
        "a listing takes steps only when it holds a record to apply: here the parked ones, tried again")
    assert all(kinds.get(kind, 0) == 0 for kinds in counts.values() for kind in ("created", "updated")), counts
    with platform_engine.connect() as connection:
        run_id = connection.execute(sa.select(sa.func.max(sync_runs.c.id))).scalar_one()
        marked = set(connection.execute(sa.select(sync_state.c.stream).where(sync_state.c.run_id == run_id)).scalars())
    assert marked == {stream.name for stream in streams if not stream.nightly}, "every stream's mark advanced"
