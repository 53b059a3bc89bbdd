"""Initial sync against the sandbox over HTTP, on SQLite and PostgreSQL: the job with the plain steps (the rules and
their outcomes do not depend on Prefect; the flow runs in the flow tests)."""

from __future__ import annotations

import logging
import re
import time

import pytest
import sqlalchemy as sa

from pmsync.jobs import JOBS
from pmsync.source import SourceAuthError, SourceUnavailable
from sandbox import SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER, SandboxServer
from sandbox.store import SandboxStore
from sandbox.faults import status_fault, truncated_json_fault, wrong_type_fault
from schemas.tables import (
    lease_charges,
    lease_payments,
    leases,
    properties,
    quarantine,
    residents,
    sync_runs,
    units,
    work_orders,
)

initial_sync = JOBS["initial-sync"]
RESIDENT_ROLES = {"tenant", "occupant"}
WELL_FORMED = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


def expected_counts(store, integration_user: str) -> dict[str, dict[str, int]]:
    """What an initial sync must do, worked out from the source's raw data and the spec's rules alone."""
    buildings = {b["id"] for b in store.records("buildings") if b["active"]}
    active_units = {u["id"] for u in store.records("units") if u["active"]}
    unit_ok = {u for u in active_units if _building_of(store, u) in buildings}
    all_leases = store.records("leases")
    lease_ok = {lease["id"] for lease in all_leases if lease["unitID"] in unit_ok}
    contacts: dict[int, tuple[dict, dict]] = {}
    for lease in all_leases:
        for contact in lease.get("contacts") or []:
            contacts[contact["id"]] = (contact, lease)
    bad_email = {cid for cid, (contact, _) in contacts.items() if contact.get("email") and not WELL_FORMED.fullmatch(contact["email"])}
    included = {
        cid: lease
        for cid, (contact, lease) in contacts.items()
        if cid not in bad_email and (contact.get("role") or "").strip().lower() in RESIDENT_ROLES and lease["active"] is True
    }
    orders = store.records("workorders")
    mine = [w for w in orders if (w.get("managedBy") or "").strip().lower() == integration_user.lower()]
    ledger = {entity: store.records(entity) for entity in ("charges", "payments")}
    return {
        "property": _counts(len(buildings), created=len(buildings)),
        "unit": _counts(len(active_units), created=len(unit_ok), parked=len(active_units - unit_ok)),
        "lease": _counts(len(all_leases), created=len(lease_ok), parked=len(all_leases) - len(lease_ok)),
        "resident": _counts(
            len(contacts),
            created=sum(lease["id"] in lease_ok for lease in included.values()),
            excluded=len(contacts) - len(included) - len(bad_email),
            parked=sum(lease["id"] not in lease_ok for lease in included.values()),
            quarantined=len(bad_email),
        ),
        "work_order": _counts(
            len(orders),
            created=sum(w["buildingID"] in buildings for w in mine),
            excluded=len(orders) - len(mine),
            parked=sum(w["buildingID"] not in buildings for w in mine),
        ),
        **{
            entity: _counts(
                len(ledger[stream]),
                created=sum(entry["leaseID"] in lease_ok for entry in ledger[stream]),
                parked=sum(entry["leaseID"] not in lease_ok for entry in ledger[stream]),
            )
            for entity, stream in (("charge", "charges"), ("payment", "payments"))
        },
    }


def _building_of(store, unit_id: int) -> int:
    return store.get("units", unit_id)["buildingID"]


def _counts(fetched: int, created: int = 0, excluded: int = 0, parked: int = 0, quarantined: int = 0) -> dict[str, int]:
    return {
        "fetched": fetched, "created": created, "updated": 0, "unchanged": 0,
        "excluded": excluded, "parked": parked, "quarantined": quarantined,
    }


def table_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (properties, units, leases, residents, work_orders, lease_charges, lease_payments)
        }


def last_run(engine: sa.Engine):
    with engine.connect() as connection:
        return connection.execute(sa.select(sync_runs).order_by(sync_runs.c.id.desc()).limit(1)).one()


