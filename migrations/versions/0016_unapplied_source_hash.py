"""The payload hash of a record the latest sync to see it excluded or parked, so the next delta skips it unchanged.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 17:40:00.000000

Grain unchanged: unapplied_records, one row per source record (integration, entity, source id) the latest sync to see
it did not apply. `source_hash` is its payload's hash (pmsync.sync.changes, salted as a row's) when its verdict
depends on nothing else the next sync could find changed; NULL means "check it again". Existing rows start NULL, so
the first sync after this migration checks them once more.
"""
from alembic import op
import sqlalchemy as sa

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('unapplied_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_hash', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('unapplied_records', schema=None) as batch_op:
        batch_op.drop_column('source_hash')
