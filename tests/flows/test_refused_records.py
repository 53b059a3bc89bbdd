"""One bad record never stops an integration: a record its model refuses (an id or a reference beyond int64, a wrong
type, money NUMERIC(14,2) cannot hold) is quarantined by id, field and reason while the rest loads, on SQLite and
PostgreSQL; too many refused stop the run before writing, and no driver's error text reaches a run. The jobs with the
plain steps."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pmsync.sync.explain import explain
from pmsync.integrations.integration import integration_from_environment
from pmsync.jobs import JOBS
from pmsync.sync.quality import open_items
from pmsync.sync.gate import DataQualityError
from schemas.tables import leases, quarantine, residents, units
from tests.flows.test_bad_totals import DRIVER_WORDS
from tests.flows.test_cli import run_pmsync
from tests.flows.test_delta_sync import one, synced_lease_with_resident
from tests.flows.test_initial_sync import last_run
from tests.flows.test_quality import one_unit_active, open_quarantine

initial_sync, delta_sync = JOBS["initial-sync"], JOBS["delta-sync"]
BEYOND_INT64 = 2**64
INT64_RULE = "beyond int64, the spec's integer format (a BIGINT)"


def unit_count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(units)).scalar_one()


def stored_record(engine: sa.Engine, entity: str, key: str) -> dict:
    with engine.connect() as connection:
        return connection.execute(
            sa.select(quarantine.c.record).where(quarantine.c.entity == entity, quarantine.c.source_id == key)
        ).scalar_one()


def test_a_unit_beyond_int64_a_wrong_type_and_a_reference_beyond_int64_are_quarantined_and_the_rest_loads(
    integration_env, sandbox, platform_engine
):
    store = sandbox.store
    active = [u for u in store.records("units") if u["active"]]
    wrong_type, far_parent, building = active[3]["id"], active[7]["id"], active[0]["buildingID"]
    store.add("units", {**active[0], "id": BEYOND_INT64, "name": "Unit beyond int64"})
    store.update("units", wrong_type, buildingID="B-12")
    store.update("units", far_parent, buildingID=BEYOND_INT64)

    result = initial_sync()

    run = last_run(platform_engine)
    assert (run.status, run.error) == ("succeeded", None)
    held = open_quarantine(platform_engine)
    assert held[("unit", str(BEYOND_INT64))] == [f"spec(id): {INT64_RULE}"]
    assert held[("unit", str(wrong_type))] == ["spec(buildingID): Input should be a valid integer"]
    assert held[("unit", str(far_parent))] == [f"spec(buildingID): {INT64_RULE}"]
    assert stored_record(platform_engine, "unit", str(BEYOND_INT64))["id"] == BEYOND_INT64
    assert result["counts"]["unit"]["quarantined"] == 3
    loadable = [u["id"] for u in active if store.get("buildings", u["buildingID"])["active"]]
    assert unit_count(platform_engine) == len(set(loadable) - {wrong_type, far_parent})
    assert one(platform_engine, units, wrong_type) is None and one(platform_engine, units, active[1]["id"]) is not None
    _, items = open_items(platform_engine)
    assert {("unit", str(BEYOND_INT64)), ("unit", str(wrong_type))} <= {(i["entity"], i["source_id"]) for i in items}
    why = explain(platform_engine, integration_from_environment(), "unit", str(BEYOND_INT64), None)
    assert any("is quarantined since" in line and INT64_RULE in line for line in why)
    explained = run_pmsync("explain", "unit", str(BEYOND_INT64), "--no-source", env=integration_env)
    assert explained.returncode == 0 and INT64_RULE in explained.stdout, explained.stderr[-2000:]

    store.update("units", wrong_type, buildingID=building)
    store.update("units", far_parent, buildingID=building)
    delta_sync()

    run = last_run(platform_engine)
    assert (run.status, run.error) == ("succeeded", None), "the record beyond int64 is still there; runs go on"
    assert set(open_quarantine(platform_engine)) & {("unit", str(u)) for u in (wrong_type, far_parent)} == set()
    assert ("unit", str(BEYOND_INT64)) in open_quarantine(platform_engine)
    assert one(platform_engine, units, wrong_type) is not None and one(platform_engine, units, far_parent) is not None


def test_a_lease_whose_contact_id_or_rent_no_column_holds_is_quarantined_and_the_other_leases_load(
    integration_env, sandbox, platform_engine
):
    store = sandbox.store
    lease, tenant = synced_lease_with_resident(store)
    others = [l for l in store.records("leases") if l["id"] != lease["id"] and l["active"]]
    pricey = others[0]
    odd = next(l for l in others[1:] if one_unit_active(sandbox, l))
    contacts = [{**c, "id": BEYOND_INT64} if c["id"] == tenant["id"] else c for c in lease["contacts"]]
    store.update("leases", lease["id"], contacts=contacts)
    store.update("leases", pricey["id"], baseRent=1e15)
    store.update("leases", odd["id"], arBalance=float("nan"), status=float("inf"))

    initial_sync()

    assert last_run(platform_engine).status == "succeeded"
    held = open_quarantine(platform_engine)
    index = next(n for n, c in enumerate(contacts) if c["id"] == BEYOND_INT64)
    assert held[("lease", str(lease["id"]))] == [f"spec(contacts.{index}.id): {INT64_RULE}"]
    assert held[("lease", str(pricey["id"]))] == [
        "spec(baseRent): beyond ±999,999,999,999.99, what the platform's NUMERIC(14,2) holds"
    ]
    assert one(platform_engine, leases, lease["id"]) is None and one(platform_engine, leases, pricey["id"]) is None
    assert one(platform_engine, residents, tenant["id"]) is None
    assert held.get(("lease", str(odd["id"]))) == ["spec(status): Input should be a valid string"]
    store.update("leases", odd["id"], status="Active")
    initial_sync()
    kept = one(platform_engine, leases, odd["id"]).source_data
    assert kept["arBalance"] == "NaN", "a NaN where no model looks is kept as text (JSONB has no NaN)"
    eligible = [l["id"] for l in others[1:] if one_unit_active(sandbox, l) and l["id"] != odd["id"]]
    assert eligible and all(one(platform_engine, leases, i) is not None or ("lease", str(i)) in held for i in eligible)
    assert not any(label.startswith("spec(") for i in eligible for label in held.get(("lease", str(i)), []))


def test_a_page_with_more_refused_records_than_the_share_allows_stops_the_run_before_writing_it(
    integration_env, sandbox, platform_engine
):
    store = sandbox.store
    active = [u for u in store.records("units") if u["active"]]
    for unit in active[:5]:
        store.update("units", unit["id"], buildingID="B-12")
    for unit in active[5:10]:
        store.update("units", unit["id"], buildingID=BEYOND_INT64)
    for offset in range(3):
        store.add("units", {**active[20], "id": BEYOND_INT64 + offset})

    with pytest.raises(DataQualityError, match=r"^unit: 13 of 60 records \(22%\) failed data-quality checks.*spec\("):
        initial_sync()

    assert unit_count(platform_engine) == 0
    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar_one() == 0
    error = last_run(platform_engine).error
    assert error.startswith("DataQualityError: unit: 13 of 60 records") and not any(w in error for w in DRIVER_WORDS)
