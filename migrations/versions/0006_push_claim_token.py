"""Push claim token: a work order's push claim is fenced by its holder's token, not only its expiry.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 06:10:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('push_claim_token', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.drop_column('push_claim_token')