def test_initial_sync_applies_the_rules_and_is_idempotent(integration_env, sandbox, platform_engine):
    expected = expected_counts(sandbox.store, SANDBOX_INTEGRATION_USER)
    assert expected["resident"]["excluded"] > 0 and expected["work_order"]["excluded"] > 0
    assert expected["resident"]["quarantined"] > 0

    first = initial_sync()

    assert first["counts"] == expected
    rows = table_counts(platform_engine)
    assert rows == {
        "properties": expected["property"]["created"],
        "units": expected["unit"]["created"],
        "leases": expected["lease"]["created"],
        "residents": expected["resident"]["created"],
        "work_orders": expected["work_order"]["created"],
        "lease_charges": expected["charge"]["created"],
        "lease_payments": expected["payment"]["created"],
    }

    second = initial_sync()

    for entity, numbers in second["counts"].items():
        assert numbers["created"] == 0 and numbers["updated"] == 0, entity
        assert numbers["unchanged"] == expected[entity]["created"], entity
    assert table_counts(platform_engine) == rows


def test_work_orders_link_to_manager_property_unit_and_resident(integration_env, sandbox, platform_engine):
    initial_sync()
    store = sandbox.store
    with platform_engine.connect() as connection:
        linked = connection.execute(
            sa.select(
                work_orders.c.source_id,
                work_orders.c.assigned_manager_email,
                properties.c.source_id.label("building"),
                units.c.source_id.label("unit"),
                residents.c.source_id.label("resident"),
            )
            .join(properties, properties.c.id == work_orders.c.property_id)
            .outerjoin(units, units.c.id == work_orders.c.unit_id)
            .outerjoin(residents, residents.c.id == work_orders.c.resident_id)
        ).all()
    assert linked
    with_resident = 0
    for row in linked:
        order = store.get("workorders", row.source_id)
        building = store.get("buildings", order["buildingID"])
        assert row.building == order["buildingID"]
        assert row.assigned_manager_email == building["propertyManagerList"][0]["email"]
        assert row.unit == order.get("unitID")
        lease = next(
            (l for l in store.records("leases") if l["unitID"] == order.get("unitID") and l["leaseName"] == order.get("lease")),
            None,
        )
        primary = next((c for c in (lease or {}).get("contacts") or [] if c.get("primary")), None)
        resident_ok = primary and lease["active"] and WELL_FORMED.fullmatch(primary.get("email") or "a@b.cd")
        assert row.resident == (primary["id"] if resident_ok else None)
        with_resident += row.resident is not None
    assert with_resident > 0


def test_a_contact_without_email_becomes_a_resident_without_email(integration_env, sandbox, platform_engine):
    lease = next(l for l in sandbox.store.records("leases") if l["active"] and l["unitID"] and _unit_active(sandbox, l))
    contact = next(c for c in lease["contacts"] if c["role"] == "Tenant")
    contact["email"] = None
    sandbox.store.update("leases", lease["id"], contacts=lease["contacts"])

    initial_sync()

    with platform_engine.connect() as connection:
        row = connection.execute(sa.select(residents).where(residents.c.source_id == contact["id"])).one()
    assert row.email is None and row.first_name == contact["firstName"]


def _unit_active(sandbox, lease) -> bool:
    unit = sandbox.store.get("units", lease["unitID"])
    return bool(unit and unit["active"] and sandbox.store.get("buildings", unit["buildingID"])["active"])


def test_rate_limit_then_success(integration_env, sandbox, platform_engine):
    sandbox.store.inject(status_fault("/units", 429, times=1, retry_after=1))
    result = initial_sync()
    assert result["counts"]["unit"]["created"] == table_counts(platform_engine)["units"] > 0


def test_server_error_storm_fails_clearly_and_a_rerun_completes(integration_env, sandbox, platform_engine, monkeypatch):
    monkeypatch.setenv("PMSYNC_PW_MAX_ATTEMPTS", "2")
    sandbox.store.inject(status_fault("/leases", 500, times=10))

    with pytest.raises(SourceUnavailable, match=r"after 2 attempts.*GET /leases\?"):
        initial_sync()

    failed = last_run(platform_engine)
    assert failed.status == "failed" and "/leases" in failed.error
    assert table_counts(platform_engine)["leases"] == 0
    sandbox.store.clear_faults()

    initial_sync()

    assert last_run(platform_engine).status == "succeeded"
    assert table_counts(platform_engine) == _clean_run_counts(sandbox)


