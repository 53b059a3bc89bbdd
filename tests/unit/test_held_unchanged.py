"""Held records skipped by hash, without Prefect on SQLite and PostgreSQL: an excluded or parked record listed again
with the payload it was held with leaves before the quality gate and counts as held again; a changed payload, a new
salt, an arrived parent, an open quarantine item or a platform row of its own has it checked again."""

from __future__ import annotations

import dataclasses
import json
import shutil

import sqlalchemy as sa

from pmsync.platform.settings import PlatformSettings
from pmsync.runs.bookkeeping import run_counts
from pmsync.sync.apply import apply_page
from pmsync.sync.changes import SKIPPED_COUNTS, drop_unchanged, unchecked
from pmsync.sync.held import HELD_UNCHANGED
from sandbox import SANDBOX_INTEGRATION_USER
from schemas.tables import properties, unapplied_records, units, work_orders
from tests.unit.test_policy import (RULES, active_portfolio, checked, finish, hash_of, new_run, page_of, rows,
                                    store, sync)  # noqa: F401  (store: a fixture)


def held_rows(engine: sa.Engine) -> dict[tuple[str, int], sa.Row]:
    with engine.connect() as connection:
        return {(row.entity, row.source_id): row for row in connection.execute(sa.select(unapplied_records))}


def excluded_and_parked(store) -> tuple[list[dict], dict, dict, dict]:
    """The active buildings but one (`late`), a work order managed by someone else (excluded), and a unit of the
    late building (parked: its building is not on the platform)."""
    buildings, unit_list, _ = active_portfolio(store)
    late = buildings[-1]
    others = [w for w in store.records("workorders")
              if (w.get("managedBy") or "").strip().lower() not in ("", SANDBOX_INTEGRATION_USER.lower())
              and w["buildingID"] in {b["id"] for b in buildings[:-1]}]
    assert others, "the sandbox has work orders managed by other users"
    return buildings[:-1], others[0], next(u for u in unit_list if u["buildingID"] == late["id"]), late


def test_excluded_and_parked_records_listed_unchanged_leave_before_the_gate_and_count_as_held(platform_engine, store):
    buildings, foreign, waiting, _ = excluded_and_parked(store)
    first = new_run(platform_engine)
    sync(first, "buildings", buildings)
    assert sync(first, "workorders", [foreign])["work_order"]["excluded"] == 1
    assert sync(first, "units", [waiting])["unit"]["parked"] == 1
    finish(first)
    held = held_rows(platform_engine)
    assert held[("work_order", foreign["id"])].source_hash == hash_of(foreign)
    assert held[("unit", waiting["id"])].source_hash == hash_of(waiting)

    second = new_run(platform_engine)
    orders = drop_unchanged(second, RULES.stream("workorders"), [page_of("workorders", [foreign])])[0]
    unit_page = drop_unchanged(second, RULES.stream("units"), [page_of("units", [waiting])])[0]

    assert orders.raw == [] and unit_page.raw == [], "nothing is left for the quality gate"
    assert orders.extra[HELD_UNCHANGED] == {"work_order": {foreign["id"]: "excluded"}}
    assert unit_page.extra[HELD_UNCHANGED] == {"unit": {waiting["id"]: "parked"}}
    assert unchecked(orders, "work_order") == 1, "the failure share still counts them among the page's records"
    assert apply_page(second, RULES.stream("workorders"), checked("workorders", orders))["work_order"] == \
        {"fetched": 1, "excluded": 1}
    assert apply_page(second, RULES.stream("units"), checked("units", unit_page))["unit"] == {"fetched": 1, "parked": 1}
    finish(second)
    with platform_engine.connect() as connection:
        counts = run_counts(connection, second.run_id)
    assert counts["work_order"]["excluded"] == counts["unit"]["parked"] == 1
    assert {key: row.run_id for key, row in held_rows(platform_engine).items()} == {
        ("work_order", foreign["id"]): second.run_id, ("unit", waiting["id"]): second.run_id,
    }, "what the run left unapplied lists them, as checking them again would"
    assert {key: row.source_hash for key, row in held_rows(platform_engine).items()} == \
        {key: row.source_hash for key, row in held.items()}


