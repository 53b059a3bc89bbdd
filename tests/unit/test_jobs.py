"""The jobs run directly, with the plain library steps and no Prefect: rows, sync_runs, marks and the lock."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from pmsync.jobs import JOBS
from pmsync.jobs.steps import PLAIN_STEPS
from pmsync.jobs.sync import initial_sync
from pmsync.runs.locks import IntegrationBusy
from pmsync.source import SourceUnavailable
from pmsync.sync import streams
from sandbox.faults import status_fault
from schemas.tables import integration_locks, lease_charges, leases, sync_runs, sync_state, units

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def runs(engine: sa.Engine) -> list:
    with engine.connect() as connection:
        return connection.execute(sa.select(sync_runs).order_by(sync_runs.c.id)).all()


def rows(engine: sa.Engine, table: sa.Table, *where) -> list:
    with engine.connect() as connection:
        return connection.execute(sa.select(table).where(*where)).all()


def test_initial_then_delta_run_directly_load_every_unit_then_only_what_changed(integration_env, sandbox, platform_engine):
    store = sandbox.store

    first = JOBS["initial-sync"]()

    unit_counts = first["counts"]["unit"]
    held = sum(unit_counts[name] for name in ("excluded", "parked", "quarantined"))
    assert unit_counts["created"] == unit_counts["fetched"] - held > store.count("units") // 2
    assert len(rows(platform_engine, units)) == unit_counts["created"]
    (initial,) = runs(platform_engine)
    assert (initial.id, initial.flow, initial.status, initial.error) == (first["run_id"], "initial", "succeeded", None)
    assert initial.source_requests > 0 and initial.window_start is None
    marks = {row.stream: row for row in rows(platform_engine, sync_state)}
    assert set(marks) >= {"buildings", "units", "leases"} and {m.run_id for m in marks.values()} == {initial.id}
    assert rows(platform_engine, integration_locks) == [], "the lock is released"

    on_platform = {lease.source_id for lease in rows(platform_engine, leases)}
    changed = next(lease for lease in store.records("leases") if lease["id"] in on_platform)
    store.update("leases", changed["id"], baseRent=(changed.get("baseRent") or 1000) + 10)
    second = JOBS["delta-sync"](overlap_hours=1.0)

    delta = runs(platform_engine)[-1]
    assert (delta.id, delta.flow, delta.status) == (second["run_id"], "delta", "succeeded")
    assert delta.window_start is not None and second["counts"]["lease"]["updated"] == 1
    assert second["counts"]["unit"]["created"] == second["counts"]["unit"]["updated"] == 0
    (lease,) = rows(platform_engine, leases, leases.c.source_id == changed["id"])
    assert float(lease.base_rent) == (changed.get("baseRent") or 1000) + 10 and lease.last_sync_run_id == delta.id
    assert {row.run_id for row in rows(platform_engine, sync_state)} == {delta.id}
    assert rows(platform_engine, integration_locks) == []


def test_a_batch_is_one_call_of_each_step_never_one_per_record_or_page(integration_env, sandbox, platform_engine, monkeypatch):
    monkeypatch.setenv("PMSYNC_PW_PAGE_SIZE", "5")
    calls: dict[str, int] = {}

    def counted(name):
        step = getattr(PLAIN_STEPS, name)

        def call(*args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            return step(*args, **kwargs)
        return call

    steps = replace(PLAIN_STEPS, **{name: counted(name) for name in ("extract_batch", "validate_pages", "load_pages")})
    initial_sync(steps)

    pages = {s: -(-max(1, sandbox.store.count(s)) // 5) for s in ("buildings", "units")}
    batches = sum(-(-n // streams.PAGES_PER_BATCH) for n in pages.values())
    assert calls["extract_batch"] == calls["validate_pages"] == calls["load_pages"], "no step after a listing's last batch"
    assert batches < calls["load_pages"] < sum(pages.values()) + 7 * 1, "a call per batch of pages, per stream"


def test_a_failed_direct_run_is_recorded_failed_and_releases_the_lock(integration_env, sandbox, platform_engine):
    sandbox.store.inject(status_fault("/units", 503, times=10_000))

    with pytest.raises(SourceUnavailable):
        JOBS["initial-sync"]()

    (run,) = runs(platform_engine)
    assert run.status == "failed" and run.error.startswith("SourceUnavailable: ") and "/units" in run.error
    assert run.finished_at is not None and rows(platform_engine, integration_locks) == []


def test_a_direct_run_waits_for_the_lock_and_names_its_holder(integration_env, sandbox, platform_engine, monkeypatch,
                                                              caplog):
    monkeypatch.setenv("PMSYNC_LOCK_WAIT_MINUTES", "0.02")
    JOBS["initial-sync"]()
    now = datetime.now(timezone.utc)
    with platform_engine.begin() as connection:
        connection.execute(integration_locks.insert().values(
            integration_name="default", holder="other-host:1 flow run z", flow="delta",
            acquired_at=now, expires_at=now + timedelta(minutes=15),
        ))

    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="pmsync"), \
            pytest.raises(IntegrationBusy, match=r"still being synced by other-host:1 flow run z \(delta sync"):
        JOBS["delta-sync"]()
    waited = time.monotonic() - started

    assert waited >= 0.02 * 60, f"gave up after {waited:.2f} s, before its 1.2 s wait"
    waiting = [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting:")]
    assert waiting == ["waiting: integration 'default' is being synced by other-host:1 flow run z (delta sync, since "
                       f"{now:%Y-%m-%d %H:%M:%S} UTC)"], caplog.text

    assert [run.flow for run in runs(platform_engine)] == ["initial"], "no run row before the lock is held"
    assert rows(platform_engine, integration_locks)[0].holder == "other-host:1 flow run z"


def test_balance_run_directly_reads_one_lease_and_holds_no_lock(integration_env, sandbox, platform_engine):
    store = sandbox.store
    JOBS["initial-sync"]()
    lease = next(lease for lease in store.records("leases")
                 if any(c["leaseID"] == lease["id"] for c in store.records("charges")))
    store.update("leases", lease["id"], leaseBalance=1234.5)

    result = JOBS["lease-balance"](lease_id=lease["id"])

    balance_run = runs(platform_engine)[-1]
    assert (balance_run.id, balance_run.flow, balance_run.status) == (result["run_id"], "balance", "succeeded")
    assert float(result["ledger"]["lease"]["balance"]) == 1234.5
    (row,) = rows(platform_engine, leases, leases.c.source_id == lease["id"])
    assert float(row.balance) == 1234.5
    charges = rows(platform_engine, lease_charges, lease_charges.c.lease_id == row.id)
    assert {c["id"] for c in store.records("charges") if c["leaseID"] == lease["id"]} == {c.source_id for c in charges}
    assert {r.run_id for r in rows(platform_engine, sync_state)} == {runs(platform_engine)[0].id}, "no mark moved"


def test_a_dry_run_reconciliation_run_directly_lists_the_gone_units_and_writes_nothing(integration_env, sandbox, platform_engine):
    store = sandbox.store
    JOBS["initial-sync"]()
    gone = sorted(u["id"] for u in store.records("units"))[:2]
    for unit_id in gone:
        store.delete("units", unit_id)

    preview = JOBS["property-reconciliation"](dry_run=True)

    assert preview["dry_run"] is True and sorted(r["unit id"] for r in preview["deactivated_units"]) == gone
    assert [run.flow for run in runs(platform_engine)] == ["initial"]
    assert all(u.active for u in rows(platform_engine, units, units.c.source_id.in_(gone)))


def test_every_job_takes_exactly_its_flows_parameters():
    import inspect

    flows = {
        "initial-sync": "flows.initial_sync:initial_sync", "delta-sync": "flows.delta_sync:delta_sync",
        "delta-batch": "flows.delta_batch:delta_batch",
        "lease-sync": "flows.lease_sync:lease_sync", "lease-balance": "flows.lease_balance:lease_balance",
        "property-reconciliation": "flows.reconciliation:reconcile", "work-order-push": "flows.work_order_push:work_order_push",
        "csv-import": "flows.csv_import:csv_import", "csv-import-operator-file": "flows.csv_import:csv_import_operator_file",
    }
    assert set(JOBS) == set(flows)
    for name, where in flows.items():
        module, function = where.split(":")
        flow = getattr(__import__(module, fromlist=[function]), function)
        assert str(inspect.signature(JOBS[name])) == str(inspect.signature(flow.fn)), name


def test_a_direct_run_imports_no_prefect(integration_env, sandbox, platform_engine):
    script = (
        "import sys; from pmsync.jobs import JOBS; result = JOBS['lease-sync'](); "
        "print(result['run_id'], 'prefect' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(runs(platform_engine)[-1].id), "False"]
