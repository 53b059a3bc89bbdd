"""An integration can be removed from the platform: its rows stay, marked inactive, and its syncs are refused.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 17:40:00.000000

Grain unchanged (one row per source account); `removed_at` is NULL while the integration is active.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

BEFORE = 'One row per source account synced into the platform (no credentials are stored).'
AFTER = (
    'One row per source account synced into the platform (no credentials are stored); removed_at set: removed, '
    'its rows kept inactive and its syncs refused.'
)


def upgrade() -> None:
    with op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.create_table_comment('integrations', AFTER, existing_comment=BEFORE)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.create_table_comment('integrations', BEFORE, existing_comment=AFTER)
    with op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.drop_column('removed_at')
