"""apply_page and drop_unchanged without Prefect: hashes mean "applied cleanly", unchanged records write nothing."""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from pmsync.integrations.integration import Integration
from pmsync.runs.locks import acquire, release
from pmsync.platform.settings import PlatformSettings
from pmsync.runs.bookkeeping import ensure_integration, run_counts, start_run, utc_now
from pmsync.source import SourcePage
from pmsync.sync.apply import apply_page
from pmsync.sync.changes import SKIPPED_COUNTS, drop_unchanged, hash_salt, payload_hash
from pmsync.sync.gate import CheckedPage, QualityFailure
from pmsync.sync.scope import SyncSession
from sandbox import SANDBOX_INTEGRATION_USER
from sandbox.store import SandboxStore
from schemas.tables import leases, metadata, properties, quarantine, residents, unapplied_records, units, work_orders

INTEGRATION = Integration("default", "http://127.0.0.1:9", "id", SecretStr("secret"), "1", SANDBOX_INTEGRATION_USER)
RULES = INTEGRATION.rules
SALT = hash_salt(RULES, SANDBOX_INTEGRATION_USER)


@pytest.fixture(scope="module")
def store() -> SandboxStore:
    return SandboxStore(units=12, seed=7)


def new_run(engine: sa.Engine, flow: str = "delta") -> SyncSession:
    """A run holding the integration's lock, as the run scope opens it (the tables made as migrations make them,
    tests/unit/test_schema.py; creating them directly is seconds faster)."""
    metadata.create_all(engine)
    with engine.begin() as connection:
        integration_id = ensure_integration(connection, INTEGRATION)
    holder = f"test {utc_now().isoformat()}"
    acquire(engine, INTEGRATION.name, holder, flow, timedelta(minutes=5), timedelta(seconds=5), lambda *_: None)
    run_id = start_run(engine, integration_id, flow, RULES.entities(), (None, utc_now()))
    return SyncSession(
        INTEGRATION, INTEGRATION.open_client(), engine, integration_id, run_id, flow, utc_now(), timedelta(hours=24),
        None, 0.2, holder, timedelta(minutes=5),
    )


def finish(session: SyncSession) -> None:
    release(session.engine, INTEGRATION.name, session.lock_holder)


def page_of(stream_name: str, raws: list[dict], complete: bool = True) -> SourcePage:
    stream = RULES.stream(stream_name)
    raws = copy.deepcopy(raws)
    records = [stream.record.model_validate(raw) for raw in raws]
    return SourcePage(stream.entities[0], f"GET {stream.path}", records, raws, len(raws), None, complete=complete)


def checked(stream_name: str, page: SourcePage, failing: dict | None = None, warned: dict | None = None) -> CheckedPage:
    """What the gate would hand on: every candidate, minus `failing` {(entity, source_id): label}; `warned` load."""
    failing, warned = failing or {}, warned or {}
    result = CheckedPage(page, {entity: [] for entity in RULES.stream(stream_name).entities})
    for record, raw in zip(page.records, page.raw):
        for candidate in record.candidates(raw):
            key = (candidate.entity, candidate.source_id)
            if key in failing:
                result.failures.append(QualityFailure(candidate.entity, str(candidate.source_id), [failing[key]], candidate.payload))
                continue
            if key in warned:
                result.warnings.append(
                    QualityFailure(candidate.entity, str(candidate.source_id), [warned[key]], candidate.payload, "warning")
                )
            result.candidates[candidate.entity].append(candidate)
    return result


def sync(session: SyncSession, stream_name: str, raws: list[dict], *, skip_unchanged: bool = True, **gate) -> dict:
    """One page through drop_unchanged (optional) and apply_page, as the loop runs them."""
    stream = RULES.stream(stream_name)
    pages = [page_of(stream_name, raws)]
    if skip_unchanged:
        pages = drop_unchanged(session, stream, pages)
    return apply_page(session, stream, checked(stream_name, pages[0], **gate))


