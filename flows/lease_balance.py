"""Get Account Balance: one lease's balance, charges and payments fetched from the source now — seconds, not a full sync."""

from __future__ import annotations

from prefect import flow
from prefect.utilities.annotations import quote

from pmsync.integrations import resolve_integration
from pmsync.settings import PlatformSettings
from pmsync.source.client import PageCursor
from tasks.balance import (
    BALANCE_ENTITIES,
    fetch_lease,
    load_lease_page,
    open_balance_run,
    read_lease_ledger,
    retire_missing_entries,
)
from tasks.extract import extract_page
from tasks.load import close_run
from tasks.validate import open_quality_gate, validate_pages


@flow(name="lease-balance")
def lease_balance(lease_id: int, integration: str | None = None) -> dict:
    """`GET /leases/{id}`, then `/leases/charges` and `/leases/payments` filtered by leaseID, through the quality gate
    and the sync rules; returns the run's counts and the lease's ledger as now on the platform."""
    account = resolve_integration(integration)
    session = open_balance_run(account, PlatformSettings())
    rules = account.rules
    try:
        gate = open_quality_gate(session.expectations_dir, BALANCE_ENTITIES, session.max_failure_share)
        leases = rules.stream("leases")
        page = fetch_lease(quote(session.client), leases, lease_id)
        load_lease_page(quote(session), leases, quote(validate_pages(quote(gate), leases, quote([page]))[0]))
        for stream in (rules.stream("charges"), rules.stream("payments")):
            listed: list[int] = []
            cursor: PageCursor | None = PageCursor()
            while cursor is not None:
                page = extract_page(quote(session.client), stream, cursor, {"leaseID": lease_id})
                load_lease_page(quote(session), stream, quote(validate_pages(quote(gate), stream, quote([page]))[0]))
                listed += [record.id for record in page.records]
                cursor = page.next_cursor
            retire_missing_entries(quote(session), stream, lease_id, listed, page.complete)
    except Exception as failure:
        close_run(session, error=f"{type(failure).__name__}: {failure}")
        raise
    result = close_run(session)
    return {**result, "ledger": read_lease_ledger(quote(session), lease_id)}
