"""Rent charges and payments for the active leases of a generated portfolio."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from . import vocab
from .clock import format_date

if TYPE_CHECKING:
    from .data import _PortfolioGenerator
    from .store import SandboxStore

DAY = 86_400
RENT_GL_ACCOUNT = 4000
LATE_FEE_GL_ACCOUNT = 4050


def _month_starts(latest: int, count: int) -> list[int]:
    moment = datetime.fromtimestamp(latest, timezone.utc)
    year, month = moment.year, moment.month
    starts = []
    for _ in range(count):
        starts.append(int(datetime(year, month, 1, tzinfo=timezone.utc).timestamp()))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts


def generate_ledger(gen: _PortfolioGenerator, active_leases: list[dict]) -> tuple[list[dict], list[dict]]:
    """A few monthly rent charges per active lease, and a payment for each one that was paid (kept to 10 keys each)."""
    rng, cap = gen.rng, gen.lm_hi

    def stamp(record: dict, created: int) -> dict:
        return gen.stamp(record, created, with_users=False)

    months = _month_starts(cap, 3)
    charges: list[dict] = []
    payments: list[dict] = []
    for lease in active_leases:
        rent, owes = lease["baseRent"], lease["leaseBalance"] > 0
        payer = lease["contacts"][0]["id"]
        count = rng.randint(1, 3)
        for position, month in enumerate(months[:count]):
            unpaid = owes and position == 0
            charges.append(stamp({
                "id": 0, "leaseID": lease["id"], "portfolioID": lease["portfolioID"], "amount": rent,
                "amountDue": rent if unpaid else 0.0, "amountPaid": 0.0 if unpaid else rent,
                "date": format_date(month), "glAccountID": RENT_GL_ACCOUNT,
            }, month + 7_200 + rng.randint(0, 3_600)))
            if unpaid:
                if rng.random() < 0.5 and month + 5 * DAY < cap:
                    fee = float(rng.choice((50, 75, 100)))
                    charges.append(stamp({
                        "id": 0, "leaseID": lease["id"], "portfolioID": lease["portfolioID"], "amount": fee,
                        "amountDue": fee, "amountPaid": 0.0, "date": format_date(month + 5 * DAY),
                        "glAccountID": LATE_FEE_GL_ACCOUNT,
                    }, month + 5 * DAY + 7_200))
                continue
            paid_on = min(month + rng.randint(0, 5) * DAY, cap)
            payments.append(stamp({
                "id": 0, "leaseID": lease["id"], "portfolioID": lease["portfolioID"], "contactID": payer,
                "amount": rent, "date": format_date(paid_on), "paymentType": rng.choice(vocab.PAYMENT_TYPES),
                "refNo": str(rng.randint(1000, 999999)),
            }, paid_on + rng.randint(28_800, 72_000)))
    charges.sort(key=lambda c: c["createdDateTime"])
    payments.sort(key=lambda p: p["createdDateTime"])
    gen.assign_ids("charges", charges)
    gen.assign_ids("payments", payments)
    return charges, payments


def post_payment(store: SandboxStore, lease_id: int, amount: float, *, at: datetime | None = None,
                 payment_type: str = "ECHECK", ref_no: str | None = None) -> dict:
    """What the source does when a lease payment is received: a Payment, applied to the lease's oldest open
    charges (amountDue down, amountPaid up), and the lease's leaseBalance lowered by the amount."""
    if amount <= 0:
        raise ValueError("amount must be positive")
    with store.lock:
        lease = store.get("leases", lease_id)
        if lease is None:
            raise KeyError(f"leases {lease_id} does not exist")
        moment = at or datetime.now(timezone.utc)
        payer = next((c["id"] for c in lease.get("contacts") or []), None)
        payment = store.add("payments", {
            "leaseID": lease_id, "portfolioID": lease.get("portfolioID"), "contactID": payer, "amount": amount,
            "date": format_date(int(moment.timestamp())), "paymentType": payment_type,
            "refNo": ref_no or f"PMT{store.next_id('payments')}",
        }, at)
        left = amount
        open_charges = sorted((c for c in store.table("charges").by_id.values()
                               if c.get("leaseID") == lease_id and (c.get("amountDue") or 0) > 0),
                              key=lambda c: (c["date"], c["id"]))
        for charge in open_charges:
            applied = min(left, charge["amountDue"])
            if applied <= 0:
                break
            store.update("charges", charge["id"], at, amountDue=round(charge["amountDue"] - applied, 2),
                         amountPaid=round((charge.get("amountPaid") or 0) + applied, 2))
            left = round(left - applied, 2)
        balance = round((lease.get("leaseBalance") or 0) - amount, 2)
        return {"payment": payment, "lease": store.update("leases", lease_id, at, leaseBalance=balance)}
