"""Syncs through transient read faults end with the rows of an undisturbed run; a balance never retires on a broken listing
(the jobs with the plain steps: the paging's outcome does not depend on Prefect)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pmsync.jobs import JOBS
from pmsync.platform.database import make_engine
from pmsync.source import SourcePagingBroken
from sandbox.faults import cut_body_fault, ignore_offset_fault, reset_fault, truncated_json_fault
from schemas.tables import lease_charges, sync_runs
from tests.flows.test_interrupted_run import platform_state
initial_sync, lease_balance = JOBS["initial-sync"], JOBS["lease-balance"]
READ_FAULTS = {
    "body cut mid-transfer": cut_body_fault,
    "connection reset": reset_fault,
    "200 with truncated JSON": truncated_json_fault,
}


@pytest.mark.parametrize("fault", list(READ_FAULTS.values()), ids=list(READ_FAULTS))
def test_a_sync_through_read_faults_in_every_listing_ends_like_an_undisturbed_run(
    integration_env, sandbox, platform_engine, tmp_path, monkeypatch, fault
):
    monkeypatch.setenv("PMSYNC_PW_PAGE_SIZE", "20")
    reference_url = f"sqlite:///{tmp_path / 'undisturbed.db'}"
    monkeypatch.setenv("PMSYNC_DATABASE_URL", reference_url)
    initial_sync()
    reference = platform_state(make_engine(reference_url))
    monkeypatch.setenv("PMSYNC_DATABASE_URL", integration_env["PMSYNC_DATABASE_URL"])
    listings = ("/buildings", "/units", "/leases", "/workorders", "/leases/charges", "/leases/payments")
    for path in listings:
        sandbox.store.inject(fault(path, times=2))
    sandbox.store.clear_requests_log()

    initial_sync()

    assert sandbox.store.faults == []
    assert platform_state(platform_engine) == reference
    with platform_engine.connect() as connection:
        run = connection.execute(sa.select(sync_runs).order_by(sync_runs.c.id.desc()).limit(1)).one()
    assert run.status == "succeeded" and run.source_requests == len(sandbox.store.requests_log)


def test_a_balance_does_not_retire_charges_on_a_listing_that_made_no_progress(
    integration_env, sandbox, platform_engine, monkeypatch
):
    store = sandbox.store
    monkeypatch.setenv("PMSYNC_PW_PAGE_SIZE", "2")
    initial_sync()
    with platform_engine.connect() as connection:
        synced = set(connection.execute(sa.select(lease_charges.c.source_id)).scalars())
    per_lease: dict[int, list[int]] = {}
    for charge in store.records("charges"):
        if charge["id"] in synced:
            per_lease.setdefault(charge["leaseID"], []).append(charge["id"])
    lease_id, charge_ids = max(per_lease.items(), key=lambda item: len(item[1]))
    assert len(charge_ids) > 2, "the lease's charges must span more than one page of 2"
    store.inject(ignore_offset_fault("/leases/charges", times=10_000))

    with pytest.raises(SourcePagingBroken, match=r"charges page at offset 1 brought no record not already seen.*leaseID"):
        lease_balance(lease_id=lease_id)

    with platform_engine.connect() as connection:
        inactive = connection.execute(
            sa.select(lease_charges.c.source_id).where(lease_charges.c.active.is_(False))
        ).scalars().all()
        run = connection.execute(sa.select(sync_runs).order_by(sync_runs.c.id.desc()).limit(1)).one()
    assert inactive == []
    assert run.flow == "balance" and run.status == "failed" and "SourcePagingBroken" in run.error
