"""Creations journaled in one statement give the journal rows the merging writer gives, whatever the run journaled before."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from pmsync.journal import record as journal
from pmsync.runs.bookkeeping import ensure_integration, start_run, utc_now
from schemas.tables import metadata, record_changes
from tests.unit.test_policy import INTEGRATION, RULES

IDS = st.integers(1, 12)
CHANGES = st.none() | st.dictionaries(st.sampled_from(["name", "active", "source_data.x"]),
                                      st.tuples(st.integers(0, 3) | st.none(), st.integers(4, 6)).map(list),
                                      min_size=1, max_size=2)
ENTRIES = st.tuples(st.sampled_from(["unit", "lease"]), IDS, st.sampled_from(journal.ACTIONS), CHANGES).map(
    lambda e: (*e[:3], None if e[2] == journal.CREATED else e[3]))
"""What the journal's writers pass: a creation without changes (`entry`), others with the changed fields or none
(`update_entry`: `changes or None`, old and new values differing)."""
EARLIER = st.lists(ENTRIES, max_size=8)


def journaled(connection, run_id: int) -> list[tuple]:
    table = record_changes
    return sorted(connection.execute(
        select(table.c.entity, table.c.source_id, table.c.action, table.c.changes, table.c.changed_at)
        .where(table.c.run_id == run_id)
    ).all(), key=lambda row: (row.entity, row.source_id))


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(earlier=EARLIER, created=st.lists(IDS, unique=True, max_size=8))
def test_creations_in_one_statement_journal_as_the_merging_writer_does(platform_engine, earlier, created):
    metadata.create_all(platform_engine)
    with platform_engine.begin() as connection:
        integration_id = ensure_integration(connection, INTEGRATION)
    runs = [start_run(platform_engine, integration_id, "delta", RULES.entities(), (None, utc_now())) for _ in range(2)]
    before, now = utc_now(), utc_now()
    entries = [{"entity": entity, "source_id": source_id, "action": action, "changes": changes}
               for entity, source_id, action, changes in earlier]
    with platform_engine.begin() as connection:
        for run_id in runs:
            for entry in entries:  # one at a time: each merged with the last, as a run's writes merge them
                journal.record(connection, run_id, integration_id, before, [entry])
        journal.record(connection, runs[0], integration_id, now,
                       [journal.entry("unit", source_id, journal.CREATED) for source_id in created])
        journal.record_created(connection, runs[1], integration_id, now, "unit", created)
        assert journaled(connection, runs[1]) == journaled(connection, runs[0])
