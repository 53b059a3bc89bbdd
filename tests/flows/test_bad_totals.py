"""A sync whose listing reports an X-Total-Count that cannot be true (negative, not a number, fewer records than one
answer holds) fails naming the request and marks that stream nothing complete, on SQLite and PostgreSQL (the jobs
with the plain steps)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pmsync.jobs import JOBS
from pmsync.source import SourceDataError
from sandbox.faults import total_header_fault
from schemas.tables import sync_state
from tests.flows.test_initial_sync import last_run

initial_sync = JOBS["initial-sync"]
DRIVER_WORDS = ("psycopg", "sqlite3", "sqlalchemy", "OverflowError", "[SQL:", "out of range for type", "Python int too large")
"""What a database driver's error says; none of it may reach a run's recorded error."""


def test_a_total_that_cannot_be_true_fails_the_listing_naming_the_request_and_marks_nothing_complete(
    integration_env, sandbox, platform_engine, monkeypatch
):
    """Ten units a page: the first page is full, and its X-Total-Count says -1, `ten`, or 3 (fewer than the page
    holds). Before, -1 and 3 marked the units stream complete after one page; the next delta would read from there."""
    monkeypatch.setenv("PMSYNC_PW_PAGE_SIZE", "10")
    for header in ("-1", "ten", "3"):
        sandbox.store.inject(total_header_fault("/units", header))

        with pytest.raises(SourceDataError, match=r"^units: .*X-Total-Count.*\[GET /units\?.*offset=0"):
            initial_sync()

        with platform_engine.connect() as connection:
            marks = {row.stream for row in connection.execute(sa.select(sync_state.c.stream))}
        assert "units" not in marks and "buildings" in marks, header
        error = last_run(platform_engine).error
        assert "GET /units?" in error and not any(w in error for w in DRIVER_WORDS)
