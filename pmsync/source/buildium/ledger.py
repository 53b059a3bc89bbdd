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


class JournalLineMessage(Part):
    """The spec's JournalLineMessage: only its amount counts here."""

    Amount: MoneyAmount | None = None


class JournalMessage(Part):
    """The spec's JournalMessage."""

    Lines: list[JournalLineMessage] | None = None


class LeaseTransactionRecord(BuildiumRecord):
    """The spec's LeaseTransactionMessage: its type says which way it moves the balance; its TotalAmount (the sum of
    its journal lines) how much. The amount counts by its size: a source that signs payments negative and one that
    sends them positive give the same balance."""

    id: BuildiumId = Field(alias="Id")
    TransactionType: str | None = None
    TransactionTypeEnum: str | None = None
    TotalAmount: MoneyAmount | None = None
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


@dataclass
class LedgerTotals:
    """What a lease's transactions add up to: the balance owed now and what made it."""

    lease_id: int
    owed_more: Decimal = Decimal(0)
    owed_less: Decimal = Decimal(0)
    counted: Counter = field(default_factory=Counter)
    not_counted: Counter = field(default_factory=Counter)

    def add(self, transaction: LeaseTransactionRecord) -> None:
        kind = transaction.kind()
        if kind in OWED_MORE:
            self.owed_more += transaction.amount()
        elif kind in OWED_LESS:
            self.owed_less += transaction.amount()
        else:
            self.not_counted[kind] += 1
            return
        self.counted[kind] += 1

    @property
    def balance(self) -> Decimal:
        return (self.owed_more - self.owed_less).quantize(Decimal("0.01"))

    def as_balance_record(self) -> dict[str, Any]:
        """The totals as an outstanding-balance entry (the spec's LeaseOutstandingBalanceMessage shape, keyed by
        LeaseId, so it reads and parks like one), with what made it beside."""
        return {
            "LeaseId": self.lease_id, "TotalBalance": float(self.balance),
            "FromTransactions": {"OwedMore": float(self.owed_more), "OwedLess": float(self.owed_less),
                                 "Counted": dict(self.counted), "NotCounted": dict(self.not_counted)},
        }
