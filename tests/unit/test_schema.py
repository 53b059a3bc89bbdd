"""The migrations build exactly the tables the code declares, on SQLite and PostgreSQL, and each says its grain."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from pmsync.platform.database import MIGRATIONS_DIR, migrate
from schemas.entity_rows import ENTITY_ROWS, platform_tables
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
    """Each synced table is unique by (integration_id, source_id), or, where several kinds of record share it
    (properties, units), by (integration_id, kind, source_id) with kind NOT NULL; and that key is exactly the one
    the engine's entity mapping upserts on, for every entity whose rows it holds."""
    for table in metadata.sorted_tables:
        assert (table.comment or "").startswith("One row per"), table.name
    assert set(SYNCED_TABLES.values()) <= set(platform_tables())
    kinded = {rows.table.name for rows in ENTITY_ROWS.values() if rows.kind is not None}
    assert kinded == {"properties", "units"}
    for table in platform_tables():
        assert {"integration_id", "source_id", "active", "created_at", "updated_at"} <= set(table.c.keys())
        keys = [[col.name for col in c.columns] for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
        key = ["integration_id", "kind", "source_id"] if table.name in kinded else ["integration_id", "source_id"]
        assert key in keys, table.name
        assert ["integration_id", "source_id"] not in keys or table.name not in kinded, table.name
        if table.name in kinded:
            assert table.c.kind.nullable is False and table.c.kind.server_default.arg == "rental", table.name
    for entity, rows in ENTITY_ROWS.items():
        keys = [[col.name for col in c.columns] for c in rows.table.constraints if isinstance(c, sa.UniqueConstraint)]
        assert rows.key in keys, entity
    assert {rows.kind for rows in ENTITY_ROWS.values() if rows.entity in ("property", "unit")} == {"rental"}


def test_migration_0007_widens_source_text_keeping_rows_and_the_balance_view(platform_engine):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with platform_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    now = "2026-11-30 06:00:00+00:00"
    stamps = {"created_at": now, "updated_at": now, "active": True}
    rows = [
        ("integrations", {"id": 1, "name": "default", "source_system": "propertyware", "base_url": "http://x",
                          "system_id": "1", "integration_user": "u@x.example", "created_at": now, "updated_at": now}),
        ("properties", {"id": 1, "integration_id": 1, "source_id": 11, "name": "Oak Court", "manually_disabled": False,
                        **stamps}),
        ("units", {"id": 1, "integration_id": 1, "source_id": 21, "property_id": 1, "name": "A", **stamps}),
        ("leases", {"id": 1, "integration_id": 1, "source_id": 31, "unit_id": 1, "name": "Lee, Amy", "status": "Active",
                    "balance": 12.5, **stamps}),
        ("residents", {"id": 1, "integration_id": 1, "source_id": 41, "unit_id": 1, "lease_id": 1, "role": "Tenant", **stamps}),
        ("lease_charges", {"id": 1, "integration_id": 1, "source_id": 51, "lease_id": 1, "amount": 900, "amount_due": 12.5, **stamps}),
    ]
    with platform_engine.begin() as connection:
        for table, row in rows:
            names = ", ".join(row)
            connection.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in row)})"), row)

    migrate(platform_engine)

    long_status = "Month-to-Month (holdover) " * 40
    with platform_engine.begin() as connection:
        connection.execute(sa.text("UPDATE leases SET status = :s, name = :s WHERE id = 1"), {"s": long_status})
        connection.execute(sa.text("UPDATE residents SET role = :s WHERE id = 1"), {"s": long_status})
        view = connection.execute(sa.text("SELECT lease_name, balance, charged, open_charges FROM lease_balances")).one()
        counts = [connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() for table, _ in rows]
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert view.lease_name == long_status and float(view.charged) == 900 and float(view.open_charges) == 12.5
    assert counts == [1] * len(rows)
    assert differences == []