def rows(engine: sa.Engine, table: sa.Table) -> dict[int, sa.Row]:
    with engine.connect() as connection:
        return {row.source_id: row for row in connection.execute(sa.select(table))}


def hash_of(raw: dict) -> str:
    return payload_hash(raw, SALT)


def active_portfolio(store: SandboxStore) -> tuple[list[dict], list[dict], list[dict]]:
    buildings = [b for b in store.records("buildings") if b["active"]]
    ids = {b["id"] for b in buildings}
    unit_list = [u for u in store.records("units") if u["buildingID"] in ids]
    unit_ids = {u["id"] for u in unit_list}
    lease_list = [lease for lease in store.records("leases") if lease["unitID"] in unit_ids]
    return buildings, unit_list, lease_list


def test_payload_hash_is_canonical_salted_and_reads_any_json():
    raw = {"id": 1, "name": "Oak", "address": {"city": "X", "postalCode": "1"}}
    reordered = {"address": {"postalCode": "1", "city": "X"}, "name": "Oak", "id": 1}
    assert payload_hash(raw) == payload_hash(reordered)
    assert len(payload_hash(raw)) == 32
    assert payload_hash(raw) != payload_hash({**raw, "name": "Oak "})
    assert payload_hash(raw, "propertyware") != payload_hash(raw, "propertyware-contact-updates")
    assert payload_hash({"id": 1, "name": "half \ud83d"}) != payload_hash({"id": 1, "name": "half "})
    assert payload_hash({"id": 2**70}) != payload_hash({"id": 2**70 + 1})


def test_unchanged_records_are_dropped_counted_and_write_nothing(platform_engine, store):
    buildings, unit_list, lease_list = active_portfolio(store)
    first = new_run(platform_engine, "initial")
    sync(first, "buildings", buildings)
    sync(first, "units", unit_list)
    created = sync(first, "leases", lease_list)
    finish(first)
    before = {table.name: rows(platform_engine, table) for table in (properties, units, leases, residents)}
    assert all(row.source_hash == hash_of(raw) for raw, row in zip(lease_list, before["leases"].values()))

    second = new_run(platform_engine, "lease")
    pages = drop_unchanged(second, RULES.stream("leases"), [page_of("leases", lease_list)])
    assert pages[0].records == [] and pages[0].raw == []
    summary = apply_page(second, RULES.stream("leases"), checked("leases", pages[0]))
    finish(second)

    assert summary["lease"] == {"fetched": len(lease_list), "unchanged": len(lease_list)}
    assert summary["resident"]["unchanged"] == created["resident"]["created"] > 0
    assert summary["resident"]["excluded"] == created["resident"]["excluded"]
    assert run_counts(platform_engine.connect(), second.run_id)["lease"]["unchanged"] == len(lease_list)
    assert {table.name: rows(platform_engine, table) for table in (properties, units, leases, residents)} == before


def test_a_changed_payload_updates_its_row_and_hash_and_the_rest_stay_dropped(platform_engine, store):
    buildings, unit_list, _ = active_portfolio(store)
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    sync(session, "units", unit_list)
    renamed = [{**u, "name": "Renamed"} if u is unit_list[0] else u for u in unit_list]

    pages = drop_unchanged(session, RULES.stream("units"), [page_of("units", renamed)])
    summary = apply_page(session, RULES.stream("units"), checked("units", pages[0]))

    assert [r["id"] for r in pages[0].raw] == [unit_list[0]["id"]]
    assert pages[0].extra[SKIPPED_COUNTS]["unit"] == {"fetched": len(unit_list) - 1, "unchanged": len(unit_list) - 1}
    assert summary["unit"]["updated"] == 1 and summary["unit"]["fetched"] == len(unit_list)
    row = rows(platform_engine, units)[unit_list[0]["id"]]
    assert row.source_data["name"] == "Renamed" and row.source_hash == hash_of(renamed[0])


