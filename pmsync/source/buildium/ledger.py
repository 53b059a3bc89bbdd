"""A Buildium lease's balance now, from its ledger (GET /v1/leases/{leaseId}/transactions): charges and reversed
payments add to what the tenant owes, payments, credits and applied deposits take from it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import Field

from pmsync.source.buildium.parts import BuildiumId, BuildiumRecord, Part
from schemas.source_values import MoneyAmount

LEASE_TRANSACTIONS = "/v1/leases/{leaseId}/transactions"

OWED_MORE = frozenset({
    "Charge", "Refund", "ReversePayment", "ReverseElectronicFundsTransfer", "ReverseRentalApplicationFeePayment",
})
"""TransactionTypeEnum values (the spec's LeaseTransactionMessage) that add to the lease's balance: a charge, money
refunded to the tenant, a payment reversed (bounced)."""
OWED_LESS = frozenset({
    "Payment", "Credit", "ApplyDeposit", "ElectronicFundsTransfer", "RentalApplicationFeePayment", "UnreversedPayment",
    "UnreversedElectronicFundsTransfer", "UnreversedRentalApplicationFeePayment", "ReversedEftRefund",
})
"""Values that take from it: a payment (and one whose reversal was undone), a credit, a deposit applied, a refund
reversed."""


class GLAccountRef(Part):
    """The spec's GLAccountMessage: only its id is shown here."""

    Id: BuildiumId | None = None


class JournalLineMessage(Part):
    """The spec's JournalLineMessage: its amount counts, its account is shown."""

    Amount: MoneyAmount | None = None
    GLAccount: GLAccountRef | None = None


class JournalMessage(Part):
    """The spec's JournalMessage."""

    Memo: str | None = None
    Lines: list[JournalLineMessage] | None = None


class LeaseTransactionRecord(BuildiumRecord):
    """The spec's LeaseTransactionMessage: its type says which way it moves the balance; its TotalAmount (the sum of
    its journal lines) how much. The amount counts by its size: a source that signs payments negative and one that
    sends them positive give the same balance."""

    id: BuildiumId = Field(alias="Id")
    TransactionType: str | None = None
    TransactionTypeEnum: str | None = None
    TotalAmount: MoneyAmount | None = None
    Date: str | None = None
    CheckNumber: str | None = None
    PaymentMethod: str | None = None
    Journal: JournalMessage | None = None

    def kind(self) -> str:
        return self.TransactionTypeEnum or self.TransactionType or "Other"

    def amount(self) -> Decimal:
        if self.TotalAmount is not None:
            return abs(self.TotalAmount)
        lines = (self.Journal.Lines if self.Journal else None) or []
        return abs(sum((line.Amount or Decimal(0) for line in lines), Decimal(0)))

    def rows(self, raw: dict[str, Any]) -> list:
        return []

    def as_charge(self) -> dict[str, Any]:
        """What `pmsync balance` shows of a transaction that adds to the balance, in a platform charge's fields (a
        ledger says nothing due or paid per charge); its type in the reference unless it is a plain Charge."""
        kind = self.kind()
        lines = (self.Journal.Lines if self.Journal else None) or []
        account = next((line.GLAccount.Id for line in lines if line.GLAccount and line.GLAccount.Id), None)
        ref = " · ".join(part for part in (None if kind == "Charge" else kind, self.CheckNumber,
                                           self.Journal.Memo if self.Journal else None) if part)
        return {"source_id": self.id, "post_date": self.Date, "amount": float(self.amount()), "amount_due": None,
                "amount_paid": None, "gl_account_source_id": account, "ref_no": ref or None}

    def as_payment(self) -> dict[str, Any]:
        """What `pmsync balance` shows of a transaction that takes from the balance, in a platform payment's fields."""
        method = f" ({self.PaymentMethod})" if self.PaymentMethod else ""
        return {"source_id": self.id, "post_date": self.Date, "amount": float(self.amount()),
                "payment_type": f"{self.kind()}{method}", "ref_no": self.CheckNumber}


@dataclass
class LedgerTotals:
    """What a lease's transactions add up to: the balance owed now and what made it."""

    lease_id: int
    owed_more: Decimal = Decimal(0)
    owed_less: Decimal = Decimal(0)
    counted: Counter = field(default_factory=Counter)
    not_counted: Counter = field(default_factory=Counter)
    charges: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)

    def add(self, transaction: LeaseTransactionRecord) -> None:
        kind = transaction.kind()
        if kind in OWED_MORE:
            self.owed_more += transaction.amount()
            self.charges.append(transaction.as_charge())
        elif kind in OWED_LESS:
            self.owed_less += transaction.amount()
            self.payments.append(transaction.as_payment())
        else:
            self.not_counted[kind] += 1
            return
        self.counted[kind] += 1

    @property
    def balance(self) -> Decimal:
        return (self.owed_more - self.owed_less).quantize(Decimal("0.01"))

    def as_balance_record(self) -> dict[str, Any]:
        """The totals as an outstanding-balance entry (the spec's LeaseOutstandingBalanceMessage shape, keyed by
        LeaseId, so it reads and parks like one), with what made it beside: the transactions counted, as charges
        (adding) and payments (taking away)."""
        return {
            "LeaseId": self.lease_id, "TotalBalance": float(self.balance),
            "FromTransactions": {"OwedMore": float(self.owed_more), "OwedLess": float(self.owed_less),
                                 "Counted": dict(self.counted), "NotCounted": dict(self.not_counted),
                                 "Charges": self.charges, "Payments": self.payments},
        }