def test_a_parked_record_skipped_unchanged_lands_when_its_parent_arrives(platform_engine, store):
    buildings, _, waiting, late = excluded_and_parked(store)
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    sync(session, "units", [waiting])
    assert sync(session, "units", [waiting])["unit"] == {"fetched": 1, "parked": 1}, "skipped unchanged"

    released = sync(session, "buildings", [late])

    assert released["unit"]["created"] == 1
    assert rows(platform_engine, properties)[late["id"]].id == rows(platform_engine, units)[waiting["id"]].property_id
    assert held_rows(platform_engine) == {}
    assert sync(session, "units", [waiting])["unit"]["unchanged"] == 1


def test_a_parked_record_whose_parent_is_on_the_platform_is_checked_again(platform_engine, store):
    """A parent that came without releasing its children (a row the platform made) ends the skipping: the record
    listed again is checked, and applies."""
    buildings, _, waiting, late = excluded_and_parked(store)
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    sync(session, "units", [waiting])
    with platform_engine.begin() as connection:
        template = dict(connection.execute(sa.select(properties).where(properties.c.source_id == buildings[0]["id"]))
                        .mappings().one())
        del template["id"]
        connection.execute(properties.insert().values({**template, "source_id": late["id"], "source_hash": None}))

    page = drop_unchanged(session, RULES.stream("units"), [page_of("units", [waiting])])[0]

    assert page.raw == [waiting] and page.extra[HELD_UNCHANGED] == {"unit": {}}
    assert apply_page(session, RULES.stream("units"), checked("units", page))["unit"]["created"] == 1


def test_a_changed_held_record_is_checked_again_and_keeps_its_new_hash(platform_engine, store):
    buildings, foreign, waiting, _ = excluded_and_parked(store)
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    sync(session, "workorders", [foreign])
    sync(session, "units", [waiting])
    edited, moved = {**foreign, "description": "Edited at the source"}, {**waiting, "name": "Renamed"}

    orders = drop_unchanged(session, RULES.stream("workorders"), [page_of("workorders", [edited])])[0]
    unit_page = drop_unchanged(session, RULES.stream("units"), [page_of("units", [moved])])[0]

    assert orders.raw == [edited] and unit_page.raw == [moved]
    assert orders.extra[SKIPPED_COUNTS] == {} and unchecked(orders, "work_order") == 0
    assert apply_page(session, RULES.stream("workorders"), checked("workorders", orders))["work_order"]["excluded"] == 1
    assert apply_page(session, RULES.stream("units"), checked("units", unit_page))["unit"]["parked"] == 1
    held = held_rows(platform_engine)
    assert held[("work_order", foreign["id"])].source_hash == hash_of(edited)
    assert held[("unit", waiting["id"])].payload == moved, "the parked record's stored payload is the new one"


def test_a_held_record_loaded_with_a_warning_or_quarantined_or_with_a_row_of_its_own_is_checked_again(
    platform_engine, store
):
    buildings, foreign, waiting, _ = excluded_and_parked(store)
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    sync(session, "workorders", [foreign], warned={("work_order", foreign["id"]): "modified_seconds_ahead"})
    assert held_rows(platform_engine)[("work_order", foreign["id"])].source_hash is None
    assert drop_unchanged(session, RULES.stream("workorders"), [page_of("workorders", [foreign])])[0].raw == [foreign]

    sync(session, "units", [waiting])
    broken = {**waiting, "name": ""}
    sync(session, "units", [broken], failing={("unit", waiting["id"]): "expect_name"})
    assert drop_unchanged(session, RULES.stream("units"), [page_of("units", [waiting])])[0].raw == [waiting], \
        "an open quarantine item: the old payload must pass the gate to release it"

    mine = next(w for w in store.records("workorders")
                if w.get("managedBy") == SANDBOX_INTEGRATION_USER and w["buildingID"] == buildings[0]["id"])
    sync(session, "workorders", [mine])
    handed_over = {**mine, "managedBy": "someone.else@example.com"}
    assert sync(session, "workorders", [handed_over])["work_order"]["excluded"] == 1
    assert rows(platform_engine, work_orders)[mine["id"]].source_hash is None
    assert drop_unchanged(session, RULES.stream("workorders"), [page_of("workorders", [handed_over])])[0].raw == \
        [handed_over], "a record with a row of its own is checked again: applying it may change the row"


