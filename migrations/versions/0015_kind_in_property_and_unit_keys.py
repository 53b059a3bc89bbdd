"""Kinds in the keys: properties and units are unique by (integration_id, kind, source_id), since a source's ids may
repeat across kinds (a Buildium rental and an association both 7; their units both 70).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 12:50:00.000000

Grain unchanged: properties, one row per property per integration (a rental or an association: kind); units, one row
per unit per integration (of a rental or of an association: kind). Every existing row is kind 'rental' (0014), so the
wider key holds for every row already there.
"""
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

TABLES = ('properties', 'units')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'uq_{table}_integration_id_source_id', type_='unique')
            batch_op.create_unique_constraint(f'uq_{table}_integration_id_kind_source_id',
                                              ['integration_id', 'kind', 'source_id'])


def downgrade() -> None:
    """Refused while two kinds share a source id in one integration (the narrower key cannot hold them)."""
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'uq_{table}_integration_id_kind_source_id', type_='unique')
            batch_op.create_unique_constraint(f'uq_{table}_integration_id_source_id', ['integration_id', 'source_id'])
