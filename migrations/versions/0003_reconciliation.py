"""Reconciliation: snapshot counts and guard override, lookup indexes for snapshots and deactivated units.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 06:20:51.237102
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reconciliation_snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reactivated_unit_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('deactivated_property_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('mass_deactivation_allowed', sa.Boolean(), server_default='0', nullable=False))
        batch_op.create_index(batch_op.f('ix_reconciliation_snapshots_integration_id_taken_at'), ['integration_id', 'taken_at'], unique=False)

    with op.batch_alter_table('snapshot_deactivated_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_snapshot_deactivated_units_unit_id'), ['unit_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('snapshot_deactivated_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_snapshot_deactivated_units_unit_id'))

    with op.batch_alter_table('reconciliation_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reconciliation_snapshots_integration_id_taken_at'))
        batch_op.drop_column('mass_deactivation_allowed')
        batch_op.drop_column('deactivated_property_count')
        batch_op.drop_column('reactivated_unit_count')
