"""Get Account Balance, the library side: one lease read now, its charges and payments retired when gone, its ledger."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text, update

from pmsync.journal import record as journal
from pmsync.sync.rule_types import Stream
from pmsync.runs.bookkeeping import utc_now
from pmsync.source import SourcePage, SourceRequestRejected
from pmsync.source.protocol import Source
from pmsync.sync.apply import apply_page
from pmsync.sync.gate import CheckedPage
from pmsync.sync.scope import SyncSession
from schemas.entity_rows import rows_of
from schemas.tables import LEASE_BALANCES_VIEW, lease_charges, lease_payments, leases, unapplied_records

log = logging.getLogger("pmsync.balance")


def balance_entities(leases: Stream, ledger: list[Stream]) -> list[str]:
    """The entities Get Account Balance applies: the lease stream's, then its ledger streams'."""
    return list(dict.fromkeys([*leases.entities, *(entity for stream in ledger for entity in stream.entities)]))


def fetch_lease(source: Source, stream: Stream, lease_id: int) -> SourcePage:
    """The lease read by id now, as a one-record page (its balance is the lease's balance now); a lease the source
    does not have is SourceRequestRejected (404): check the lease id."""
    page = source.get(stream, lease_id)
    if page is None:
        raise SourceRequestRejected(f"the source has no {stream.name} record {lease_id} (404); check the lease id",
                                    request=source.request_for(stream, lease_id), status=404)
    return page


def load_lease_page(session: SyncSession, stream: Stream, checked: CheckedPage) -> dict[str, dict[str, int]]:
    """Apply a checked page under the sync rules in one transaction; the stream's high-water mark stays (one lease only)."""
    return apply_page(session, stream, checked, whole_listing=False)


def retire_missing_entries(
    session: SyncSession, stream: Stream, lease_id: int, listed: list[int], listing_complete: bool
) -> int:
    """The lease's charges (or payments) on the platform that the source's complete listing for it lacks: active=false.

    Only a listing proven complete (its last page reached X-Total-Count) retires anything: records missing from a
    listing cut short are not known to be gone.
    """
    (entity,) = stream.entities
    if not listing_complete:
        log.warning("lease %s: %s listing not proven complete; nothing retired", lease_id, entity)
        return 0
    table = rows_of(entity).table
    with session.engine.begin() as connection:
        lease_row = connection.execute(
            select(leases.c.id).where(leases.c.integration_id == session.integration_id, leases.c.source_id == lease_id)
        ).scalar_one_or_none()
        if lease_row is None:
            return 0
        gone = table.c.lease_id == lease_row, table.c.active.is_(True), table.c.source_id.not_in(listed)
        retiring = connection.execute(select(table.c.source_id).where(*gone)).scalars().all()
        now = utc_now()
        retired = connection.execute(
            update(table).where(*gone).values(active=False, updated_at=now, last_sync_run_id=session.run_id)
        ).rowcount
        journal.record(connection, session.run_id, session.integration_id, now,
                       [journal.entry(entity, source_id, journal.DEACTIVATED) for source_id in retiring])
    if retired:
        log.info("lease %s: %d %s(s) gone from the source marked inactive", lease_id, retired, entity)
    return retired


def read_lease_ledger(session: SyncSession, lease_id: int) -> dict[str, Any]:
    """The lease's balance row (view lease_balances) and its active charges and payments, as now on the platform."""
    with session.engine.connect() as connection:
        lease = connection.execute(
            text(f"SELECT * FROM {LEASE_BALANCES_VIEW} WHERE integration_id = :i AND lease_source_id = :s"),
            {"i": session.integration_id, "s": lease_id},
        ).mappings().one_or_none()
        ledger: dict[str, Any] = {"lease": dict(lease) if lease else None, "fetched_at": session.started_at}
        if lease is None:
            held = connection.execute(
                select(unapplied_records.c.reason, unapplied_records.c.detail).where(
                    unapplied_records.c.integration_id == session.integration_id,
                    unapplied_records.c.entity == "lease",
                    unapplied_records.c.source_id == lease_id,
                )
            ).one_or_none()
            ledger["why"] = f"{held.reason}: {held.detail}" if held else "the source did not give it"
            return {**ledger, "charges": [], "payments": []}
        for name, table in (("charges", lease_charges), ("payments", lease_payments)):
            rows = connection.execute(
                select(table)
                .where(table.c.lease_id == lease["lease_id"], table.c.active.is_(True))
                .order_by(table.c.post_date, table.c.source_id)
            ).mappings()
            ledger[name] = [{k: v for k, v in row.items() if k != "source_data"} for row in rows]
    return ledger


def ledger_read(page: SourcePage) -> dict[str, list[dict[str, Any]]]:
    """The charges and payments a ledger page read without rows of their own (pmsync.source's `ledger_read`)."""
    read: dict[str, list[dict[str, Any]]] = {"charges": [], "payments": []}
    for record, raw in zip(page.records, page.raw):
        for name, entries in record.ledger_read(raw).items():
            read.setdefault(name, []).extend(entries)
    return read


def with_ledger_read(ledger: dict[str, Any], read: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The lease's ledger as on the platform, with what its source's ledger read but keeps no rows of (transactions
    added up into the balance) as its charges and payments, oldest first; the lease's charged and paid are then
    theirs, and its open charges unknown (such a ledger says nothing due per charge)."""
    if ledger.get("lease") is None or not any(read.values()):
        return ledger
    lease = {**ledger["lease"], "open_charges": None,
             "charged": sum(Decimal(str(c["amount"])) for c in read.get("charges", [])),
             "paid": sum(Decimal(str(p["amount"])) for p in read.get("payments", []))}
    ordered = {name: sorted([*ledger.get(name, []), *entries], key=lambda e: (str(e["post_date"]), e["source_id"]))
               for name, entries in read.items()}
    return {**ledger, **ordered, "lease": lease}
