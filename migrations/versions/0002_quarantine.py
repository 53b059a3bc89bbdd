"""Quarantine (records that failed a data-quality expectation), quarantined counts, and per-integration sync locks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:11:18.601738
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('integration_locks',
    sa.Column('integration_name', sa.String(length=120), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('flow', sa.String(length=40), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('integration_name', name=op.f('pk_integration_locks')),
    comment='One row per integration a sync is writing right now: the lock that keeps syncs of one integration in line.'
    )
    op.create_table('quarantine',
    sa.Column('integration_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('expectations', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('record', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_by_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_quarantine_integration_id_integrations')),
    sa.ForeignKeyConstraint(['released_by_run_id'], ['sync_runs.id'], name=op.f('fk_quarantine_released_by_run_id_sync_runs')),
    sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], name=op.f('fk_quarantine_run_id_sync_runs')),
    sa.PrimaryKeyConstraint('integration_id', 'entity', 'source_id', name=op.f('pk_quarantine')),
    comment='One row per source record that failed a data-quality expectation: open until a later run sees it pass (then released, kept for history).'
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_integration_id_status_entity'), ['integration_id', 'status', 'entity'], unique=False)
    with op.batch_alter_table('sync_run_entities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quarantined', sa.Integer(), nullable=False, server_default='0'))



def downgrade() -> None:
    with op.batch_alter_table('sync_run_entities', schema=None) as batch_op:
        batch_op.drop_column('quarantined')
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_integration_id_status_entity'))

    op.drop_table('quarantine')
    op.drop_table('integration_locks')
