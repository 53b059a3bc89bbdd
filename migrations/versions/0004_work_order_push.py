"""Work-order push: sync status on work orders, and the outbox of changes to send to the source.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 08:16:08.403388
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('work_order_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('work_order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('marker', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('source_result_id', sa.BigInteger(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['work_order_id'], ['work_orders.id'], name=op.f('fk_work_order_changes_work_order_id_work_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_order_changes')),
    sa.UniqueConstraint('marker', name=op.f('uq_work_order_changes_marker')),
    comment='One row per change made to a work order on the platform, sent to the source in id order.'
    )
    with op.batch_alter_table('work_order_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_order_changes_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_order_changes_work_order_id_id'), ['work_order_id', 'id'], unique=False)

    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('custom_fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('push_marker', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sync_status', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('sync_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('last_push_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('push_claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_work_orders_push_marker'), ['push_marker'])



def downgrade() -> None:
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_work_orders_push_marker'), type_='unique')
        batch_op.drop_column('push_claimed_until')
        batch_op.drop_column('last_push_attempt_at')
        batch_op.drop_column('sync_error')
        batch_op.drop_column('sync_status')
        batch_op.drop_column('push_marker')
        batch_op.drop_column('custom_fields')

    with op.batch_alter_table('work_order_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_order_changes_work_order_id_id'))
        batch_op.drop_index(batch_op.f('ix_work_order_changes_status'))

    op.drop_table('work_order_changes')