def test_a_quarantined_change_clears_the_hash_and_reverting_to_the_old_payload_releases_it(platform_engine, store):
    buildings, unit_list, _ = active_portfolio(store)
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    sync(session, "units", unit_list)
    unit = unit_list[0]
    broken = {**unit, "name": ""}

    sync(session, "units", [broken], failing={("unit", unit["id"]): "expect_name"})

    assert rows(platform_engine, units)[unit["id"]].source_hash is None
    pages = drop_unchanged(session, RULES.stream("units"), [page_of("units", [unit])])
    assert [r["id"] for r in pages[0].raw] == [unit["id"]], "the old payload must be checked again"
    apply_page(session, RULES.stream("units"), checked("units", pages[0]))
    assert rows(platform_engine, units)[unit["id"]].source_hash == hash_of(unit)
    with platform_engine.connect() as connection:
        status = connection.execute(sa.select(quarantine.c.status).where(quarantine.c.source_id == str(unit["id"]))).scalar()
    assert status == "released"


def test_a_record_loaded_with_a_warning_keeps_no_hash_until_it_passes(platform_engine, store):
    buildings, unit_list, lease_list = active_portfolio(store)
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    sync(session, "units", unit_list)
    lease = lease_list[0]

    summary = sync(session, "leases", [lease], warned={("lease", lease["id"]): "modified_seconds_ahead"})

    assert summary["lease"]["created"] == 1 and rows(platform_engine, leases)[lease["id"]].source_hash is None
    assert drop_unchanged(session, RULES.stream("leases"), [page_of("leases", [lease])])[0].raw == [lease]
    sync(session, "leases", [lease])
    assert rows(platform_engine, leases)[lease["id"]].source_hash == hash_of(lease)


def test_a_lease_whose_resident_is_quarantined_keeps_no_hash(platform_engine, store):
    buildings, unit_list, lease_list = active_portfolio(store)
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    sync(session, "units", unit_list)
    lease = next(lease for lease in lease_list if lease["active"] and lease["contacts"])
    contact = lease["contacts"][0]

    sync(session, "leases", [lease], failing={("resident", contact["id"]): "expect_email"})

    assert rows(platform_engine, leases)[lease["id"]].source_hash is None
    assert drop_unchanged(session, RULES.stream("leases"), [page_of("leases", [lease])])[0].raw == [lease]


def test_excluded_and_parked_records_leave_no_hash(platform_engine, store):
    buildings, unit_list, _ = active_portfolio(store)
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    sync(session, "units", unit_list)
    mine = next(w for w in store.records("workorders")
                if w.get("managedBy") == SANDBOX_INTEGRATION_USER and w["buildingID"] == buildings[0]["id"])
    sync(session, "workorders", [mine])
    assert rows(platform_engine, work_orders)[mine["id"]].source_hash == hash_of(mine)
    unit = unit_list[0]

    handed_over = {**mine, "managedBy": "someone.else@example.com"}
    moved = {**unit, "buildingID": 999_999}
    excluded = sync(session, "workorders", [handed_over])
    parked = sync(session, "units", [moved])

    assert excluded["work_order"]["excluded"] == 1 and parked["unit"]["parked"] == 1
    assert rows(platform_engine, work_orders)[mine["id"]].source_hash is None
    assert rows(platform_engine, units)[unit["id"]].source_hash is None
    for stream, raw in (("workorders", mine), ("units", unit)):
        assert drop_unchanged(session, RULES.stream(stream), [page_of(stream, [raw])])[0].raw == [raw], stream


def test_a_unit_deactivated_on_the_platform_is_not_skipped_an_inactive_lease_is(platform_engine, store):
    buildings, unit_list, lease_list = active_portfolio(store)
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    sync(session, "units", unit_list)
    sync(session, "leases", lease_list)
    unit = unit_list[0]
    with platform_engine.begin() as connection:
        connection.execute(sa.update(units).where(units.c.source_id == unit["id"]).values(active=False))
    inactive = [lease for lease in lease_list if not lease["active"]]
    assert inactive and rows(platform_engine, leases)[inactive[0]["id"]].active is False

    kept_units = drop_unchanged(session, RULES.stream("units"), [page_of("units", unit_list)])[0].raw
    kept_leases = drop_unchanged(session, RULES.stream("leases"), [page_of("leases", inactive)])[0].raw

    assert kept_units == [unit] and kept_leases == []


