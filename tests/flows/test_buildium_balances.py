"""A Buildium integration's balances against the Buildium sandbox over HTTP, on SQLite and PostgreSQL: the
outstanding-balance lists land on leases and ownership accounts (absent = zero; an entry whose lease is not on the
platform waits for it), only the nightly lease sync and the initial sync read them, and Get Account Balance (`pmsync balance LEASE_ID`'s job) adds up the lease's transactions
now; a lease Buildium does not have exits 2, as on Propertyware."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
import sqlalchemy as sa

from pmsync.jobs import JOBS
from sandbox.buildium import BuildiumSandboxServer, buildium_sandbox_settings
from sandbox.buildium.ledger import ledger_of
from schemas.tables import leases, ownership_accounts, record_changes
from tests.flows.buildium_expectations import platform_leases_and_accounts
from tests.flows.test_cli import run_pmsync

initial_sync, delta_sync, lease_sync, lease_balance = (
    JOBS["initial-sync"], JOBS["delta-sync"], JOBS["lease-sync"], JOBS["lease-balance"])


@pytest.fixture
def buildium() -> Iterator[BuildiumSandboxServer]:
    """A small deterministic Buildium account on 127.0.0.1, fresh per test, without the rate limit (tested apart)."""
    with BuildiumSandboxServer(units=30, seed=7, rate_limit=None) as server:
        yield server


@pytest.fixture
def buildium_env(monkeypatch: pytest.MonkeyPatch, buildium: BuildiumSandboxServer, platform_url: str) -> dict[str, str]:
    """The default integration is the sandbox account, on the test database; pages of 25, so a long ledger takes
    several pages."""
    for name in [name for name in os.environ if name.startswith("PMSYNC_")]:
        monkeypatch.delenv(name)
    env = {**buildium_sandbox_settings(buildium.base_url), "PMSYNC_DATABASE_URL": platform_url,
           "PMSYNC_PW_MAX_ATTEMPTS": "6", "PMSYNC_BUILDIUM_PAGE_SIZE": "25",
           "PMSYNC_BUILDIUM_MAX_REQUESTS_PER_SECOND": "200"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def balances(engine: sa.Engine, table: sa.Table) -> dict[int, Decimal | None]:
    with engine.connect() as connection:
        return {row.source_id: row.balance for row in connection.execute(sa.select(table.c.source_id, table.c.balance))}


def listed(store, listing: str, key: str) -> dict[int, Decimal]:
    return {entry[key]: money(entry["TotalBalance"]) for entry in store.records(listing)}


def test_balances_land_absent_ones_become_zero_and_pmsync_balance_adds_up_the_ledger(
        buildium_env, buildium, platform_engine):
    store = buildium.store
    on_leases, on_accounts = platform_leases_and_accounts(store)
    lease_entries = listed(store, "leasebalances", "LeaseId")
    credit, dropped, changed = sorted(set(lease_entries) & on_leases)[:3]
    store.update("leasebalances", credit, TotalBalance=-80.0, Balance0To30Days=-80.0, Balance31To60Days=0.0,
                 Balance61To90Days=0.0, BalanceOver90Days=0.0)
    lease_entries[credit] = money(-80)
    account_entries = listed(store, "ownershipaccountbalances", "OwnershipAccountId")
    dropped_account = min(set(account_entries) & on_accounts)

    initial_sync()

    assert len(lease_entries) > 5 and set(lease_entries) - on_leases and on_leases - set(lease_entries)
    assert balances(platform_engine, leases) == {lease: lease_entries.get(lease, money(0)) for lease in on_leases}
    assert balances(platform_engine, ownership_accounts) == {
        account: account_entries.get(account, money(0)) for account in on_accounts}

    waiting = min(set(lease_entries) - on_leases)  # its rental is inactive: lease and balance parked
    store.update("rentals", store.get("leases", waiting)["PropertyId"], IsActive=True)
    store.clear_requests_log()
    delta_sync()
    assert not [path for _, path, _ in store.requests_log if "outstandingbalances" in path]
    assert balances(platform_engine, leases)[waiting] == lease_entries[waiting]  # released with its lease
    unsettled = {lease for lease, balance in balances(platform_engine, leases).items() if balance is None}
    # the rental's other leases, if any, are not listed: left to the nightly sync to settle

    store.delete("leasebalances", dropped)
    store.delete("ownershipaccountbalances", dropped_account)
    store.update("leasebalances", changed, TotalBalance=321.5)
    nightly = lease_sync()

    assert nightly["counts"]["lease_balance"]["updated"] == 2 + len(unsettled)
    assert all(balances(platform_engine, leases)[lease] == money(0) for lease in unsettled)
    assert nightly["counts"]["ownership_account_balance"]["updated"] == 1
    now = balances(platform_engine, leases)
    assert (now[dropped], now[changed], now[credit]) == (money(0), money("321.5"), money(-80))
    assert balances(platform_engine, ownership_accounts)[dropped_account] == money(0)
    with platform_engine.connect() as connection:
        journaled = connection.execute(sa.select(record_changes.c.changes).where(
            record_changes.c.entity == "lease", record_changes.c.source_id == dropped,
            record_changes.c.run_id == nightly["run_id"])).scalar_one()
    assert journaled == {"balance": [str(lease_entries[dropped]), "0.00"]}

    assert money(lease_balance(lease_id=credit)["ledger"]["lease"]["balance"]) == money(-80)
    reversed_lease = next(lease for lease in store.records("leases") if lease["Id"] in on_leases and any(
        t["TransactionTypeEnum"] == "ReversePayment"
        for t in ledger_of(lease, store.get("leasebalances", lease["Id"]))))
    entry = store.get("leasebalances", reversed_lease["Id"])
    before = money(entry["TotalBalance"]) if entry else money(0)
    store.add("leasetransactions", {
        "Date": "2026-12-01", "TransactionType": "Payment", "TransactionTypeEnum": "Payment", "TotalAmount": 40.0,
        "LeaseId": reversed_lease["Id"], "PayeeTenantId": None, "PaymentMethod": "Check", "CheckNumber": "1042",
        "Journal": {"Memo": None, "Lines": [{"GLAccount": None, "Amount": 40.0, "IsCashPosting": True,
                                             "ReferenceNumber": None, "Memo": None, "PropertyId": 0, "UnitId": None}]}})

    shown = lease_balance(lease_id=reversed_lease["Id"])  # what `pmsync balance` runs (in process: no server)

    assert money(shown["ledger"]["lease"]["balance"]) == before - 40
    assert shown["counts"]["lease_balance"] == {**shown["counts"]["lease_balance"], "fetched": 1, "updated": 1}
    assert balances(platform_engine, leases)[reversed_lease["Id"]] == before - 40

    missing = run_pmsync("balance", "999999", env=buildium_env)
    assert missing.returncode == 2, missing.stderr
    assert "404" in missing.stderr and "check the lease id" in missing.stderr


def test_pmsync_balance_prints_the_charges_and_payments_it_read_from_the_lease_transactions(
        buildium_env, buildium, platform_engine):
    from pmsync.source.buildium.ledger import OWED_LESS, OWED_MORE

    store = buildium.store
    on_leases, _ = platform_leases_and_accounts(store)
    initial_sync()
    headers = {"x-buildium-client-id": buildium_env["PMSYNC_BUILDIUM_CLIENT_ID"],
               "x-buildium-client-secret": buildium_env["PMSYNC_BUILDIUM_CLIENT_SECRET"]}

    def transactions(lease_id: int) -> list[dict]:
        answer = requests.get(f"{buildium.base_url}/v1/leases/{lease_id}/transactions",
                              params={"limit": 1000, "orderby": "Id"}, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    lease_id, read = next((lease, found) for lease in sorted(on_leases) if (found := transactions(lease))
                          and {t["TransactionTypeEnum"] for t in found} & OWED_MORE
                          and {t["TransactionTypeEnum"] for t in found} & OWED_LESS)
    charges = [t for t in read if t["TransactionTypeEnum"] in OWED_MORE]
    payments = [t for t in read if t["TransactionTypeEnum"] in OWED_LESS]

    shown = run_pmsync("balance", str(lease_id), env=buildium_env)

    assert shown.returncode == 0, shown.stdout[-2000:] + shown.stderr[-2000:]
    header, _, tables = shown.stdout.partition("\ncharges")
    charge_table, _, payment_table = tables.partition("\npayments")
    charged, paid = sum(money(abs(t["TotalAmount"])) for t in charges), sum(money(abs(t["TotalAmount"])) for t in payments)
    assert f"charged {charged:,.2f}, paid {paid:,.2f}" in header and "open charges" not in header
    assert f"balance {charged - paid:,.2f}" in header
    rows = {kind: {int(line.split("│")[1]): line for line in table.splitlines()
                   if line.count("│") > 2 and line.split("│")[1].strip().isdigit()}
            for kind, table in (("charges", charge_table), ("payments", payment_table))}
    assert set(rows["charges"]) == {t["Id"] for t in charges} and set(rows["payments"]) == {t["Id"] for t in payments}
    for t in charges:
        assert t["Date"][:10] in rows["charges"][t["Id"]] and f"{abs(t['TotalAmount']):,.2f}" in rows["charges"][t["Id"]]
    for t in payments:
        line = rows["payments"][t["Id"]]
        assert t["Date"][:10] in line and f"{abs(t['TotalAmount']):,.2f}" in line and t["TransactionTypeEnum"] in line
        assert (t.get("CheckNumber") or "") in line


def test_the_first_complete_list_counts_only_real_changes_and_still_zeroes_the_leases_it_leaves_out(
        buildium_env, buildium, platform_engine):
    """The leases and accounts an initial sync creates get balance 0 when the list leaves them out, without counting
    that as an update (the row is new: its creation is counted); a balance that was something else, or unknown since
    an earlier run, is an update."""
    store = buildium.store
    on_leases, on_accounts = platform_leases_and_accounts(store)
    lease_entries = listed(store, "leasebalances", "LeaseId")
    account_entries = listed(store, "ownershipaccountbalances", "OwnershipAccountId")
    assert on_leases - set(lease_entries) and on_accounts - set(account_entries), "some are left out of the lists"

    first = initial_sync()

    assert first["counts"]["lease_balance"]["updated"] == len(set(lease_entries) & on_leases)
    assert first["counts"]["ownership_account_balance"]["updated"] == len(set(account_entries) & on_accounts)
    assert balances(platform_engine, leases) == {lease: lease_entries.get(lease, money(0)) for lease in on_leases}
    assert balances(platform_engine, ownership_accounts) == {
        account: account_entries.get(account, money(0)) for account in on_accounts}
    with platform_engine.connect() as connection:
        actions = dict(connection.execute(sa.select(record_changes.c.source_id, record_changes.c.action).where(
            record_changes.c.entity == "lease", record_changes.c.run_id == first["run_id"])).all())
    assert actions == {lease: "created" for lease in on_leases}

    again = lease_sync()

    assert again["counts"]["lease_balance"]["updated"] == 0 and again["counts"]["ownership_account_balance"]["updated"] == 0

    paid_off = min(set(lease_entries) & on_leases)
    store.delete("leasebalances", paid_off)
    with platform_engine.connect() as connection:  # a lease whose balance is unknown since an earlier run
        unknown = connection.execute(sa.select(leases.c.source_id).where(
            leases.c.source_id.in_(on_leases - set(lease_entries)))).scalars().first()
    with platform_engine.begin() as connection:
        connection.execute(sa.update(leases).where(leases.c.source_id == unknown).values(balance=None))

    nightly = lease_sync()

    assert nightly["counts"]["lease_balance"]["updated"] == 2
    assert balances(platform_engine, leases)[paid_off] == money(0) and balances(platform_engine, leases)[unknown] == money(0)
