"""A change journal: each record a run created, updated, deactivated or reactivated, with its changed fields.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 09:00:00.000000

Grain: one row per record a run changed (record_changes). Runs before this migration journaled nothing.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
GRAIN = (
    'One row per record a run changed: created, updated, deactivated or reactivated by a sync, reconciliation, '
    'balance or CSV import; changes holds each changed field as {field: [old, new]} (NULL for a creation). Kept '
    'PMSYNC_CHANGES_RETENTION_DAYS days.'
)


def upgrade() -> None:
    op.create_table(
        'record_changes',
        sa.Column('id', Key, autoincrement=True, nullable=False),
        sa.Column('run_id', Key, nullable=False),
        sa.Column('integration_id', Key, nullable=False),
        sa.Column('entity', sa.String(length=40), nullable=False),
        sa.Column('source_id', sa.BigInteger(), nullable=False),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('changes', Json, nullable=True),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_record_changes_integration_id_integrations')),
        sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], name=op.f('fk_record_changes_run_id_sync_runs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_record_changes')),
        sa.UniqueConstraint('run_id', 'entity', 'source_id', name=op.f('uq_record_changes_run_id_entity_source_id')),
        comment=GRAIN,
    )
    with op.batch_alter_table('record_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_changes_changed_at'), ['changed_at'], unique=False)
        batch_op.create_index(
            batch_op.f('ix_record_changes_integration_id_entity_source_id'), ['integration_id', 'entity', 'source_id'],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('record_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_changes_integration_id_entity_source_id'))
        batch_op.drop_index(batch_op.f('ix_record_changes_changed_at'))
    op.drop_table('record_changes')
