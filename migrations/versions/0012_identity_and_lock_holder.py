"""An integration records where it is configured; a lock records the process that holds it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 05:30:00.000000

Grains unchanged. integrations.configured_in: "environment" or "block" (NULL for rows registered before). integration_locks
host, pid, process_started: the holding process, so a holder proven dead (same host, process gone) is taken over at once.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

INTEGRATIONS_BEFORE = (
    'One row per source account synced into the platform (no credentials are stored); removed_at set: removed, '
    'its rows kept inactive and its syncs refused.'
)
INTEGRATIONS_AFTER = (
    'One row per source account synced into the platform (no credentials are stored); removed_at set: removed, '
    'its rows kept inactive and its syncs refused. source_system, base_url and system_id are the account it is '
    'bound to; configured_in says where its settings live (environment or block; NULL: registered before 0012).'
)
LOCKS_BEFORE = 'One row per integration a sync is writing right now: the lock that keeps syncs of one integration in line.'
LOCKS_AFTER = (
    'One row per integration a sync is writing right now: the lock that keeps syncs of one integration in line; '
    'host, pid and process_started name the holding process (NULL: taken before 0012).'
)


def upgrade() -> None:
    with op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('configured_in', sa.String(length=20), nullable=True))
    with op.batch_alter_table('integration_locks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('host', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('pid', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('process_started', sa.String(length=40), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.create_table_comment('integrations', INTEGRATIONS_AFTER, existing_comment=INTEGRATIONS_BEFORE)
        op.create_table_comment('integration_locks', LOCKS_AFTER, existing_comment=LOCKS_BEFORE)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.create_table_comment('integration_locks', LOCKS_BEFORE, existing_comment=LOCKS_AFTER)
        op.create_table_comment('integrations', INTEGRATIONS_BEFORE, existing_comment=INTEGRATIONS_AFTER)
    with op.batch_alter_table('integration_locks', schema=None) as batch_op:
        batch_op.drop_column('process_started')
        batch_op.drop_column('pid')
        batch_op.drop_column('host')
    with op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.drop_column('configured_in')