def _clean_run_counts(sandbox) -> dict[str, int]:
    expected = expected_counts(sandbox.store, SANDBOX_INTEGRATION_USER)
    names = {"property": "properties", "unit": "units", "lease": "leases", "resident": "residents", "work_order": "work_orders",
             "charge": "lease_charges", "payment": "lease_payments"}
    return {names[entity]: numbers["created"] for entity, numbers in expected.items()}


def test_wrong_credentials_fail_with_401_and_never_show_the_secret(
    integration_env, sandbox, platform_engine, monkeypatch, caplog, capfd
):
    monkeypatch.setenv("PMSYNC_PW_CLIENT_SECRET", "wrong-secret-value-xyz")
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceAuthError) as refused:
        initial_sync()
    message = str(refused.value)
    assert "401" in message and "GET /buildings" in message
    captured = capfd.readouterr()
    for text in (message, caplog.text, captured.out, captured.err, last_run(platform_engine).error):
        assert "wrong-secret-value-xyz" not in text
        assert SANDBOX_CLIENT_SECRET not in text


def test_json_truncated_on_every_attempt_fails_naming_the_request_and_writes_no_part_of_it(integration_env, sandbox, platform_engine):
    sandbox.store.inject(truncated_json_fault("/units", times=10))
    with pytest.raises(SourceUnavailable, match=r"after 3 attempts \(last: HTTP 200 with a body that is not valid JSON.*GET /units"):
        initial_sync()
    assert table_counts(platform_engine)["units"] == 0


def test_a_wrong_typed_field_quarantines_its_record_by_id_and_field_and_the_rest_loads(integration_env, sandbox, platform_engine):
    first_unit = sandbox.store.records("units")[0]["id"]
    sandbox.store.inject(wrong_type_fault("/units", record_index=0, field="buildingID", value="not-a-number"))
    result = initial_sync()
    with platform_engine.connect() as connection:
        held = connection.execute(sa.select(quarantine.c.source_id, quarantine.c.expectations)).all()
    assert (str(first_unit), ["spec(buildingID): Input should be a valid integer"]) in held
    assert result["counts"]["unit"]["quarantined"] == 1 and table_counts(platform_engine)["units"] > 0


def test_logs_carry_ids_and_counts_not_personal_data(integration_env, sandbox, platform_engine, caplog, capfd):
    with caplog.at_level(logging.DEBUG):
        initial_sync()
    captured = capfd.readouterr()
    text = "\n".join([caplog.text, captured.out, captured.err])
    assert "units: records 1–" in text
    personal = set()
    for lease in sandbox.store.records("leases"):
        for contact in lease.get("contacts") or []:
            personal |= {contact.get(k) for k in ("email", "mobilePhone", "homePhone", "workPhone")}
            personal.add(f"{contact.get('firstName')} {contact.get('lastName')}")
    personal.discard(None)
    leaked = sorted(value for value in personal if value and value in text)
    assert leaked == []
    assert SANDBOX_CLIENT_SECRET not in text


def test_initial_sync_of_a_10000_unit_portfolio(monkeypatch, platform_url, integration_env, report_measurement):
    """Without charges and payments, to keep the suite short: `pmsync bench` measures the whole sync at scale."""
    with SandboxServer(store=SandboxStore(units=10_000, seed=11, ledger=False)) as big:
        expected = expected_counts(big.store, SANDBOX_INTEGRATION_USER)
        monkeypatch.setenv("PMSYNC_PW_BASE_URL", big.base_url)
        started = time.perf_counter()
        result = initial_sync()
        took = time.perf_counter() - started
    report_measurement(f"initial sync of 10,000 units on {platform_url.split(':')[0]}: {took:.1f} s")
    assert result["counts"] == expected


def test_page_log_lines_name_each_page_by_the_records_it_read(integration_env, sandbox, platform_engine, caplog, monkeypatch):
    monkeypatch.setenv("PMSYNC_PW_PAGE_SIZE", "7")
    with caplog.at_level(logging.INFO, logger="pmsync"):
        initial_sync()
    spans = [re.search(r"units: records (\d+)–(\d+) of (\d+) ", record.getMessage()) for record in caplog.records]
    read = [(int(found[1]), int(found[2]), int(found[3])) for found in spans if found]
    total = read[0][2]
    assert len(read) > 2 and read[0][0] == 1 and read[-1][1] == total and {t for _, _, t in read} == {total}
    assert all(later[0] == earlier[1] for earlier, later in zip(read, read[1:])), "each page re-reads the last record"
