"""Text the source sends is unbounded: the vendor's spec declares no maxLength (a long name must not fail a page).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 06:10:00.000000

The lease_balances view reads leases.name, so it is dropped and recreated around the change (PostgreSQL refuses to
alter a column a view uses). SQLite rebuilds each table (batch mode), with foreign
keys off while migrating (pmsync.platform.database.migrate) so a table others reference can be rebuilt with its rows.
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

WIDENED = {
    'properties': {'name': 300, 'abbreviation': 120, 'address_line': 300, 'address_city': 120, 'address_state': 60,
                   'address_postal_code': 20, 'address_country': 60, 'manager_name': 200, 'manager_email': 320},
    'units': {'name': 300, 'abbreviation': 120, 'address_line': 300, 'address_city': 120, 'address_state': 60,
              'address_postal_code': 20, 'address_country': 60},
    'leases': {'name': 300, 'status': 60},
    'residents': {'first_name': 120, 'last_name': 120, 'email': 320, 'phone': 60, 'role': 40},
    'work_orders': {'status': 60, 'category': 120, 'type': 120, 'managed_by': 320, 'requested_by': 320,
                    'lease_name': 300, 'assigned_manager_name': 200, 'assigned_manager_email': 320},
    'lease_charges': {'ref_no': 120},
    'lease_payments': {'ref_no': 120},
}

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


def _retype(to_text: bool) -> None:
    op.execute('DROP VIEW lease_balances')
    for table, columns in WIDENED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, length in columns.items():
                old, new = (sa.String(length=length), sa.Text()) if to_text else (sa.Text(), sa.String(length=length))
                batch_op.alter_column(column, existing_type=old, type_=new, existing_nullable=True)
    op.execute(LEASE_BALANCES)


def upgrade() -> None:
    _retype(to_text=True)


def downgrade() -> None:
    _retype(to_text=False)
