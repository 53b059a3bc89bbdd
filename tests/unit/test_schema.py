"""The migrations build exactly the tables the code declares, on SQLite and PostgreSQL, and each says its grain."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pmsync.platform import migrate
from schemas.tables import SYNCED_TABLES, metadata

PUBLIC_TABLES = {
    "properties", "units", "residents", "leases", "work_orders", "owners", "service_providers", "sync_runs",
    "reconciliation_snapshots", "snapshot_deactivated_units", "property_logs", "lease_charges", "lease_payments",
}


def test_migrations_match_the_declared_tables(platform_engine):
    migrate(platform_engine)
    migrate(platform_engine)
    with platform_engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
        present = set(sa.inspect(connection).get_table_names())
        views = set(sa.inspect(connection).get_view_names())
    assert differences == []
    assert "lease_balances" in views
    assert PUBLIC_TABLES <= present


def test_every_table_states_its_grain_and_synced_tables_share_the_key_columns():
    for table in metadata.sorted_tables:
        assert (table.comment or "").startswith("One row per"), table.name
    for table in SYNCED_TABLES.values():
        assert {"integration_id", "source_id", "active", "created_at", "updated_at"} <= set(table.c.keys())
        keys = [c for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
        assert any([col.name for col in c.columns] == ["integration_id", "source_id"] for c in keys), table.name
