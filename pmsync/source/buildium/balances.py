"""Buildium's outstanding-balance lists (the spec's LeaseOutstandingBalanceMessage and
OwnershipAccountOutstandingBalanceMessage): each sets its lease's or ownership account's balance; absent = zero."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from pydantic import Field

from pmsync.sync.rule_types import EntityRule, SetsColumnsOf, Stream
from pmsync.source.buildium.ledger import LEASE_TRANSACTIONS
from pmsync.source.buildium.parts import LEASE, OWNERSHIP_ACCOUNT, BuildiumId, BuildiumRecord, balance_candidate
from schemas.records import Candidate
from schemas.source_values import MoneyAmount

AGING = ("Balance0To30Days", "Balance31To60Days", "Balance61To90Days", "BalanceOver90Days")


class OutstandingBalance(BuildiumRecord):
    """An entry of an outstanding-balance list: the total the platform stores, the aging buckets as facts. The list
    leaves out zero balances, so a record it does not list owes nothing: `zero(id)` is that record's balance."""

    ENTITY: ClassVar[str]
    OF_KIND: ClassVar[str]

    TotalBalance: MoneyAmount | None = None
    Balance0To30Days: MoneyAmount | None = None
    Balance31To60Days: MoneyAmount | None = None
    Balance61To90Days: MoneyAmount | None = None
    BalanceOver90Days: MoneyAmount | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        aging = {name: getattr(self, name) for name in AGING}
        facts = {**aging, "listed": True}
        return [balance_candidate(self.ENTITY, self.id, self.OF_KIND, self.TotalBalance, facts, raw)]

    @classmethod
    def zero(cls, source_id: int) -> Candidate:
        """The balance of a record the list left out: zero."""
        return balance_candidate(cls.ENTITY, source_id, cls.OF_KIND, Decimal(0), {"listed": False}, {})


class LeaseBalanceRecord(OutstandingBalance):
    """GET /v1/leases/outstandingbalances, keyed by LeaseId → leases.balance."""

    ENTITY: ClassVar[str] = "lease_balance"
    OF_KIND: ClassVar[str] = LEASE

    id: BuildiumId = Field(alias="LeaseId")

    def ledger_read(self, raw: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """The transactions a lease's ledger (buildium.ledger) counted, as charges and payments; none on a list entry."""
        read = raw.get("FromTransactions") or {}
        return {"charges": list(read.get("Charges") or []), "payments": list(read.get("Payments") or [])}


class OwnershipAccountBalanceRecord(OutstandingBalance):
    """GET /v1/associations/ownershipaccounts/outstandingbalances, keyed by OwnershipAccountId →
    ownership_accounts.balance."""

    ENTITY: ClassVar[str] = "ownership_account_balance"
    OF_KIND: ClassVar[str] = OWNERSHIP_ACCOUNT

    id: BuildiumId = Field(alias="OwnershipAccountId")


BALANCE_STREAMS = (
    Stream("leasebalances", "/v1/leases/outstandingbalances", LeaseBalanceRecord, ("lease_balance",),
           readable_by_id=False, nightly=True),
    Stream("ownershipaccountbalances", "/v1/associations/ownershipaccounts/outstandingbalances",
           OwnershipAccountBalanceRecord, ("ownership_account_balance",), readable_by_id=False, nightly=True),
)
"""The outstanding-balance lists: no lastupdated filter and no record hash to skip by, so the nightly lease sync (and
the initial sync) reads them whole, not the hourly delta."""

LEASE_LEDGER = (Stream("leasetransactions", LEASE_TRANSACTIONS, LeaseBalanceRecord, ("lease_balance",),
                       readable_by_id=False),)
"""Get Account Balance: the lease's transactions, read within the lease and added up by the client into one
outstanding-balance entry (buildium.ledger), which sets the lease's balance as the list's entry does."""

ZERO = {"balance": Decimal("0.00")}
BALANCE_RULES = {
    "lease_balance": EntityRule("lease_balance", sets_columns_of=SetsColumnsOf("lease", ZERO)),
    "ownership_account_balance": EntityRule("ownership_account_balance",
                                            sets_columns_of=SetsColumnsOf("ownership_account", ZERO)),
}
"""Each entry sets its lease's or ownership account's balance (parked until that row is on the platform); a row the
complete list leaves out owes nothing: its balance is set to 0."""
