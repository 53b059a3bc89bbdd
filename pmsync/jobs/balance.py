"""The balance job: one lease, its charges and its payments read from the source now and applied like sync pages."""

from __future__ import annotations

from pmsync.integrations.integration import resolve_integration
from pmsync.jobs.steps import Steps
from pmsync.sync.lease_balance import balance_entities, ledger_read, with_ledger_read
from pmsync.runs.parameters import IntegrationName, LeaseId, checked_parameters
from pmsync.settings import PlatformSettings
from pmsync.source.paging import PageCursor
from pmsync.sync.scope import run_scope


@checked_parameters
def lease_balance(steps: Steps, lease_id: LeaseId, integration: IntegrationName | None = None) -> dict:
    """The lease read by id, then its ledger (the rule table's `lease_ledger`: Propertyware's charges and payments,
    Buildium's transactions added up into its balance), listings scoped to the lease, through the quality gate and the
    sync rules; the run's counts and the lease's ledger as now on the platform.

    It holds no lock: it writes one lease's rows in seconds (see pmsync.sync.scope.RUN_KINDS)."""
    account = resolve_integration(integration)
    rules = account.rules
    leases = rules.stream("leases")
    ledger = [rules.stream(name) for name in rules.lease_ledger]
    entities = balance_entities(leases, ledger)
    with run_scope(account, PlatformSettings(), "balance", entities=entities, flow_run_id=steps.flow_run_id,
                   publish=steps.publish_run_summary) as session:
        gate = steps.open_quality_gate(session, entities)
        page = steps.fetch_lease(session.source, leases, lease_id)
        steps.load_lease_page(session, leases, steps.validate_pages(session, gate, leases, [page])[0])
        read: dict[str, list] = {}
        for stream in ledger:
            listed: list[int] = []
            cursor: PageCursor | None = PageCursor()
            while cursor is not None:
                page = steps.extract_page(session.source, stream, cursor, None, {"lease": lease_id})
                steps.load_lease_page(session, stream, steps.validate_pages(session, gate, stream, [page])[0])
                listed += page.listed_ids()
                for name, entries in ledger_read(page).items():
                    read.setdefault(name, []).extend(entries)
                cursor = page.next_cursor
            if rules.rules[stream.entities[0]].sets_columns_of is None:  # its records are rows: retire the gone
                steps.retire_missing_entries(session, stream, lease_id, listed, page.complete)
    try:
        return {**session.summary.result(),
                "ledger": with_ledger_read(steps.read_lease_ledger(session, lease_id), read)}
    finally:
        session.engine.dispose()
