"""Commerce data: charges and payments per lease after a delta sync, and one lease's balance on demand (the jobs with
the plain steps, and `pmsync balance` with no Prefect server)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
import sqlalchemy as sa

from pmsync.jobs import JOBS
from pmsync.source import SourceRequestRejected
from schemas.tables import lease_charges, lease_payments, leases, sync_state
from tests.flows.test_cli import run_pmsync

delta_sync, lease_balance = JOBS["delta-sync"], JOBS["lease-balance"]


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def lease_with_open_charge_and_payment(store, engine) -> dict:
    charges, payments = store.records("charges"), store.records("payments")
    with engine.connect() as connection:
        on_platform = set(connection.execute(sa.select(leases.c.source_id)).scalars())
    for lease in store.records("leases"):
        mine = [c for c in charges if c["leaseID"] == lease["id"]]
        if lease["id"] in on_platform and any(c["amountDue"] > 0 for c in mine) and any(p["leaseID"] == lease["id"] for p in payments):
            return lease
    raise AssertionError("the sandbox has no synced lease with an open charge and a payment")


def ledger_of(engine, lease_source_id: int) -> tuple[dict, dict, dict]:
    with engine.connect() as connection:
        lease_id = connection.execute(sa.select(leases.c.id).where(leases.c.source_id == lease_source_id)).scalar_one()
        charges = {r.source_id: r for r in connection.execute(sa.select(lease_charges).where(lease_charges.c.lease_id == lease_id))}
        payments = {r.source_id: r for r in connection.execute(sa.select(lease_payments).where(lease_payments.c.lease_id == lease_id))}
        balance = connection.execute(
            sa.text("SELECT * FROM lease_balances WHERE lease_source_id = :s"), {"s": lease_source_id}
        ).mappings().one()
    return charges, payments, dict(balance)


def test_charges_and_payments_appear_per_lease_and_a_new_payment_shows_after_pmsync_balance(
    integration_env, sandbox, platform_engine
):
    store = sandbox.store
    delta_sync()

    lease = lease_with_open_charge_and_payment(store, platform_engine)
    source_charges = [c for c in store.records("charges") if c["leaseID"] == lease["id"]]
    source_payments = [p for p in store.records("payments") if p["leaseID"] == lease["id"]]
    charges, payments, balance = ledger_of(platform_engine, lease["id"])
    assert {i: (r.amount, r.amount_due, str(r.post_date)) for i, r in charges.items()} == {
        c["id"]: (money(c["amount"]), money(c["amountDue"]), c["date"]) for c in source_charges
    }
    assert {i: (r.amount, r.payment_type) for i, r in payments.items()} == {
        p["id"]: (money(p["amount"]), p["paymentType"]) for p in source_payments
    }
    assert money(balance["balance"]) == money(lease["leaseBalance"])
    assert money(balance["open_charges"]) == sum(money(c["amountDue"]) for c in source_charges)
    assert (balance["charge_count"], balance["payment_count"]) == (len(source_charges), len(source_payments))

    with platform_engine.connect() as connection:
        marks_before = connection.execute(sa.select(sync_state).order_by(sync_state.c.stream)).all()
    posted = requests.post(f"{sandbox.control_url}/leases/{lease['id']}/payments",
                           json={"amount": 40.0, "paymentType": "CHECK", "refNo": "BAL-1"}, timeout=10)
    assert posted.status_code == 201, posted.text
    payment = posted.json()["payment"]
    paid_charge = min((c for c in source_charges if c["amountDue"] > 0), key=lambda c: (c["date"], c["id"]))
    gone = next(c for c in source_charges if c["id"] != paid_charge["id"])
    store.delete("charges", gone["id"])
    store.clear_requests_log()

    shown = run_pmsync("balance", str(lease["id"]), env=integration_env)

    assert shown.returncode == 0, shown.stdout[-2000:] + shown.stderr[-2000:]
    new_balance = money(lease["leaseBalance"]) - money(40)
    assert f"balance {new_balance:,.2f}" in shown.stdout
    assert str(payment["id"]) in shown.stdout and "BAL-1" in shown.stdout
    assert [path for _, path, _ in store.requests_log] == [f"/leases/{lease['id']}", "/leases/charges", "/leases/payments"]
    assert all(query.get("leaseID") == str(lease["id"]) for _, path, query in store.requests_log if path != f"/leases/{lease['id']}")
    charges, payments, balance = ledger_of(platform_engine, lease["id"])
    assert payments[payment["id"]].amount == money(40) and money(balance["balance"]) == new_balance
    assert charges[paid_charge["id"]].amount_due == money(paid_charge["amountDue"]) - min(money(40), money(paid_charge["amountDue"]))
    assert charges[gone["id"]].active is False and balance["charge_count"] == len(source_charges) - 1
    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(sync_state).order_by(sync_state.c.stream)).all() == marks_before

    with pytest.raises(SourceRequestRejected, match="404"):
        lease_balance(lease_id=store.next_id("leases") + 999)