def test_migration_0008_adds_an_empty_source_hash_to_records_own_rows_keeping_rows(platform_engine):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with platform_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0007")
    now = "2026-11-30 06:00:00+00:00"
    stamps = {"created_at": now, "updated_at": now, "active": True}
    rows = [
        ("integrations", {"id": 1, "name": "default", "source_system": "propertyware", "base_url": "http://x",
                          "system_id": "1", "integration_user": "u@x.example", "created_at": now, "updated_at": now}),
        ("properties", {"id": 1, "integration_id": 1, "source_id": 11, "name": "Oak Court", "manually_disabled": False,
                        **stamps}),
        ("units", {"id": 1, "integration_id": 1, "source_id": 21, "property_id": 1, "name": "A", **stamps}),
        ("leases", {"id": 1, "integration_id": 1, "source_id": 31, "unit_id": 1, "name": "Lee, Amy", **stamps}),
        ("residents", {"id": 1, "integration_id": 1, "source_id": 41, "unit_id": 1, "lease_id": 1, **stamps}),
        ("work_orders", {"id": 1, "integration_id": 1, "source_id": 61, "property_id": 1, "origin": "source", **stamps}),
        ("lease_charges", {"id": 1, "integration_id": 1, "source_id": 51, "lease_id": 1, "amount": 900, **stamps}),
        ("lease_payments", {"id": 1, "integration_id": 1, "source_id": 71, "lease_id": 1, "amount": 900, **stamps}),
    ]
    with platform_engine.begin() as connection:
        for table, row in rows:
            names = ", ".join(row)
            connection.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in row)})"), row)

    migrate(platform_engine)

    hashed = [table.name for table in SYNCED_TABLES.values() if "source_hash" in table.c]
    assert sorted(hashed) == ["lease_charges", "lease_payments", "leases", "properties", "units", "work_orders"]
    with platform_engine.connect() as connection:
        counts = [connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() for table, _ in rows]
        hashes = [connection.execute(sa.text(f"SELECT source_hash FROM {table}")).scalar_one() for table in hashed]
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert counts == [1] * len(rows)
    assert hashes == [None] * len(hashed)
    assert differences == []


def test_migration_0015_keys_properties_and_units_by_kind_keeping_rows(platform_engine):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with platform_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0014")
    now = "2026-12-07 06:00:00+00:00"
    stamps = {"created_at": now, "updated_at": now, "active": True}
    with platform_engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO integrations (id, name, source_system, base_url, system_id, integration_user, created_at, "
            "updated_at) VALUES (1, 'default', 'propertyware', 'http://x', '1', 'u@x.example', :now, :now)"), {"now": now})
        connection.execute(sa.text(
            "INSERT INTO properties (id, integration_id, source_id, name, manually_disabled, active, created_at, "
            "updated_at) VALUES (1, 1, 7, 'Oak Court', false, :active, :created_at, :updated_at)"), stamps)
        connection.execute(sa.text(
            "INSERT INTO units (id, integration_id, source_id, property_id, name, active, created_at, updated_at) "
            "VALUES (1, 1, 70, 1, 'A', :active, :created_at, :updated_at)"), stamps)

    migrate(platform_engine)

    with platform_engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO properties (id, integration_id, kind, source_id, name, manually_disabled, active, created_at, "
            "updated_at) VALUES (2, 1, 'association', 7, 'Oak Condos', false, :active, :created_at, :updated_at)"), stamps)
        connection.execute(sa.text(
            "INSERT INTO units (id, integration_id, kind, source_id, property_id, name, active, created_at, updated_at) "
            "VALUES (2, 1, 'association', 70, 2, 'Condo A', :active, :created_at, :updated_at)"), stamps)
        kinds = connection.execute(sa.text("SELECT kind, source_id, name FROM units ORDER BY id")).all()
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [tuple(row) for row in kinds] == [("rental", 70, "A"), ("association", 70, "Condo A")]
    assert differences == []
    with pytest.raises(sa.exc.IntegrityError), platform_engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO units (integration_id, kind, source_id, property_id, name, active, created_at, updated_at) "
            "VALUES (1, 'rental', 70, 1, 'A again', :active, :created_at, :updated_at)"), stamps)
