"""Content hash of the source payload last applied cleanly, on each table whose rows are a source record's own row.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 08:40:00.000000

A sync skips a record whose payload hashes to its row's `source_hash` (pmsync.sync.changes); NULL means "check and
apply it again". Existing rows start NULL, so the first sync after this migration applies everything once more.
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

HASHED_TABLES = ('properties', 'units', 'leases', 'work_orders', 'lease_charges', 'lease_payments')


def upgrade() -> None:
    for table in HASHED_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('source_hash', sa.String(length=32), nullable=True))


def downgrade() -> None:
    for table in HASHED_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('source_hash')
