"""A Buildium lease's balance from its transactions (pmsync.source.buildium.ledger): which way each spec type moves
it, whatever sign the source gives amounts, and what it does not count."""

from __future__ import annotations

from decimal import Decimal

from pmsync.source.buildium.balances import LeaseBalanceRecord
from pmsync.source.buildium.ledger import OWED_LESS, OWED_MORE, LeaseTransactionRecord, LedgerTotals
from tests.contract.buildium_spec import buildium_spec


def transaction(kind: str, amount: float | None, lines: list[float] = ()) -> LeaseTransactionRecord:
    return LeaseTransactionRecord.model_validate({
        "Id": 1, "Date": "2026-11-01", "TransactionTypeEnum": kind, "TotalAmount": amount,
        "Journal": {"Lines": [{"Amount": line} for line in lines]}})


def total(*transactions: LeaseTransactionRecord) -> LedgerTotals:
    totals = LedgerTotals(7)
    for one in transactions:
        totals.add(one)
    return totals


def test_charges_and_reversals_add_payments_and_credits_take_away_whatever_the_sign():
    positive = total(transaction("Charge", 1000), transaction("Payment", 600), transaction("ReversePayment", 600),
                     transaction("Credit", 50), transaction("ElectronicFundsTransfer", 300.25))
    negative = total(transaction("Charge", 1000), transaction("Payment", -600), transaction("ReversePayment", 600),
                     transaction("Credit", -50), transaction("ElectronicFundsTransfer", -300.25))
    assert positive.balance == negative.balance == Decimal("649.75")


def test_payments_over_the_charges_are_a_credit_and_the_total_falls_back_on_the_journal_lines():
    assert total(transaction("Charge", 100), transaction("Payment", None, [80, 45.5])).balance == Decimal("-25.50")


def test_types_that_are_not_the_tenant_s_are_not_counted_but_said():
    totals = total(transaction("Charge", 100), transaction("Bill", 999), transaction("GeneralJournalEntry", 5))
    assert totals.balance == Decimal("100.00") and totals.not_counted == {"Bill": 1, "GeneralJournalEntry": 1}


def test_every_type_the_sets_name_is_the_spec_s_and_the_totals_read_as_an_outstanding_balance_entry():
    declared = set(buildium_spec().resolve("#/components/schemas/LeaseTransactionMessage")["properties"][
        "TransactionTypeEnum"]["enum"])
    assert OWED_MORE | OWED_LESS <= declared and not OWED_MORE & OWED_LESS
    entry = total(transaction("Charge", 12.5)).as_balance_record()
    record = LeaseBalanceRecord.model_validate(entry)
    assert (record.id, record.TotalBalance) == (7, Decimal("12.5"))
    assert record.rows(entry)[0].columns == {"balance": Decimal("12.5")}
