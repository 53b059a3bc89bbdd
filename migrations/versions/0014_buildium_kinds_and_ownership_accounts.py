"""Room for a second source system: property and unit kinds, owners as residents, work-order titles, ownership accounts.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 12:30:00.000000

Grain: ownership_accounts, one row per ownership account (an association unit's owners over one span of ownership)
per integration. properties.kind and units.kind ('rental' for every row before this migration; 'association' for a
Buildium association and its units); residents.group_name ('Owners' for an association owner) and
residents.ownership_account_id; work_orders.title.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UtcDateTime = sa.DateTime(timezone=True)
GRAIN = "One row per ownership account (an association unit's owners over one span of ownership) per integration."
PROPERTIES_GRAIN = "One row per property per integration: a Propertyware building, a Buildium rental or association (kind)."
UNITS_GRAIN = "One row per unit per integration: of a rental, or of an association (kind, as its property's)."
RESIDENTS_GRAIN = (
    "One row per resident per integration: a lease contact who lives in the unit, or an association unit's owner "
    "(group_name 'Owners')."
)
OLD_GRAINS = {
    'properties': 'One row per property (Propertyware building) per integration.',
    'units': 'One row per unit per integration.',
    'residents': 'One row per resident (a lease contact who lives in the unit) per integration.',
}


def _comment(table: str, grain: str, before: str) -> None:
    if op.get_bind().dialect.name == 'postgresql':  # SQLite keeps no table comments
        op.create_table_comment(table, grain, existing_comment=before)


def upgrade() -> None:
    op.create_table(
        'ownership_accounts',
        sa.Column('id', Key, autoincrement=True, nullable=False),
        sa.Column('integration_id', Key, nullable=False),
        sa.Column('source_id', sa.BigInteger(), nullable=False),
        sa.Column('unit_id', Key, nullable=False),
        sa.Column('property_id', Key, nullable=True),
        sa.Column('status', sa.Text(), nullable=True),
        sa.Column('purchase_date', sa.Date(), nullable=True),
        sa.Column('sale_date', sa.Date(), nullable=True),
        sa.Column('delinquency_status', sa.Text(), nullable=True),
        sa.Column('owner_source_ids', Json, nullable=True),
        sa.Column('comments', sa.Text(), nullable=True),
        sa.Column('balance', sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('source_data', Json, nullable=True),
        sa.Column('source_modified_at', UtcDateTime, nullable=True),
        sa.Column('source_hash', sa.String(length=32), nullable=True),
        sa.Column('last_sync_run_id', Key, nullable=True),
        sa.Column('created_at', UtcDateTime, nullable=False),
        sa.Column('updated_at', UtcDateTime, nullable=False),
        sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_ownership_accounts_integration_id_integrations')),
        sa.ForeignKeyConstraint(['property_id'], ['properties.id'], name=op.f('fk_ownership_accounts_property_id_properties')),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_ownership_accounts_unit_id_units')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ownership_accounts')),
        sa.UniqueConstraint('integration_id', 'source_id', name=op.f('uq_ownership_accounts_integration_id_source_id')),
        comment=GRAIN,
    )
    with op.batch_alter_table('ownership_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ownership_accounts_property_id'), ['property_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ownership_accounts_unit_id'), ['unit_id'], unique=False)
    for table, grain in (('properties', PROPERTIES_GRAIN), ('units', UNITS_GRAIN)):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='rental', nullable=False))
        _comment(table, grain, OLD_GRAINS[table])
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_name', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('ownership_account_id', Key, nullable=True))
        batch_op.create_index(batch_op.f('ix_residents_ownership_account_id'), ['ownership_account_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_residents_ownership_account_id_ownership_accounts'),
                                    'ownership_accounts', ['ownership_account_id'], ['id'])
    _comment('residents', RESIDENTS_GRAIN, OLD_GRAINS['residents'])
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.drop_column('title')
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_residents_ownership_account_id_ownership_accounts'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_residents_ownership_account_id'))
        batch_op.drop_column('ownership_account_id')
        batch_op.drop_column('group_name')
    _comment('residents', OLD_GRAINS['residents'], RESIDENTS_GRAIN)
    for table, grain in (('properties', PROPERTIES_GRAIN), ('units', UNITS_GRAIN)):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('kind')
        _comment(table, OLD_GRAINS[table], grain)
    with op.batch_alter_table('ownership_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ownership_accounts_unit_id'))
        batch_op.drop_index(batch_op.f('ix_ownership_accounts_property_id'))
    op.drop_table('ownership_accounts')
