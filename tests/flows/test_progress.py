"""A sync run reports its progress per batch: totals from X-Total-Count, a percentage that only grows, exactly 100 once
the run succeeded, and below 100 where a failed run stopped (the jobs with the plain steps and a recording step)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from pmsync.jobs.steps import PLAIN_STEPS
from pmsync.jobs.sync import delta_sync, initial_sync
from pmsync.runs.progress import SyncProgress, UNFINISHED_CAP
from pmsync.source import SourceUnavailable
from pmsync.sync.gate import DataQualityError
from pmsync.sync.streams import PAGES_PER_BATCH
from sandbox.faults import status_fault
from sandbox.query import HIDES_DEACTIVATED

STREAMS = ("buildings", "units", "leases", "workorders", "charges", "payments")


def listed(store, stream: str) -> int:
    """The records the source lists for `stream` (deactivated buildings and units are hidden from listings)."""
    return sum(1 for r in store.records(stream) if stream not in HIDES_DEACTIVATED or r.get("active") is not False)


def recording_steps() -> tuple[list[SyncProgress], object]:
    seen: list[SyncProgress] = []
    return seen, replace(PLAIN_STEPS, report_progress=seen.append)


def assert_grows_and_stays_below_100_until_the_end(seen: list[SyncProgress]) -> None:
    percents = [event.percent for event in seen]
    assert percents == sorted(percents), percents
    assert all(event.percent <= UNFINISHED_CAP and not event.finished for event in seen[:-1])


def last_event_per_stream(seen: list[SyncProgress]) -> dict[str, SyncProgress]:
    return {event.stream: event for event in seen if not event.finished}


def test_an_initial_sync_reports_each_batch_with_the_source_s_totals_and_ends_at_exactly_100(
    integration_env, sandbox, monkeypatch
):
    monkeypatch.setenv("PMSYNC_PW_PAGE_SIZE", "3")  # pages overlap by one record: 57 listed units take 28 pages
    seen, steps = recording_steps()

    result = initial_sync(steps)

    assert_grows_and_stays_below_100_until_the_end(seen)
    final = seen[-1]
    assert final.finished and final.percent == 100.0 and final.streams_done == final.streams_total == len(STREAMS)
    assert {event.run_id for event in seen} == {result["run_id"]}
    assert {(event.integration, event.flow) for event in seen} == {("default", "initial")}
    assert [event.stream for event in seen if event.records_announced is None] == list(STREAMS), "a start per stream"
    ends = last_event_per_stream(seen)
    for stream in STREAMS:
        total = listed(sandbox.store, stream)
        assert ends[stream].records_announced == total and ends[stream].records_done == total, stream
    unit_batches = [e for e in seen if e.stream == "units" and e.records_announced is not None]
    assert len(unit_batches) >= 2, "two batches of up to 20 pages"
    assert [e.streams_done for e in unit_batches] == [1] * (len(unit_batches) - 1) + [2]
    assert 0 < unit_batches[0].records_done < unit_batches[1].records_done
    assert 100 / 6 < unit_batches[0].percent < 200 / 6, "each stream weighs the same share until its total is known"


def test_a_delta_sync_announces_its_window_s_totals(integration_env, sandbox):
    store = sandbox.store
    initial_sync(PLAIN_STEPS)
    five_minutes_ago = datetime.now(timezone.utc) - timedelta(minutes=5)
    for unit in [u for u in store.records("units") if u["active"]][:4]:
        store.update("units", unit["id"], at=five_minutes_ago, name=f"{unit['name']} (renamed)")
    for lease in store.records("leases")[:3]:
        store.update("leases", lease["id"], at=five_minutes_ago, baseRent=1234.5)
    store.spawn("workorders", 2, at=five_minutes_ago)
    store.spawn("payments", 1, at=five_minutes_ago)
    changed = {"buildings": 0, "units": 4, "leases": 3, "workorders": 2, "charges": 0, "payments": 1}
    seen, steps = recording_steps()

    delta_sync(steps, overlap_hours=72.0)

    assert_grows_and_stays_below_100_until_the_end(seen)
    assert seen[-1].finished and seen[-1].percent == 100.0 and seen[-1].flow == "delta"
    ends = last_event_per_stream(seen)
    assert {stream: (event.records_announced, event.records_done) for stream, event in ends.items()} == {
        stream: (count, count) for stream, count in changed.items()
    }, "each window announces, and reads, exactly the records changed in it"


def make_units_fail_quality(store) -> None:
    active = [u["id"] for u in store.records("units") if u["active"]]
    for unit_id in active[::2]:
        store.update("units", unit_id, buildingID=None)


def make_leases_unavailable(store) -> None:
    store.inject(status_fault("/leases", 503, times=1_000))


@pytest.mark.parametrize(
    ("break_the_source", "failure", "stopped_in"),
    [(make_units_fail_quality, DataQualityError, "units"), (make_leases_unavailable, SourceUnavailable, "leases")],
    ids=["quality stop", "source unavailable"],
)
def test_a_failed_run_s_progress_stops_below_100_where_it_failed(
    integration_env, sandbox, break_the_source, failure, stopped_in
):
    break_the_source(sandbox.store)
    seen, steps = recording_steps()

    with pytest.raises(failure):
        initial_sync(steps)

    percents = [event.percent for event in seen]
    assert percents == sorted(percents) and not any(event.finished for event in seen)
    assert seen[-1].stream == stopped_in and seen[-1].percent < 100.0
    assert seen[-1].streams_done == STREAMS.index(stopped_in)
