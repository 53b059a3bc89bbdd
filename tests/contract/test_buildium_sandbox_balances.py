"""The Buildium sandbox's money answers as the spec says: the outstanding-balance lists (zero balances left out, credits
listed) and each lease's transactions (GET /v1/leases/{leaseId}/transactions: valid, paged, filtered, 404 for a lease
it does not have), whose charges, payments and reversals add up to the lease's entry in the list (absent: zero)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from pmsync.source.buildium.ledger import LeaseTransactionRecord, LedgerTotals
from sandbox.buildium import BuildiumSandboxServer
from sandbox.buildium.filters import LEDGER_FILTERS
from sandbox.buildium.ledger import LEDGER_PATH, TRANSACTION_TYPES

from .buildium_http import assert_error_body, get, http, spec, total_of  # noqa: F401 (spec, http: fixtures)

TRANSACTION = "#/components/schemas/LeaseTransactionMessage"


@pytest.fixture(scope="module")
def sandbox():
    with BuildiumSandboxServer(units=47, seed=5, rate_limit=None) as server:
        yield server


def ledger(http, sandbox, lease_id: int, limit: int, **params) -> list[dict]:
    path, records, offset = LEDGER_PATH.format(leaseId=lease_id), [], 0
    while True:
        response = get(http, sandbox, path, limit=limit, offset=offset, orderby="Id", **params)
        assert response.status_code == 200, response.text
        records += response.json()
        offset += limit
        if offset >= total_of(response):
            return records


def added_up(lease_id: int, transactions: list[dict]) -> Decimal:
    totals = LedgerTotals(lease_id)
    for raw in transactions:
        totals.add(LeaseTransactionRecord.model_validate(raw))
    assert not totals.not_counted
    return totals.balance


def test_the_ledger_path_its_filters_and_its_type_enum_are_the_spec_s(spec):
    operation = spec.operation(LEDGER_PATH)
    assert "X-Total-Count" in operation["responses"]["200"]["headers"]
    assert set(LEDGER_FILTERS) | {"limit", "offset", "orderby"} <= set(spec.query_parameters(LEDGER_PATH))
    declared = spec.resolve(TRANSACTION)["properties"]["TransactionTypeEnum"]["enum"]
    assert list(TRANSACTION_TYPES) == declared


def test_every_lease_s_transactions_are_valid_page_fully_and_add_up_to_its_outstanding_balance(sandbox, http, spec):
    listed = {entry["LeaseId"]: Decimal(str(entry["TotalBalance"])) for entry in sandbox.store.records("leasebalances")}
    kinds: Counter = Counter()
    for lease in sandbox.store.records("leases"):
        transactions = ledger(http, sandbox, lease["Id"], 1000)
        assert [error for t in transactions for error in spec.errors(TRANSACTION, t)] == []
        assert all(t["LeaseId"] == lease["Id"] for t in transactions)
        assert added_up(lease["Id"], transactions) == listed.get(lease["Id"], Decimal(0)).quantize(Decimal("0.01"))
        kinds.update(t["TransactionTypeEnum"] for t in transactions)
        if len(transactions) > 50:
            assert ledger(http, sandbox, lease["Id"], 7) == transactions
    assert {"Charge", "Payment", "ReversePayment", "Credit", "ElectronicFundsTransfer"} <= set(kinds)
    assert any(balance < 0 for balance in listed.values()) and all(balance != 0 for balance in listed.values())
    assert len(listed) < len(sandbox.store.records("leases"))


def test_the_ledger_filters_by_type_and_date_and_a_missing_lease_is_a_404(sandbox, http, spec):
    lease = max(sandbox.store.records("leases"), key=lambda lease: lease["Id"] % 23 == 5)
    every = ledger(http, sandbox, lease["Id"], 1000)
    charges = ledger(http, sandbox, lease["Id"], 1000, transactiontypes="Charge")
    assert charges == [t for t in every if t["TransactionTypeEnum"] == "Charge"] and charges
    first_day = min(t["Date"] for t in every)
    assert ledger(http, sandbox, lease["Id"], 1000, transactiondateto=first_day) == [
        t for t in every if t["Date"] == first_day]
    absent = max(lease["Id"] for lease in sandbox.store.records("leases")) + 1000
    assert_error_body(spec, get(http, sandbox, LEDGER_PATH.format(leaseId=absent)), 404)
    assert_error_body(spec, get(http, sandbox, LEDGER_PATH.format(leaseId=lease["Id"]), transactiontypes="Bogus"), 400)
