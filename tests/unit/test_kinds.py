"""Two kinds of source record sharing ids (a rental and an association both 7, their units both 70) land in their own
rows, link within their kind, change apart, reconcile apart, and are explained and journaled as themselves."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from pmsync.sync.association_rules import ASSOCIATION_RULES
from pmsync.sync.explain import explain
from pmsync.integrations.integration import Integration
from pmsync.jobs.reconcile import plan_reconciliation
from pmsync.jobs.steps import PLAIN_STEPS
from pmsync.jobs.sync import sync_integration
from pmsync.journal.read import find_changes
from pmsync.platform.database import make_engine, migrate
from pmsync.runs.progress import RunProgress
from pmsync.reconcile.parts import MassGuard
from pmsync.settings import PlatformSettings
from pmsync.source.registry import RULE_TABLES, SOURCE_PACKAGES
from pmsync.sync.scope import run_scope
from pmsync.source.buildium.association_records import (
    AssociationOwnerRecord,
    AssociationRecord,
    AssociationUnitRecord,
    OwnershipAccountRecord,
)
from pmsync.source.buildium.records import RentalRecord, RentalUnitRecord
from schemas.entity_rows import ENTITY_ROWS, addressed
from schemas.tables import ownership_accounts, properties, residents, units
from tests.unit.shelf_source import SHELF_KIND_RULES, ShelfAccount, ShelfPackage, ShelfSource, shelf_kinds_data

REPOSITORY_SUITES = Path(__file__).resolve().parents[2] / "expectations"
NEW_ENTITIES = ("association", "association_unit", "ownership_account", "association_owner")


def kinds_integration() -> Integration:
    account = ShelfAccount("https://shelf.example", SecretStr("shelf-token"))
    return Integration("shelf-kinds", credentials=account, integration_user="staff-7", source_system="shelf-kinds")


def suites_with_the_new_entities(directory: Path) -> Path:
    """The repository's suites, and for each association entity one that checks its listing key (the shelf has no
    vendor spec to derive more from)."""
    for suite in REPOSITORY_SUITES.glob("*.json"):
        shutil.copy(suite, directory / suite.name)
    for entity in NEW_ENTITIES:
        key = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "source_id"},
               "meta": {"rule": "every listed record has its id"}}
        (directory / f"{entity}.json").write_text(json.dumps({"name": entity, "meta": {"entity": entity},
                                                              "expectations": [key]}))
    return directory


@pytest.fixture
def shelf(monkeypatch: pytest.MonkeyPatch, platform_url: str, tmp_path: Path) -> ShelfSource:
    source = ShelfSource(shelf_kinds_data())
    monkeypatch.setitem(SOURCE_PACKAGES, "shelf", ShelfPackage(source, SHELF_KIND_RULES))
    monkeypatch.setitem(RULE_TABLES, "shelf-kinds", SHELF_KIND_RULES)
    monkeypatch.setenv("PMSYNC_DATABASE_URL", platform_url)
    suites = tmp_path / "suites"
    suites.mkdir()
    monkeypatch.setenv("PMSYNC_EXPECTATIONS_DIR", str(suites_with_the_new_entities(suites)))
    return source


def rows_by_kind(engine: sa.Engine) -> tuple[dict, dict]:
    """{(kind, source id): name} of properties; {(kind, source id): (name, its property's kind and source id)}."""
    parent = properties.alias("parent")
    with engine.connect() as connection:
        found_properties = {(row.kind, row.source_id): row.name for row in connection.execute(
            sa.select(properties.c.kind, properties.c.source_id, properties.c.name))}
        found_units = {(row.kind, row.source_id): (row.name, row.parent_kind, row.parent_source_id)
                       for row in connection.execute(sa.select(
                           units.c.kind, units.c.source_id, units.c.name, parent.c.kind.label("parent_kind"),
                           parent.c.source_id.label("parent_source_id")).join(parent, parent.c.id == units.c.property_id))}
    return found_properties, found_units


def test_two_kinds_sharing_ids_sync_into_their_own_rows_and_change_apart(shelf, platform_engine):
    integration = kinds_integration()
    first = sync_integration(PLAIN_STEPS, integration, "initial", SHELF_KIND_RULES.streams)

    found_properties, found_units = rows_by_kind(platform_engine)
    assert found_properties == {("rental", 7): "Rental Seven", ("rental", 8): "Rental Eight",
                                ("association", 7): "Association Seven"}
    assert found_units == {
        ("rental", 70): ("Rental unit 70", "rental", 7), ("rental", 71): ("Rental unit 71", "rental", 8),
        ("association", 70): ("Condo 70", "association", 7), ("association", 72): ("Condo 72", "association", 7),
    }
    with platform_engine.connect() as connection:
        account = connection.execute(sa.select(ownership_accounts.c.source_id, units.c.kind, units.c.source_id.label("unit"),
                                               properties.c.kind.label("property_kind"))
                                     .join(units, units.c.id == ownership_accounts.c.unit_id)
                                     .join(properties, properties.c.id == ownership_accounts.c.property_id)).all()
        owners = connection.execute(sa.select(residents.c.source_id, residents.c.group_name, units.c.kind,
                                              units.c.source_id.label("unit"), ownership_accounts.c.source_id.label("account"))
                                    .join(units, units.c.id == residents.c.unit_id)
                                    .join(ownership_accounts, ownership_accounts.c.id == residents.c.ownership_account_id)).all()
    assert sorted(tuple(row) for row in account) == [(700, "association", 70, "association"),
                                                     (701, "association", 72, "association")]
    assert [tuple(row) for row in owners] == [(9000, "Owners", "association", 70, 700)], "9001's account is past"
    assert first["counts"]["association"]["created"] == 1 and first["counts"]["property"]["created"] == 2
    assert first["counts"]["association_owner"]["excluded"] == 1

    shelf.data["association_units"][0]["Name"] = "Condo 70, renamed"
    shelf.data["rentals"][0]["Name"] = "Rental Seven, renamed on the source"
    delta = sync_integration(PLAIN_STEPS, integration, "delta", SHELF_KIND_RULES.streams, overlap_hours=1.0)
    after_properties, after_units = rows_by_kind(platform_engine)
    assert after_units[("association", 70)][0] == "Condo 70" and after_units[("rental", 70)][0] == "Rental unit 70", (
        "name is not updatable by policy on either kind")
    assert after_properties == found_properties
    assert delta["counts"]["association_unit"]["updated"] == 1 and delta["counts"]["association_unit"]["unchanged"] == 1
    assert delta["counts"]["unit"]["updated"] == 0 and delta["counts"]["property"]["updated"] == 1
    assert delta["counts"]["association"]["updated"] == 0
    changed = find_changes(platform_engine, "shelf-kinds", run_id=delta["run_id"])
    assert sorted((change["entity"], change["source_id"]) for change in change_rows(changed)) == [
        ("association_unit", 70), ("property", 7)]
    with platform_engine.connect() as connection:
        sources = dict(connection.execute(sa.select(units.c.kind, units.c.source_data).where(units.c.source_id == 70)).all())
    assert sources["association"]["Name"] == "Condo 70, renamed" and sources["rental"]["Name"] == "Rental unit 70"

    explained_unit = explain(platform_engine, integration, "association_unit", 70, shelf)
    explained_rental = explain(platform_engine, integration, "unit", 70, shelf)
    assert any("name: platform 'Condo 70', source 'Condo 70, renamed'" in line for line in explained_unit)
    assert not any("Condo" in line for line in explained_rental)
    why_not = explain(platform_engine, integration, "association_owner", 9001, shelf)[0]
    assert why_not.startswith("association_owner 9001 was excluded") and "ownership account 701 is not active" in why_not


def change_rows(changes: list[dict]) -> list[dict]:
    return [change for change in changes if change["action"] == "updated"]


def test_a_reconciliation_of_rental_units_leaves_association_units_of_the_same_ids_alone(shelf, platform_engine):
    integration = kinds_integration()
    sync_integration(PLAIN_STEPS, integration, "initial", SHELF_KIND_RULES.streams)
    shelf.data["units"] = [unit for unit in shelf.data["units"] if unit["Id"] != 70]

    with run_scope(integration, PlatformSettings(), "reconcile-dry-run") as session:
        progress = RunProgress(PLAIN_STEPS.report_progress, session.run_id, session.integration_name,
                               "reconcile-dry-run", ["units", "rentals", "confirmations"])
        plan = plan_reconciliation(session, MassGuard(max_share=0.6), PLAIN_STEPS, progress)

    with platform_engine.connect() as connection:
        rental_70 = connection.execute(sa.select(units.c.id).where(units.c.kind == "rental", units.c.source_id == 70)).scalar_one()
    assert [(target.source_id, target.id) for target in plan.gone_units] == [(70, rental_70)]
    assert plan.active_units == 2, "association units 70 and 72 are not the rentals' to reconcile"
    assert [target.source_id for target in plan.gone_properties] == []


def test_every_entity_a_rule_table_names_has_rows_on_the_platform():
    """Rows of its own, or (SetsColumnsOf: a lease's outstanding balance) the rows of the entity whose columns it sets."""
    for table in [*RULE_TABLES.values(), SHELF_KIND_RULES]:
        for entity in [*table.rules, *table.entities()]:
            rule = table.rules.get(entity)
            owner = rule.sets_columns_of.entity if rule is not None and rule.sets_columns_of else entity
            assert owner in ENTITY_ROWS, (table.source_system, entity)
            assert (owner == entity) == (entity in ENTITY_ROWS), (table.source_system, entity, "rows of its own")


def test_buildium_records_are_addressed_to_their_kinds_entities_and_parents():
    """The record models name the table ("property", "unit") and say the kind; the engine sees the kind's entity."""
    association_unit = {"Id": 70, "AssociationId": 7, "UnitNumber": "70"}
    account = {"Id": 700, "AssociationId": 7, "UnitId": 70, "Status": "Active"}
    owner = {"Id": 9000, "OwnershipAccounts": [{"Id": 700, "UnitId": 70, "Status": "Active"}]}
    seen = {
        name: addressed(model.model_validate(raw).candidates(raw))[0]
        for name, model, raw in (
            ("rental", RentalRecord, {"Id": 7}), ("rental_unit", RentalUnitRecord, {"Id": 70, "PropertyId": 7}),
            ("association", AssociationRecord, {"Id": 7}), ("association_unit", AssociationUnitRecord, association_unit),
            ("ownership_account", OwnershipAccountRecord, account), ("owner", AssociationOwnerRecord, owner),
        )
    }
    assert {name: (c.entity, c.parents) for name, c in seen.items()} == {
        "rental": ("property", {}),
        "rental_unit": ("unit", {"property": 7}),
        "association": ("association", {}),
        "association_unit": ("association_unit", {"association": 7}),
        "ownership_account": ("ownership_account", {"association_unit": 70, "association": 7}),
        "owner": ("association_owner", {"association_unit": 70, "lease": None, "ownership_account": 700}),
    }
    rules = ASSOCIATION_RULES
    for name in ("association_unit", "ownership_account", "owner"):
        candidate = seen[name]
        assert {link.entity for link in rules[candidate.entity].parents} <= set(candidate.parents), name
    assert rules["association_owner"].include.exclusion(seen["owner"], "staff") is None


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(rental_ids=st.sets(st.integers(1, 40), min_size=1, max_size=6),
       association_ids=st.sets(st.integers(1, 40), min_size=1, max_size=6))
def test_colliding_id_sets_each_land_once_in_their_own_kind(tmp_path_factory, monkeypatch_module, migrated_sqlite,
                                                            rental_ids, association_ids):
    database = tmp_path_factory.mktemp("kinds") / "platform.db"
    shutil.copy(migrated_sqlite, database)
    url = f"sqlite:///{database}"
    engine = make_engine(url)
    data = {
        "rentals": [{"Id": n, "Name": f"R{n}", "IsActive": True} for n in rental_ids],
        "units": [{"Id": n * 10, "Name": f"RU{n}", "RentalId": n} for n in rental_ids],
        "associations": [{"Id": n, "Name": f"A{n}"} for n in association_ids],
        "association_units": [{"Id": n * 10, "Name": f"AU{n}", "AssociationId": n} for n in association_ids],
        "ownership_accounts": [], "owners": [],
    }
    source = ShelfSource(data)
    monkeypatch_module.setitem(SOURCE_PACKAGES, "shelf", ShelfPackage(source, SHELF_KIND_RULES))
    monkeypatch_module.setenv("PMSYNC_DATABASE_URL", url)
    sync_integration(PLAIN_STEPS, kinds_integration(), "initial", SHELF_KIND_RULES.streams)
    found_properties, found_units = rows_by_kind(engine)
    engine.dispose()
    assert found_properties == {**{("rental", n): f"R{n}" for n in rental_ids},
                                **{("association", n): f"A{n}" for n in association_ids}}
    assert found_units == {**{("rental", n * 10): (f"RU{n}", "rental", n) for n in rental_ids},
                           **{("association", n * 10): (f"AU{n}", "association", n) for n in association_ids}}


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite platform database at the newest migration, copied for each example (migrating is not what the
    property checks, and took half its time)."""
    database = tmp_path_factory.mktemp("migrated") / "platform.db"
    engine = make_engine(f"sqlite:///{database}")
    migrate(engine)
    engine.dispose()
    return database


@pytest.fixture(scope="module")
def monkeypatch_module(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    suites = tmp_path_factory.mktemp("suites")
    patch.setitem(RULE_TABLES, "shelf-kinds", SHELF_KIND_RULES)
    patch.setenv("PMSYNC_EXPECTATIONS_DIR", str(suites_with_the_new_entities(suites)))
    yield patch
    patch.undo()


def test_a_work_order_links_to_the_kind_its_task_names_and_a_property_of_no_known_type_is_excluded():
    """One ParentLink over several kinds: the record's own parent kind (the task's Property.Type) picks the rows."""
    from pmsync.source.buildium.records import WorkOrderRecord
    from pmsync.source.buildium.rules import BUILDIUM_RULES

    def order(kind: str | None) -> dict:
        return {"Id": 8000, "Task": {"Id": 80, "UnitId": 70, "AssignedToUserId": 5, "Property": {"Id": 7, "Type": kind}}}

    seen = {kind: addressed(WorkOrderRecord.model_validate(order(kind)).candidates(order(kind)))[0]
            for kind in ("Rental", "Association", None)}
    rule = BUILDIUM_RULES.rules["work_order"]
    property_link, unit_link = rule.parents
    assert [(property_link.named_by(seen[k]), unit_link.named_by(seen[k])) for k in ("Rental", "Association")] == [
        (("property", 7), ("unit", 70)), (("association", 7), ("association_unit", 70))]
    assert rule.include.exclusion(seen["Rental"], "5") is None and rule.include.exclusion(seen["Association"], "5") is None
    assert rule.include.exclusion(seen[None], "5").reason == "property_kind_not_synced"
    assert property_link.named_by(replace(seen["Rental"], parents={})) == ("property", None)
    for kind in ("Rental", "Association"):
        assert ENTITY_ROWS[property_link.named_by(seen[kind])[0]].kind == kind.lower()
