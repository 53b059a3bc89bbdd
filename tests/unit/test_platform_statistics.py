"""The planner's statistics are refreshed after bulk loads on PostgreSQL (autovacuum may be off or behind)."""

from __future__ import annotations

import time

import sqlalchemy as sa

from pmsync.platform.database import refresh_statistics


def test_a_table_that_grew_is_analysed_once(platform_engine):
    metadata = sa.MetaData()
    grown = sa.Table("grown", metadata, sa.Column("id", sa.Integer, primary_key=True), comment="One row per test value.")
    metadata.create_all(platform_engine)
    with platform_engine.begin() as connection:
        connection.execute(grown.insert(), [{"id": n} for n in range(5000)])

    analysed = refresh_statistics(platform_engine)

    if platform_engine.dialect.name == "postgresql":
        deadline = time.monotonic() + 10  # a backend reports its row counts up to a second after it commits
        while not analysed and time.monotonic() < deadline:
            time.sleep(0.2)
            analysed = refresh_statistics(platform_engine)
        assert analysed == ["grown"]
        with platform_engine.connect() as connection:
            estimate = connection.execute(sa.text("SELECT reltuples FROM pg_class WHERE relname = 'grown'")).scalar_one()
        assert estimate == 5000
    else:
        assert analysed == []
    assert refresh_statistics(platform_engine) == []
