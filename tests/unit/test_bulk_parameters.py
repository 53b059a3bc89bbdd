"""The bulk writer's parameters equal what SQLAlchemy itself would bind, for generated values (no database needed)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from pmsync.platform.database import bind_converter, dump_json
from schemas.tables import SYNCED_TABLES, UtcDateTime

DIALECTS = {"sqlite": sqlite.dialect(), "postgresql": postgresql.psycopg.dialect()}
ZONES = st.builds(lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-14 * 60, 14 * 60))
AWARE = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES)


DATETIME_COLUMNS = [c for table in SYNCED_TABLES.values() for c in table.c if isinstance(c.type, UtcDateTime)]


def sqlalchemy_bind(column, dialect, value):
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return value if process is None else process(value)


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=DIALECTS.keys())
@given(moments=st.lists(AWARE | st.none(), min_size=1, max_size=6))
def test_every_datetime_column_binds_as_sqlalchemy_would(dialect, moments):
    assert DATETIME_COLUMNS
    for column in DATETIME_COLUMNS:
        convert = bind_converter(column, dialect)
        for moment in [*moments, *moments]:  # the second pass goes through the remembered value
            assert convert(moment) == sqlalchemy_bind(column, dialect, moment)


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=DIALECTS.keys())
def test_a_naive_datetime_is_refused_as_sqlalchemy_refuses_it(dialect):
    column = SYNCED_TABLES["unit"].c.created_at
    with pytest.raises(ValueError, match="naive datetime"):
        sqlalchemy_bind(column, dialect, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive datetime"):
        bind_converter(column, dialect)(datetime(2026, 1, 1))


ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=5)  # lone surrogates included
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False, allow_infinity=False) | ANY_TEXT,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(ANY_TEXT | st.integers(0, 9), children, max_size=3),
    max_leaves=10,
)


@given(payload=JSON_VALUES)
def test_json_text_reads_back_as_the_standard_library_writes_it(payload):
    assert json.loads(dump_json(payload)) == json.loads(json.dumps(payload))


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_a_number_json_cannot_hold_is_stored_as_null(number):
    """JSON has no NaN or infinity (PostgreSQL's jsonb refuses them): both databases get null."""
    assert json.loads(dump_json({"amount": number})) == {"amount": None}
