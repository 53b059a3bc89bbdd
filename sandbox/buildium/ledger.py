"""Each lease's transactions (GET /v1/leases/{leaseId}/transactions) with the variety real ledgers have — rent and
fees charged, paid in parts, payments reversed (bounced), credits, tenants paying ahead — adding up to the lease's
entry in the outstanding-balance list as it is now (absent from it: zero). They are made when asked for, from the lease
and that entry (an account of 100,000 units keeps no million transactions), followed by any a test added to the
store's `leasetransactions`; a share of the listed balances are credits."""

from __future__ import annotations

import random

from ..clock import format_date

DAY = 86_400
LEDGER_ENTITY = "leasetransactions"
LEDGER_PATH = "/v1/leases/{leaseId}/transactions"
LEASE_OF_PATH = " lease"
"""The filter the path's lease id becomes (a name no query parameter can have: a query's names are stripped)."""
TRANSACTION_TYPES = (
    "Bill", "Check", "Charge", "Payment", "Credit", "Refund", "ApplyDeposit", "ElectronicFundsTransfer", "Other",
    "Deposit", "GeneralJournalEntry", "OwnerContribution", "ReversePayment", "ReverseElectronicFundsTransfer",
    "VendorCredit", "RentalApplicationFeePayment", "ReverseRentalApplicationFeePayment", "ReverseOwnerContribution",
    "VendorRefund", "UnreversedPayment", "UnreversedElectronicFundsTransfer", "UnreversedOwnerContribution",
    "UnreversedRentalApplicationFeePayment", "ReversedEftRefund",
)
"""The spec's LeaseTransactionMessage.TransactionTypeEnum."""
READABLE = {"ReversePayment": "Reverse Payment", "ElectronicFundsTransfer": "Electronic Funds Transfer",
            "ApplyDeposit": "Apply Deposit"}


def add_credits(gen) -> None:
    """About one listed balance in eight becomes a credit (the tenant paid more than was charged), from each lease's
    own random stream (the rest of the account is generated as before)."""
    for entry in gen.out["leasebalances"]:
        rng = _rng(f"credit/{gen.anchor}/{entry['LeaseId']}")
        if rng.random() < 0.125:
            _make_credit(entry, rng)


def ledger_of(lease: dict, entry: dict | None) -> list[dict]:
    """The lease's generated transactions, summing to its entry's TotalBalance (none: zero); ids lease id × 1000 + n."""
    target = round(entry["TotalBalance"], 2) if entry is not None else 0.0
    return _ledger(lease, target, _rng(f"ledger/{lease['Id']}/{lease['LeaseFromDate']}"))


def _rng(purpose: str) -> random.Random:
    return random.Random(f"pmsync-buildium-{purpose}")


def _make_credit(entry: dict, rng: random.Random) -> None:
    credit = -float(rng.choice((15, 100, 250.5, 1200)))
    entry.update(Balance0To30Days=credit, Balance31To60Days=0.0, Balance61To90Days=0.0, BalanceOver90Days=0.0,
                 TotalBalance=credit, Balances=[{"GlAccountId": 4000, "TotalBalance": credit}])


def _ledger(lease: dict, target: float, rng: random.Random) -> list[dict]:
    """Rent charged monthly from the lease's start (a long history for a few: more than a page), paid in one or two
    parts; then what brings the total to `target`: a late fee left open, or a prepayment; reversals and credits that
    cancel out."""
    rent = float((lease.get("AccountDetails") or {}).get("Rent") or 1000.0)
    months = 30 if lease["Id"] % 23 == 5 else rng.randint(1, 6)  # 30: more than a page of 50
    day = _epoch(lease["LeaseFromDate"])
    tenant = (lease.get("CurrentTenants") or [{}])[0].get("Id") or (lease.get("Tenants") or [{}])[0].get("Id")
    made: list[tuple[str, float, int]] = []
    for month in range(months):
        made.append(("Charge", rent, day + month * 30 * DAY))
        if rng.random() < 0.3:
            first = round(rent * 0.4, 2)
            made += [("Payment", first, day + month * 30 * DAY + 2 * DAY),
                     ("ElectronicFundsTransfer", round(rent - first, 2), day + month * 30 * DAY + 9 * DAY)]
        else:
            made.append(("Payment", rent, day + month * 30 * DAY + 3 * DAY))
    end = day + months * 30 * DAY
    if rng.random() < 0.25:
        bounced = round(rent / 2, 2)
        made += [("Payment", bounced, end), ("ReversePayment", bounced, end + DAY)]
    if rng.random() < 0.15:
        made += [("Charge", 75.0, end + 2 * DAY), ("Credit", 75.0, end + 3 * DAY)]
    if target > 0:
        made.append(("Charge", target, end + 4 * DAY))
    elif target < 0:
        made.append(("Payment", -target, end + 4 * DAY))
    return [_transaction(lease["Id"] * 1000 + number, lease, kind, amount, when, tenant, rng)
            for number, (kind, amount, when) in enumerate(made)]


def _transaction(transaction_id: int, lease: dict, kind: str, amount: float, when: int, tenant: int | None,
                 rng: random.Random) -> dict:
    split = round(amount * 0.8, 2) if kind == "Charge" and amount > 100 and rng.random() < 0.3 else None
    parts = [amount] if split is None else [split, round(amount - split, 2)]
    paid = kind in ("Payment", "ElectronicFundsTransfer", "ReversePayment")
    return {
        "Id": transaction_id, "Date": format_date(when), "TransactionType": READABLE.get(kind, kind),
        "TransactionTypeEnum": kind, "TotalAmount": round(sum(parts), 2),
        "CheckNumber": f"{1000 + when // DAY % 9000}" if kind == "Payment" and rng.random() < 0.3 else None,
        "LeaseId": lease["Id"], "PayeeTenantId": tenant if paid else None,
        "PaymentMethod": rng.choice(("Check", "ElectronicPayment", "CreditCard")) if paid else None,
        "Journal": {"Memo": None if rng.random() < 0.5 else f"{kind} {format_date(when)[:7]}", "Lines": [
            {"GLAccount": None, "Amount": part, "IsCashPosting": paid, "ReferenceNumber": None,
             "Memo": "Rent" if kind == "Charge" and index == 0 else None, "PropertyId": lease["PropertyId"],
             "UnitId": lease["UnitId"]}
            for index, part in enumerate(parts)]},
        "_updated": when,
    }


def _epoch(day: str) -> int:
    from datetime import date, datetime, timezone
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), timezone.utc).timestamp())