def test_editing_a_quality_suite_checks_held_records_again(platform_engine, store, tmp_path):
    suites = tmp_path / "expectations"
    shutil.copytree(PlatformSettings().expectations_dir, suites)
    buildings, foreign, _, _ = excluded_and_parked(store)
    session = dataclasses.replace(new_run(platform_engine), expectations_dir=suites)
    sync(session, "buildings", buildings)
    sync(session, "workorders", [foreign])
    assert drop_unchanged(session, RULES.stream("workorders"), [page_of("workorders", [foreign])])[0].raw == []

    suite = suites / "work_order.json"
    content = json.loads(suite.read_text(encoding="utf-8"))
    content["expectations"] = content["expectations"][:-1]
    suite.write_text(json.dumps(content), encoding="utf-8")

    assert drop_unchanged(session, RULES.stream("workorders"), [page_of("workorders", [foreign])])[0].raw == [foreign]
    finish(session)


def test_a_parked_lease_and_its_residents_listed_unchanged_leave_and_land_with_their_unit(platform_engine, store):
    buildings, unit_list, lease_list = active_portfolio(store)
    lease = next(lease for lease in lease_list if lease["active"] and len(lease["contacts"]) > 1)
    unit = next(u for u in unit_list if u["id"] == lease["unitID"])
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    first = sync(session, "leases", [lease])
    assert first["lease"]["parked"] == 1 and first["resident"]["parked"] >= 1

    page = drop_unchanged(session, RULES.stream("leases"), [page_of("leases", [lease])])[0]

    assert page.raw == [] and set(page.extra[HELD_UNCHANGED]) == {"lease", "resident"}
    again = apply_page(session, RULES.stream("leases"), checked("leases", page))
    assert {entity: {name: n for name, n in numbers.items() if n} for entity, numbers in again.items()} == \
        {entity: {name: n for name, n in numbers.items() if n} for entity, numbers in first.items()}, \
        "counted as checking them again counts them"

    landed = sync(session, "units", [unit])

    assert landed["lease"]["created"] == 1 and landed["resident"]["created"] == first["resident"]["parked"]
    assert not any(key[0] in ("lease", "resident") and row.status == "parked"
                   for key, row in held_rows(platform_engine).items())


def test_a_parked_lease_whose_resident_was_parked_from_another_payload_is_checked_again(platform_engine, store):
    """A resident on two leases keeps the payload of the last one checked: the lease whose payload it is not is not
    skipped (skipping it would keep the other lease's facts for that resident)."""
    buildings, _, lease_list = active_portfolio(store)
    lease = next(lease for lease in lease_list if lease["active"] and lease["contacts"])
    session = new_run(platform_engine)
    sync(session, "buildings", buildings)
    sync(session, "leases", [lease])
    contact = lease["contacts"][0]
    other = {**lease, "id": lease["id"] + 900_000, "contacts": [contact]}
    sync(session, "leases", [other])
    assert held_rows(platform_engine)[("resident", contact["id"])].payload["id"] == other["id"]

    assert drop_unchanged(session, RULES.stream("leases"), [page_of("leases", [lease])])[0].raw == [lease]
    assert drop_unchanged(session, RULES.stream("leases"), [page_of("leases", [other])])[0].raw == []
