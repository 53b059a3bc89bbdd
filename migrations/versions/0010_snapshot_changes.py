"""Reconciliation snapshots list the units they reactivated and the properties they deactivated, not only count them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 14:40:00.000000

Grain: one row per unit (snapshot_reactivated_units) or property (snapshot_deactivated_properties) per snapshot.
Snapshots taken before this migration keep their counts but list none of these rows.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'snapshot_reactivated_units',
        sa.Column('snapshot_id', Key, nullable=False),
        sa.Column('unit_id', Key, nullable=False),
        sa.Column('property_id', Key, nullable=False),
        sa.Column('reactivated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['property_id'], ['properties.id'], name=op.f('fk_snapshot_reactivated_units_property_id_properties')),
        sa.ForeignKeyConstraint(['snapshot_id'], ['reconciliation_snapshots.id'], name=op.f('fk_snapshot_reactivated_units_snapshot_id_reconciliation_snapshots')),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_snapshot_reactivated_units_unit_id_units')),
        sa.PrimaryKeyConstraint('snapshot_id', 'unit_id', name=op.f('pk_snapshot_reactivated_units')),
        comment='One row per unit a reconciliation snapshot reactivated (listed as active in the source again).',
    )
    with op.batch_alter_table('snapshot_reactivated_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_snapshot_reactivated_units_unit_id'), ['unit_id'], unique=False)

    op.create_table(
        'snapshot_deactivated_properties',
        sa.Column('snapshot_id', Key, nullable=False),
        sa.Column('property_id', Key, nullable=False),
        sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('source_evidence', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['property_id'], ['properties.id'], name=op.f('fk_snapshot_deactivated_properties_property_id_properties')),
        sa.ForeignKeyConstraint(['snapshot_id'], ['reconciliation_snapshots.id'], name=op.f('fk_snapshot_deactivated_properties_snapshot_id_reconciliation_snapshots')),
        sa.PrimaryKeyConstraint('snapshot_id', 'property_id', name=op.f('pk_snapshot_deactivated_properties')),
        comment='One row per property a reconciliation snapshot deactivated.',
    )
    with op.batch_alter_table('snapshot_deactivated_properties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_snapshot_deactivated_properties_property_id'), ['property_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('snapshot_deactivated_properties', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_snapshot_deactivated_properties_property_id'))
    op.drop_table('snapshot_deactivated_properties')
    with op.batch_alter_table('snapshot_reactivated_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_snapshot_reactivated_units_unit_id'))
    op.drop_table('snapshot_reactivated_units')
