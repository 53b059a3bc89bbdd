"""Rows taken apart into columns give the parameters SQLAlchemy itself would bind, row by row (no database needed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from pmsync.platform.bulk_parameters import bind_processor, parameter_builder
from schemas.tables import SYNCED_TABLES

DIALECTS = {"sqlite": sqlite.dialect(), "postgresql": postgresql.psycopg.dialect()}
ZONES = st.builds(lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-14 * 60, 14 * 60))
MOMENTS = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES) | st.none()
PAYLOADS = st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=4) | st.none(), max_size=3)
UNITS = SYNCED_TABLES["unit"]
NAMES = ("source_id", "name", "created_at", "updated_at", "source_modified_at", "source_data")


def sqlalchemy_bind(column, dialect, value):
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return value if process is None else process(value)


def comparable(value):
    """psycopg's JSON wrapper (PostgreSQL's JSON columns) compares by identity: compare what it wraps and dumps with."""
    return (type(value).__name__, value.obj, value.dumps) if type(value).__name__ in ("Json", "Jsonb") else value


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=DIALECTS.keys())
@settings(deadline=None)  # the first example imports the driver
@given(
    stamp=MOMENTS,
    rows=st.lists(st.tuples(st.integers(1, 2**40), st.text(max_size=5) | st.none(), MOMENTS, PAYLOADS), max_size=8),
    default=st.text(max_size=3),
)
def test_a_batch_binds_as_sqlalchemy_binds_each_row(dialect, stamp, rows, default):
    """Rows share their stamp object (the case the column loop converts once) and differ elsewhere; a default closes
    each tuple."""
    built = [
        {"source_id": source_id, "name": name, "created_at": stamp, "updated_at": stamp,
         "source_modified_at": modified, "source_data": payload}
        for source_id, name, modified, payload in rows
    ]
    processors = [bind_processor(UNITS.c[name], dialect) for name in NAMES]
    parameters = parameter_builder(NAMES, processors, (default,))(built)
    assert [tuple(map(comparable, row)) for row in parameters] == [
        (*(comparable(sqlalchemy_bind(UNITS.c[name], dialect, row[name])) for name in NAMES), default) for row in built
    ]
