"""No overlap the delta sync accepts makes a later delta miss a change: against the sandbox over HTTP, on SQLite and
PostgreSQL, interleaving source changes, outages (the last complete pass moved back in time), failed deltas and
deltas with any accepted `overlap_hours` (its range as the job's own type states it, bounds included), every change
made in the source since a stream's last complete pass is on the platform once a delta has succeeded.

The accepted range is read from the delta job's signature (the JSON schema of `overlap_hours`' type, which is also
what Prefect's form and deployment runs enforce), so the test draws what the edge lets through: before the bounds
existed it drew negative overlaps, and found the delta that reads nothing and still advances every mark.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from pmsync.jobs import JOBS
from pmsync.platform.database import make_engine
from pmsync.runs.bookkeeping import utc_now
from pmsync.source import SourceUnavailable
from sandbox import SandboxServer
from sandbox.faults import status_fault
from schemas.tables import properties, sync_state, units
from tests.conftest import source_env

STREAM_TABLES = {"buildings": properties, "units": units}
"""The streams whose records the test changes (their `name`), and the platform table that keeps each record's
source data."""
UNBOUNDED_RANGE = 10 * 8760
"""Hours drawn on a side where the job's type states no bound (as before it had any): still a window datetime
arithmetic can open."""
OUTAGE_HOURS = 2 * 8760


def accepted_overlaps() -> st.SearchStrategy[float]:
    """Finite `overlap_hours` the delta job's own type accepts: across its range, and its bounds and 0 when it states
    them."""
    hint = typing.get_type_hints(JOBS["delta-sync"].function, include_extras=True)["overlap_hours"]
    schema = TypeAdapter(hint).json_schema()
    low, high = schema.get("minimum", -UNBOUNDED_RANGE), schema.get("maximum", UNBOUNDED_RANGE)
    edges = sorted({float(x) for x in (low, high, 0) if low <= x <= high})
    return st.floats(low, high, allow_nan=False, allow_infinity=False) | st.sampled_from(edges)


CHANGE = st.tuples(st.just("change"), st.sampled_from(sorted(STREAM_TABLES)), st.integers(0, 999),
                   st.floats(0, 1))
"""A record of the stream (picked by index) renamed, stamped at a moment between its stream's mark and now."""
OUTAGE = st.tuples(st.just("outage"), st.floats(0, OUTAGE_HOURS))
"""The streams' last complete pass moved that many hours back: time passed with no delta."""
DELTA = st.tuples(st.just("delta"), accepted_overlaps())
FAILED_DELTA = st.tuples(st.just("failed delta"), accepted_overlaps(), st.sampled_from(["/units", "/leases"]))
"""A delta the source fails (503 on every attempt) once it reaches that listing."""
STEPS = st.lists(CHANGE | OUTAGE | DELTA | FAILED_DELTA, min_size=1, max_size=7)


class World:
    """The sandbox and the platform of one test, shared by its examples, and what the examples changed."""

    def __init__(self, source: SandboxServer, engine: sa.Engine):
        self.source, self.engine = source, engine
        self.changed: dict[tuple[str, int], str] = {}
        self.renames = 0

    def marks(self) -> dict[str, datetime]:
        with self.engine.connect() as connection:
            return dict(connection.execute(sa.select(sync_state.c.stream, sync_state.c.high_water_mark)).all())

    def on_platform(self, stream: str) -> list[int]:
        table = STREAM_TABLES[stream]
        with self.engine.connect() as connection:
            return sorted(connection.execute(sa.select(table.c.source_id)).scalars())

    def platform_name(self, stream: str, source_id: int) -> str:
        table = STREAM_TABLES[stream]
        with self.engine.connect() as connection:
            data = connection.execute(sa.select(table.c.source_data).where(table.c.source_id == source_id)).scalar_one()
        return data["name"]

    def change(self, stream: str, index: int, fraction: float) -> None:
        ids = self.on_platform(stream)
        record_id = ids[index % len(ids)]
        mark, now = self.marks()[stream], utc_now()
        at = mark + (now - mark) * fraction if now > mark else now
        self.renames += 1
        name = f"renamed {self.renames}"
        self.source.store.update(stream, record_id, at=at, name=name)
        self.changed[(stream, record_id)] = name

    def outage(self, hours: float) -> None:
        with self.engine.begin() as connection:
            for stream, mark in self.marks().items():
                connection.execute(sa.update(sync_state).where(sync_state.c.stream == stream)
                                   .values(high_water_mark=mark - timedelta(hours=hours)))

    def missing(self) -> dict[tuple[str, int], tuple[str, str]]:
        """Changes not on the platform: (stream, id) → (name in the source, name on the platform)."""
        found = {key: self.platform_name(*key) for key in self.changed}
        return {key: (name, found[key]) for key, name in self.changed.items() if found[key] != name}


@pytest.fixture
def world(platform_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A small sandbox, synced once in full; the examples then change it and run deltas."""
    with SandboxServer(units=12, seed=7) as source:
        for name, value in source_env(platform_url, source).items():
            monkeypatch.setenv(name, value)
        JOBS["initial-sync"]()
        engine = make_engine(platform_url)
        try:
            yield World(source, engine)
        finally:
            engine.dispose()


@settings(
    max_examples=10, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS, last_overlap=accepted_overlaps())
def test_no_accepted_overlap_makes_a_later_delta_miss_a_change(world: World, steps: list[tuple], last_overlap: float):
    for step in [*steps, ("delta", last_overlap)]:
        kind, *arguments = step
        if kind == "change":
            world.change(*arguments)
        elif kind == "outage":
            world.outage(*arguments)
        elif kind == "failed delta":
            overlap, path = arguments
            world.source.store.inject(status_fault(path, 503, times=3))
            with pytest.raises(SourceUnavailable):
                JOBS["delta-sync"](overlap_hours=overlap)
            world.source.store.clear_faults()
        else:
            before = world.marks()
            JOBS["delta-sync"](overlap_hours=arguments[0])
            assert world.missing() == {}, (
                f"a delta with overlap_hours={arguments[0]!r} missed changes; marks before it: {before}, after: "
                f"{world.marks()}"
            )
