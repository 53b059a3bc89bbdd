"""The Buildium bench (issue 26) counts what it claims: its floor reads the listings the initial sync reads, once each
and within the rate limit, and `pmsync bench --source buildium` runs its syncs and judges their targets in a section
of REPORT.md of its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from bench.buildium_floor import TASKS, buildium_listings, floor_table, measure_buildium_floor
from bench.report import BUILDIUM_BEGIN, BUILDIUM_END, splice_buildium_section
from bench.run import run_bench
from pmsync.platform.database import make_engine
from pmsync.source.buildium.client import BuildiumClient
from pmsync.source.buildium.parts import BuildiumRecord
from pmsync.source.buildium.rules import BUILDIUM_STREAMS
from pmsync.source.protocol import Window
from sandbox.buildium import (SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_STAFF_USER_ID, BuildiumSandboxServer,
                              BuildiumStore)
from tests.conftest import POSTGRES_URL


@pytest.fixture
def buildium() -> Iterator[BuildiumSandboxServer]:
    with BuildiumSandboxServer(units=40, seed=3) as server:
        yield server


def listed_ids(buildium: BuildiumSandboxServer) -> dict[str, list[int]]:
    """Every id each listing of the initial sync returns, read through the product's own client (an independent
    path), and the staff user's tasks."""
    client = BuildiumClient(buildium.base_url, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_STAFF_USER_ID)
    window = Window(None, datetime.now(timezone.utc))
    ids = {stream.name: [record.id for page in client.pages(stream, window if client.filters(stream) else None)
                         for record in page.records]
           for stream in BUILDIUM_STREAMS}
    name, path, params = TASKS
    ids[name] = [record.id for page in client.iter_pages(path, BuildiumRecord, entity="task", params=params)
                 for record in page.records]
    return ids


def test_buildium_floor_stores_every_record_the_sync_lists_once_within_the_rate(buildium, platform_url):
    expected = listed_ids(buildium)
    assert set(expected) == {listing.name for listing in buildium_listings(datetime.now(timezone.utc))}
    limited_before = buildium.store.rate_limited
    floor = measure_buildium_floor(buildium.root_url, platform_url, per_second=10)
    engine = make_engine(platform_url)
    tables = {name: floor_table(sa.MetaData(), name) for name in expected}
    with engine.connect() as connection:
        stored = {name: sorted(connection.execute(sa.select(tables[name].c.source_id)).scalars()) for name in expected}
        unit = json.loads(connection.execute(sa.select(tables["rentalunits"].c.source_data).limit(1)).scalar_one())
    engine.dispose()
    assert stored == {name: sorted(ids) for name, ids in expected.items()}
    assert all(expected.values()), "every listing has records at 40 units"
    assert floor.records == sum(len(ids) for ids in expected.values())
    assert floor.requests == len(expected) + floor.too_many_requests, "one page of at most 1000 per listing, and retries"
    assert buildium.store.rate_limited - limited_before == floor.too_many_requests, "every 429 counted"
    assert {"Id", "PropertyId"} <= set(unit)


def refused(operation) -> int:
    """The requests the sandbox answered 429 during an operation, as its note says (each was sent again)."""
    return int(operation.note.split(" answered 429")[0].split()[-1])


def test_buildium_bench_runs_its_syncs_and_judges_them_in_its_own_section(tmp_path):
    """`pmsync bench --source buildium` on both databases (one Prefect server): floor, initial sync and two deltas at
    Buildium's 10 requests a second; REPORT.md's other sections stay as they were."""
    (tmp_path / "REPORT.md").write_text("# pmsync benchmark\n\nPropertyware's sections.\n")
    (tmp_path / "results.json").write_text(json.dumps([{"units": 1, "database": "sqlite", "source": "propertyware"}]))

    results = run_bench([40], ["sqlite", "postgresql"], tmp_path, POSTGRES_URL, progress=lambda line: None,
                        sources=("buildium",), command="pmsync bench --source buildium --units 40")

    ownership_accounts = BuildiumStore(units=40, rate_limit=None).count("ownershipaccounts")
    assert [(r.source, r.database, r.rate) for r in results] == [("buildium", "sqlite", 10), ("buildium", "postgresql", 10)]
    for result in results:
        floor, initial, unchanged, changed = result.operations
        assert floor.name == "floor" and floor.records == result.source_records > 0
        assert 0 < initial.records < floor.records, "the floor's records include the tasks; the sync counts listings"
        assert initial.requests - refused(initial) == floor.requests - refused(floor), "the same pages: one a listing"
        assert initial.floor_ratio == initial.seconds / floor.seconds and initial.peak_rss_mb > 50
        assert unchanged.records <= ownership_accounts, "only the date-only window's day comes back"
        touched = int(changed.note.split()[0])
        assert unchanged.records < changed.records <= unchanged.records + touched, \
            "the touched records come back (other staff users' work orders are not listed)"
        assert "answered 429" in initial.note
    report = (tmp_path / "REPORT.md").read_text()
    assert report.startswith("# pmsync benchmark\n\nPropertyware's sections.\n")
    section = report[report.index(BUILDIUM_BEGIN):report.index(BUILDIUM_END)]
    assert "## Buildium (issue 26)" in section and "Request rate: 10 requests/s" in section
    assert "`pmsync bench --source buildium --units 40`" in section
    for database in ("sqlite", "postgresql"):
        where = f"Buildium 40 units, {database}"
        assert f"| initial sync against the floor | {where} |" in section
        assert f"| delta, nothing changed, Prefect server running (whole process) | {where} |" in section
        assert f"| 40 | {database} | delta, 1% changed |" in section
    assert "of 4 checks met" in section
    kept = json.loads((tmp_path / "results.json").read_text())
    assert [entry["source"] for entry in kept] == ["propertyware", "buildium", "buildium"]


def test_a_buildium_run_replaces_its_section_and_nothing_else(tmp_path):
    report = tmp_path / "REPORT.md"
    report.write_text("# pmsync benchmark\n\nbefore\n")
    splice_buildium_section(report, [BUILDIUM_BEGIN, "first", BUILDIUM_END])
    report.write_text(report.read_text() + "after\n")
    splice_buildium_section(report, [BUILDIUM_BEGIN, "second", BUILDIUM_END])
    assert report.read_text() == f"# pmsync benchmark\n\nbefore\n\n{BUILDIUM_BEGIN}\nsecond\n{BUILDIUM_END}\nafter\n"
