"""The data-quality gate: bad records quarantined by name, the rest loads, fixes release them, bad pages stop (the jobs
with the plain steps; the flows where a run's Prefect artifact is checked)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId

from flows.initial_sync import initial_sync as initial_sync_flow
from flows.lease_balance import lease_balance as lease_balance_flow
from pmsync.sync.explain import explain
from pmsync.integrations.integration import integration_from_environment
from pmsync.jobs import JOBS
from sandbox import SANDBOX_INTEGRATION_USER
from sandbox.faults import wrong_type_fault
from schemas.tables import leases, quarantine, residents, units, work_orders
from pmsync.sync.gate import DataQualityError
from tests.flows.test_cli import run_pmsync
from tests.flows.test_delta_sync import one, synced_lease_with_resident

initial_sync, delta_sync = JOBS["initial-sync"], JOBS["delta-sync"]
EXPECTATIONS = Path(__file__).resolve().parents[2] / "expectations"


def open_quarantine(engine: sa.Engine) -> dict[tuple[str, str], list[str]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(quarantine).where(quarantine.c.status == "open"))
        return {(row.entity, row.source_id): row.expectations for row in rows}


def test_bad_records_are_quarantined_by_expectation_the_rest_loads_and_fixes_release_them(
    integration_env, sandbox, platform_engine
):
    store = sandbox.store
    lease, tenant = synced_lease_with_resident(store)
    bad_contacts = [{**c, "email": "mail@@x"} if c["id"] == tenant["id"] else c for c in lease["contacts"]]
    store.update("leases", lease["id"], contacts=bad_contacts)
    backwards = next(l for l in store.records("leases") if l["active"] and l["id"] != lease["id"])
    store.update("leases", backwards["id"], startDate="2025-06-01", endDate="2024-06-01")
    unit_ids = [u["id"] for u in store.records("units") if u["active"]]
    orphan, first, twin = unit_ids[5], unit_ids[0], unit_ids[1]
    store.update("units", orphan, buildingID=None)
    store.inject(wrong_type_fault("/units", record_index=1, field="id", value=first))

    result = initial_sync()

    held = open_quarantine(platform_engine)
    assert held[("resident", str(tenant["id"]))] == ["expect_column_values_to_match_regex(email)"]
    assert held[("lease", str(backwards["id"]))] == ["expect_column_pair_values_a_to_be_greater_than_b(end_date,start_date)"]
    assert held[("unit", str(orphan))] == ["expect_column_values_to_not_be_null(property_source_id)"]
    assert held[("unit", str(first))] == ["expect_column_values_to_be_unique(source_id)"]
    assert one(platform_engine, residents, tenant["id"]) is None and one(platform_engine, leases, backwards["id"]) is None
    assert one(platform_engine, units, unit_ids[2]) is not None and one(platform_engine, leases, lease["id"]) is not None
    assert result["counts"]["unit"]["quarantined"] == 3
    why = explain(platform_engine, integration_from_environment(), "resident", tenant["id"], None)
    assert any("is quarantined since" in line and "match_regex(email)" in line for line in why)
    listed = run_pmsync("quality", env=integration_env)
    assert listed.returncode == 0 and "expect_column_values_to_be_unique(source_id)" in listed.stdout

    fixed = [{**c, "email": "tenant@example.com"} if c["id"] == tenant["id"] else c for c in lease["contacts"]]
    store.update("leases", lease["id"], contacts=fixed)
    store.update("leases", backwards["id"], startDate="2024-06-01", endDate="2025-06-01")
    store.update("units", orphan, buildingID=store.get("units", first)["buildingID"])
    for touched in (first, twin):
        store.update("units", touched, name=f"Unit {touched} (checked)")

    delta_sync()

    still_open = open_quarantine(platform_engine)
    injected = [("resident", tenant["id"]), ("lease", backwards["id"]), ("unit", orphan), ("unit", first)]
    assert [key for key in injected if (key[0], str(key[1])) in still_open] == []
    with platform_engine.connect() as connection:
        released = connection.execute(sa.select(sa.func.count()).where(quarantine.c.status == "released")).scalar_one()
    assert released == len(injected)
    assert one(platform_engine, residents, tenant["id"]).email == "tenant@example.com"
    assert all(one(platform_engine, units, u) is not None for u in (orphan, first, twin))
    assert one(platform_engine, leases, backwards["id"]) is not None


def test_a_page_with_half_its_rows_broken_stops_the_run_before_writing_it(integration_env, sandbox, platform_engine):
    store = sandbox.store
    active = [u["id"] for u in store.records("units") if u["active"]]
    for unit_id in active[::2]:
        store.update("units", unit_id, buildingID=None)

    with pytest.raises(DataQualityError, match=r"^unit: \d+ of \d+ records \(5\d%\) failed data-quality checks.*not_be_null\(property_source_id\)"):
        initial_sync()

    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(units)).scalar_one() == 0
        assert connection.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar_one() == 0


def test_loosening_a_suite_file_changes_behaviour_without_code_changes(integration_env, sandbox, platform_engine, tmp_path, monkeypatch):
    suites = tmp_path / "expectations"
    shutil.copytree(EXPECTATIONS, suites)
    lease_suite = json.loads((suites / "lease.json").read_text())
    lease_suite["expectations"] = [
        e for e in lease_suite["expectations"] if e["kwargs"].get("column_A") != "end_date"
    ]
    (suites / "lease.json").write_text(json.dumps(lease_suite))
    monkeypatch.setenv("PMSYNC_EXPECTATIONS_DIR", str(suites))
    backwards = next(l for l in sandbox.store.records("leases") if l["active"] and one_unit_active(sandbox, l))
    sandbox.store.update("leases", backwards["id"], startDate="2025-06-01", endDate="2024-06-01")

    initial_sync()

    assert one(platform_engine, leases, backwards["id"]) is not None
    assert open_quarantine(platform_engine).get(("lease", str(backwards["id"]))) is None


def one_unit_active(sandbox, lease) -> bool:
    unit = sandbox.store.get("units", lease["unitID"])
    return bool(unit and unit["active"] and sandbox.store.get("buildings", unit["buildingID"])["active"])


def test_a_misspelt_expectation_in_a_suite_stops_the_run_with_the_file_named(integration_env, tmp_path, monkeypatch):
    suites = tmp_path / "expectations"
    shutil.copytree(EXPECTATIONS, suites)
    unit_suite = json.loads((suites / "unit.json").read_text())
    unit_suite["expectations"].append({"type": "expect_column_values_to_be_betwen", "kwargs": {"column": "source_id"}})
    (suites / "unit.json").write_text(json.dumps(unit_suite))
    monkeypatch.setenv("PMSYNC_EXPECTATIONS_DIR", str(suites))

    with pytest.raises(DataQualityError, match=r"unit\.json: only \d+ of \d+ expectations are valid"):
        initial_sync()


@pytest.mark.flow
def test_each_run_publishes_pass_fail_counts_and_top_failures_without_progress_bars(integration_env, sandbox, capfd):
    state = initial_sync_flow(return_state=True)
    result = state.result()

    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["initial-sync-default"])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])),
        )
    rows = {row["entity"]: row for row in json.loads(artifact.data)}
    resident = rows["resident"]
    assert resident["quarantined"] == result["counts"]["resident"]["quarantined"] > 0
    assert resident["passed quality"] == resident["fetched"] - resident["quarantined"]
    assert "expect_column_values_to_match_regex(email)" in resident["top failing expectations"]
    assert f"run {result['run_id']}" in artifact.description and "window the beginning → " in artifact.description
    output = capfd.readouterr()
    assert "Calculating Metrics" not in output.out + output.err


def test_custom_statuses_long_values_and_odd_text_load_without_quarantine(integration_env, sandbox, platform_engine):
    store = sandbox.store
    lease, tenant = synced_lease_with_resident(store)
    custom = "Active - Month-to-Month (holdover, see ledger note) " * 10
    contacts = [{**c, "firstName": "Zoë\x00", "role": "TENANT"} if c["id"] == tenant["id"] else c for c in lease["contacts"]]
    store.update("leases", lease["id"], leaseName="Null\x00Byte, Ann", status=custom, contacts=contacts,
                 comments="half an emoji \ud83d cut by the source")
    order = next(o for o in store.records("workorders") if len(o["category"]) >= 500)
    unit = next(u for u in store.records("units") if u["id"] == lease["unitID"])
    store.update("workorders", order["id"], managedBy=SANDBOX_INTEGRATION_USER, buildingID=unit["buildingID"],
                 unitID=unit["id"], status="Waiting on vendor (parts ordered)", type="warranty claim")
    long_status = max((l for l in store.records("leases") if l["active"] and one_unit_active(sandbox, l)),
                      key=lambda l: len(l["status"]) if l["id"] != lease["id"] else 0)
    assert len(long_status["status"]) >= 500

    result = initial_sync()

    labels = {label for labels in open_quarantine(platform_engine).values() for label in labels}
    assert labels == {"expect_column_values_to_match_regex(email)"}
    assert result["counts"]["lease"]["quarantined"] == 0 and result["counts"]["work_order"]["quarantined"] == 0
    loaded = one(platform_engine, leases, lease["id"])
    assert (loaded.name, loaded.status) == ("NullByte, Ann", custom)
    assert loaded.source_data["comments"] == "half an emoji \ufffd cut by the source"
    assert one(platform_engine, residents, tenant["id"]).first_name == "Zoë"
    assert one(platform_engine, leases, long_status["id"]).status == long_status["status"]
    synced_order = one(platform_engine, work_orders, order["id"])
    assert synced_order.category == order["category"] and synced_order.status == "Waiting on vendor (parts ordered)"


@pytest.mark.flow
def test_a_fast_source_clock_only_warns_the_record_loads_is_reported_and_the_warning_clears(
    integration_env, sandbox, platform_engine
):
    store = sandbox.store
    initial_sync()
    lease, _ = synced_lease_with_resident(store)
    store.update("leases", lease["id"], at=datetime.now(timezone.utc) + timedelta(hours=1), leaseName="Ahead, Clock")

    state = lease_balance_flow(lease_id=lease["id"], return_state=True)
    result = state.result()

    assert one(platform_engine, leases, lease["id"]).name == "Ahead, Clock"
    assert result["counts"]["lease"]["quarantined"] == 0
    with platform_engine.connect() as connection:
        held = connection.execute(
            sa.select(quarantine).where(quarantine.c.entity == "lease", quarantine.c.source_id == str(lease["id"]))
        ).one()
    assert held.status == "warning" and held.expectations == ["expect_column_values_to_be_between(modified_seconds_ahead)"]
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["balance-sync-default"])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])),
        )
    row = {row["entity"]: row for row in json.loads(artifact.data)}["lease"]
    assert row["loaded with a warning"] == 1 and "modified_seconds_ahead" in row["top warnings"]
    listed = run_pmsync("quality", env=integration_env)
    assert listed.returncode == 0
    assert f"lease {lease['id']} loaded with a warning" in listed.stdout and "warning" in listed.stdout
    why = explain(platform_engine, integration_from_environment(), "lease", lease["id"], None)
    assert any("loaded with a warning" in line and "modified_seconds_ahead" in line for line in why)

    store.update("leases", lease["id"], at=datetime.now(timezone.utc) - timedelta(minutes=1))
    lease_balance_flow(lease_id=lease["id"])

    with platform_engine.connect() as connection:
        status = connection.execute(
            sa.select(quarantine.c.status).where(quarantine.c.entity == "lease", quarantine.c.source_id == str(lease["id"]))
        ).scalar_one()
    assert status == "released"
