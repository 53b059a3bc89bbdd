"""Commerce data: lease charges and payments, and the lease_balances view (one row per lease).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 08:19:44.860910
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

LEASE_BALANCES = """
CREATE VIEW lease_balances AS
SELECT l.integration_id, l.id AS lease_id, l.source_id AS lease_source_id, l.name AS lease_name, l.active,
       l.balance, COALESCE(c.charged, 0) AS charged, COALESCE(c.open_charges, 0) AS open_charges,
       COALESCE(p.paid, 0) AS paid, COALESCE(c.charge_count, 0) AS charge_count,
       COALESCE(p.payment_count, 0) AS payment_count, c.last_charge_date, p.last_payment_date
FROM leases l
LEFT JOIN (SELECT lease_id, SUM(amount) AS charged, SUM(amount_due) AS open_charges, COUNT(*) AS charge_count,
                  MAX(post_date) AS last_charge_date
           FROM lease_charges WHERE active GROUP BY lease_id) c ON c.lease_id = l.id
LEFT JOIN (SELECT lease_id, SUM(amount) AS paid, COUNT(*) AS payment_count, MAX(post_date) AS last_payment_date
           FROM lease_payments WHERE active GROUP BY lease_id) p ON p.lease_id = l.id
"""

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lease_charges',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('integration_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source_id', sa.BigInteger(), nullable=False),
    sa.Column('lease_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('post_date', sa.Date(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('amount_due', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('amount_paid', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('gl_account_source_id', sa.BigInteger(), nullable=True),
    sa.Column('ref_no', sa.String(length=120), nullable=True),
    sa.Column('comments', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('source_data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('source_modified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_sync_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_lease_charges_integration_id_integrations')),
    sa.ForeignKeyConstraint(['lease_id'], ['leases.id'], name=op.f('fk_lease_charges_lease_id_leases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lease_charges')),
    sa.UniqueConstraint('integration_id', 'source_id', name=op.f('uq_lease_charges_integration_id_source_id')),
    comment='One row per lease charge (Propertyware ChargeTx) per integration.'
    )
    with op.batch_alter_table('lease_charges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lease_charges_lease_id'), ['lease_id'], unique=False)

    op.create_table('lease_payments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('integration_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source_id', sa.BigInteger(), nullable=False),
    sa.Column('lease_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contact_source_id', sa.BigInteger(), nullable=True),
    sa.Column('post_date', sa.Date(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('payment_type', sa.String(length=40), nullable=True),
    sa.Column('ref_no', sa.String(length=120), nullable=True),
    sa.Column('deposit_date', sa.Date(), nullable=True),
    sa.Column('is_deposited', sa.Boolean(), nullable=True),
    sa.Column('comments', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('source_data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('source_modified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_sync_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_lease_payments_integration_id_integrations')),
    sa.ForeignKeyConstraint(['lease_id'], ['leases.id'], name=op.f('fk_lease_payments_lease_id_leases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lease_payments')),
    sa.UniqueConstraint('integration_id', 'source_id', name=op.f('uq_lease_payments_integration_id_source_id')),
    comment='One row per lease payment (Propertyware Payment) per integration.'
    )
    with op.batch_alter_table('lease_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lease_payments_lease_id'), ['lease_id'], unique=False)

    op.execute(LEASE_BALANCES)


def downgrade() -> None:
    op.execute("DROP VIEW lease_balances")
    with op.batch_alter_table('lease_payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lease_payments_lease_id'))

    op.drop_table('lease_payments')
    with op.batch_alter_table('lease_charges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lease_charges_lease_id'))

    op.drop_table('lease_charges')