def test_a_parked_unit_released_by_its_property_is_checked_once_more_then_skipped(platform_engine, store):
    buildings, unit_list, _ = active_portfolio(store)
    session = new_run(platform_engine)
    late, unit = buildings[0], next(u for u in unit_list if u["buildingID"] == buildings[0]["id"])

    assert sync(session, "units", [unit])["unit"]["parked"] == 1
    released = sync(session, "buildings", [late])

    assert released["unit"]["created"] == 1
    assert rows(platform_engine, units)[unit["id"]].source_hash is None
    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(unapplied_records)).scalar_one() == 0
    assert sync(session, "units", [unit])["unit"] == {"fetched": 1, "created": 0, "updated": 0, "unchanged": 1,
                                                       "excluded": 0, "parked": 0, "quarantined": 0}
    assert rows(platform_engine, units)[unit["id"]].source_hash == hash_of(unit)
    assert sync(session, "units", [unit])["unit"] == {"fetched": 1, "unchanged": 1}


def test_a_repeated_page_applies_exactly_once(platform_engine, store):
    buildings, unit_list, lease_list = active_portfolio(store)
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    sync(session, "units", unit_list)

    first = sync(session, "leases", lease_list, skip_unchanged=False)
    again = sync(session, "leases", lease_list, skip_unchanged=False)

    assert first["lease"]["created"] == len(lease_list) and again["lease"]["unchanged"] == len(lease_list)
    assert again["lease"]["created"] == again["lease"]["updated"] == again["resident"]["created"] == 0
    with platform_engine.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(leases)).scalar_one()
    assert count == len(lease_list)


def test_money_dates_moments_and_json_keep_their_types(platform_engine, store):
    buildings, unit_list, lease_list = active_portfolio(store)
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    sync(session, "units", unit_list)
    lease = {**next(lease for lease in lease_list if lease["active"]), "baseRent": 1234.56, "leaseBalance": 0.1}
    sync(session, "leases", [lease])

    row = rows(platform_engine, leases)[lease["id"]]

    assert str(row.base_rent) == "1234.56" and str(row.balance) == "0.10"
    assert row.created_at.tzinfo is not None and row.source_modified_at.tzinfo is not None
    assert row.source_data == lease and str(row.start_date) == lease["startDate"][:10]


def test_a_lease_whose_named_property_is_missing_loads_unlinked_without_a_hash(platform_engine, store):
    buildings, unit_list, lease_list = active_portfolio(store)
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    sync(session, "units", unit_list)
    lease = {**lease_list[0], "buildingID": 999_999}

    assert sync(session, "leases", [lease])["lease"]["created"] == 1

    row = rows(platform_engine, leases)[lease["id"]]
    assert row.property_id is None and row.source_hash is None


def test_editing_a_quality_suite_checks_every_record_again_and_reformatting_one_does_not(platform_engine, store, tmp_path):
    suites = tmp_path / "expectations"
    shutil.copytree(PlatformSettings().expectations_dir, suites)
    buildings, unit_list, _ = active_portfolio(store)
    session = dataclasses.replace(new_run(platform_engine), expectations_dir=suites)
    sync(session, "buildings", buildings)
    sync(session, "units", unit_list)

    def left_to_check() -> list[int]:
        return [raw["id"] for raw in drop_unchanged(session, RULES.stream("units"), [page_of("units", unit_list)])[0].raw]

    assert left_to_check() == []
    suite = suites / "unit.json"
    content = json.loads(suite.read_text(encoding="utf-8"))
    suite.write_text(json.dumps(content, indent=7), encoding="utf-8")
    assert left_to_check() == [], "a suite written out differently checks nothing again"
    content["expectations"] = content["expectations"][:-1]
    suite.write_text(json.dumps(content), encoding="utf-8")
    assert left_to_check() == [unit["id"] for unit in unit_list]
    finish(session)
