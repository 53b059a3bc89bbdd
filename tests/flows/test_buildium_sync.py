"""A Buildium integration's initial and delta syncs against the Buildium sandbox over HTTP, on SQLite and PostgreSQL:
the job with the plain steps, as tests/flows/test_initial_sync.py runs Propertyware's."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from pmsync.jobs import JOBS
from pmsync.source import SourceAuthError
from sandbox.buildium import SANDBOX_CLIENT_SECRET, SANDBOX_STAFF_USER_ID, BuildiumSandboxServer, buildium_sandbox_settings
from schemas.entity_rows import rows_of
from schemas.tables import (leases, owners, ownership_accounts, properties, residents, service_providers, units,
                            work_orders)
from tests.flows.buildium_expectations import (balance_entries_applied, expected_association_counts,
                                               expected_balance_counts, expected_rental_counts)

initial_sync, delta_sync = JOBS["initial-sync"], JOBS["delta-sync"]
TABLES = {"property": properties, "unit": units, "lease": leases, "resident": residents, "work_order": work_orders,
          "owner": owners, "service_provider": service_providers, "association": properties,
          "association_unit": units, "ownership_account": ownership_accounts, "association_owner": residents}
GROUP = {"resident": residents.c.group_name.is_(None), "association_owner": residents.c.group_name == "Owners"}
"""Tenants and association owners share the residents table (and Buildium's user-id space): the group tells them
apart; properties and units by their kind (schemas.entity_rows)."""


@pytest.fixture
def buildium() -> Iterator[BuildiumSandboxServer]:
    """A small deterministic Buildium account on 127.0.0.1, fresh per test, rate-limited as Buildium is (10/s)."""
    with BuildiumSandboxServer(units=60, seed=7) as server:
        yield server


@pytest.fixture
def buildium_env(monkeypatch: pytest.MonkeyPatch, buildium: BuildiumSandboxServer, platform_url: str) -> dict[str, str]:
    """The default integration is the Buildium sandbox account, on the test database; few, short retries."""
    for name in [name for name in os.environ if name.startswith("PMSYNC_")]:
        monkeypatch.delenv(name)
    env = {**buildium_sandbox_settings(buildium.base_url), "PMSYNC_DATABASE_URL": platform_url,
           "PMSYNC_BUILDIUM_MAX_ATTEMPTS": "6"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def rows(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {entity: connection.execute(
                    sa.select(sa.func.count()).select_from(table).where(*rows_of(entity).of_kind(), *of_group(entity))
                ).scalar_one() for entity, table in TABLES.items()}


def of_group(entity: str) -> list:
    return [GROUP[entity]] if entity in GROUP else []


def one(engine: sa.Engine, table: sa.Table, source_id: int, kind: str = "rental"):
    """The row of `source_id` in `table`, of `kind` where the table holds several kinds (a rental's by default)."""
    with engine.connect() as connection:
        return connection.execute(sa.select(table).where(table.c.source_id == source_id, *of_kind(table, kind))).one()


def of_kind(table: sa.Table, kind: str) -> list:
    return [table.c.kind == kind] if "kind" in table.c else []


def test_initial_sync_lands_the_rentals_by_the_rules_and_is_idempotent(buildium_env, buildium, platform_engine):
    expected = {**expected_rental_counts(buildium.store, SANDBOX_STAFF_USER_ID),
                **expected_association_counts(buildium.store)}
    assert expected["property"]["excluded"] > 0 and expected["unit"]["parked"] > 0
    assert expected["resident"]["excluded"] > 0
    assert len(buildium.store.records("workorders")) > expected["work_order"]["fetched"], \
        "the source has other staff users' work orders: the listing leaves them out (assignedtoid)"
    assert expected["work_order"]["created"] > 0 and expected["owner"]["created"] > 0
    assert expected["association"]["excluded"] > 0 and expected["association_unit"]["parked"] > 0
    assert expected["ownership_account"]["created"] > 0 and expected["ownership_account"]["parked"] > 0
    assert expected["association_owner"]["created"] > 0 and expected["association_owner"]["excluded"] > 0

    balances = expected_balance_counts(buildium.store)

    first = initial_sync()

    assert first["counts"] == {**expected, **balances}
    assert rows(platform_engine) == {entity: numbers["created"] for entity, numbers in expected.items()}
    second = initial_sync()
    for entity, numbers in second["counts"].items():
        assert numbers["created"] == numbers["updated"] == 0, entity
        assert numbers["unchanged"] == {**expected, **balances}[entity]["created"] + \
            balance_entries_applied(buildium.store).get(entity, 0), entity


def test_rows_link_to_their_parents_and_work_orders_to_their_tasks_rental(buildium_env, buildium, platform_engine):
    initial_sync()
    store = buildium.store
    tasks = {task["Id"]: task for task in store.records("tasks")}
    with platform_engine.connect() as connection:
        linked_units = connection.execute(
            sa.select(units.c.source_id, properties.c.source_id.label("rental"), units.c.kind)
            .join(properties, properties.c.id == units.c.property_id).where(properties.c.kind == "rental")).all()
        association_units = connection.execute(
            sa.select(units.c.source_id, properties.c.source_id.label("association"), units.c.kind)
            .join(properties, properties.c.id == units.c.property_id).where(properties.c.kind == "association")).all()
        linked_orders = connection.execute(
            sa.select(work_orders.c.source_id, work_orders.c.title, properties.c.source_id.label("rental"),
                      properties.c.manager_email, work_orders.c.assigned_manager_email)
            .join(properties, properties.c.id == work_orders.c.property_id)).all()
    assert linked_units and all(row.kind == "rental" for row in linked_units)
    for row in linked_units:
        assert row.rental == store.get("rentalunits", row.source_id)["PropertyId"]
    assert association_units and all(row.kind == "association" for row in association_units)
    for row in association_units:
        assert row.association == store.get("associationunits", row.source_id)["AssociationId"]
    assert linked_orders
    for row in linked_orders:
        order = store.get("workorders", row.source_id)
        task = tasks[order["_task_id"]]
        assert task["AssignedToUserId"] == SANDBOX_STAFF_USER_ID and row.rental == task["Property"]["Id"]
        assert row.title == task["Title"]
        assert row.assigned_manager_email == row.manager_email


def test_a_delta_applies_only_the_touched_records_and_by_their_rules(buildium_env, buildium, platform_engine):
    store = buildium.store
    initial_sync()
    rental = next(r for r in store.records("rentals") if r["IsActive"])
    vendor = store.records("vendors")[0]
    lease = next(lease for lease in store.records("leases")
                 if lease["LeaseStatus"] == "Active" and one_or_none(platform_engine, leases, lease["Id"])
                 and any(t["Status"] == "Current" and one_or_none(platform_engine, residents, t["Id"])
                         for t in lease["Tenants"]))
    tenant = next(t for t in lease["Tenants"] if t["Status"] == "Current" and one_or_none(platform_engine, residents, t["Id"]))
    before = one(platform_engine, properties, rental["Id"])
    resident_before = one(platform_engine, residents, tenant["Id"])

    store.update("rentals", rental["Id"], Name="Renamed in Buildium")
    store.update("vendors", vendor["Id"], PrimaryEmail="new.vendor@example.com")
    people = [{**person, "Email": "changed@example.com"} if person["Id"] == tenant["Id"] else person
              for person in lease["CurrentTenants"]]
    moves = [move for move in lease.get("MoveOutData") or [] if move.get("TenantId") != tenant["Id"]]
    store.update("leases", lease["Id"], CurrentTenants=people,
                 MoveOutData=[*moves, {"TenantId": tenant["Id"], "MoveOutDate": "2030-03-31", "NoticeGivenDate": None}])

    result = delta_sync()

    counts = result["counts"]
    assert counts["property"]["fetched"] == counts["property"]["updated"] == 1
    assert counts["service_provider"]["fetched"] == counts["service_provider"]["updated"] == 1
    assert counts["lease"]["fetched"] == 1 and counts["unit"]["fetched"] == counts["owner"]["fetched"] == 0
    assert all(numbers["created"] == 0 for numbers in counts.values())
    assert counts["work_order"]["updated"] == 0
    after = one(platform_engine, properties, rental["Id"])
    assert after.name == before.name and after.source_data["Name"] == "Renamed in Buildium"
    assert one(platform_engine, service_providers, vendor["Id"]).email == "new.vendor@example.com"
    resident = one(platform_engine, residents, tenant["Id"])
    assert str(resident.move_out_date) == "2030-03-31" and resident.email == resident_before.email


def one_or_none(engine: sa.Engine, table: sa.Table, source_id: int, kind: str = "rental"):
    with engine.connect() as connection:
        return connection.execute(
            sa.select(table).where(table.c.source_id == source_id, *of_kind(table, kind))).one_or_none()


def test_a_rental_and_an_association_of_one_id_land_as_two_rows_of_their_own_kind(buildium_env, buildium,
                                                                                  platform_engine):
    store = buildium.store
    rentals = {r["Id"]: r for r in store.records("rentals") if r["IsActive"]}
    associations = {a["Id"]: a for a in store.records("associations") if a["IsActive"]}
    rental_units = {u["Id"]: u for u in store.records("rentalunits") if u["PropertyId"] in rentals}
    association_units = {u["Id"]: u for u in store.records("associationunits") if u["AssociationId"] in associations}
    shared = sorted(rentals.keys() & associations.keys())
    shared_units = sorted(rental_units.keys() & association_units.keys())
    assert shared and shared_units, "the sandbox repeats ids across a rental and an association, and their units"

    initial_sync()

    for source_id in shared:
        rental, association = (one(platform_engine, properties, source_id, kind) for kind in ("rental", "association"))
        assert rental.id != association.id
        assert (rental.name, association.name) == (rentals[source_id]["Name"], associations[source_id]["Name"])
    for source_id in shared_units:
        rental_unit = one(platform_engine, units, source_id, "rental")
        association_unit = one(platform_engine, units, source_id, "association")
        assert rental_unit.id != association_unit.id
        assert rental_unit.property_id == one(platform_engine, properties, rental_units[source_id]["PropertyId"]).id
        association = one(platform_engine, properties, association_units[source_id]["AssociationId"], "association")
        assert association_unit.property_id == association.id


def test_a_delta_touching_an_association_unit_changes_only_it(buildium_env, buildium, platform_engine):
    store = buildium.store
    initial_sync()
    associations = {a["Id"] for a in store.records("associations") if a["IsActive"]}
    rental_units = {u["Id"] for u in store.records("rentalunits")}
    unit = next(u for u in store.records("associationunits")
                if u["AssociationId"] in associations and u["Id"] in rental_units)
    before = one(platform_engine, units, unit["Id"], "association")
    rental_unit_before = one_or_none(platform_engine, units, unit["Id"], "rental")

    store.update("associationunits", unit["Id"], UnitNumber="Z99")
    result = delta_sync()

    counts = result["counts"]
    assert counts["association_unit"]["fetched"] == counts["association_unit"]["updated"] == 1
    assert all(numbers["created"] == 0 for numbers in counts.values())
    assert all(numbers["updated"] == 0 for entity, numbers in counts.items() if entity != "association_unit"), counts
    for entity in ("property", "unit", "lease", "resident", "association", "association_owner"):
        assert counts.get(entity, {}).get("fetched", 0) == 0, entity
    after = one(platform_engine, units, unit["Id"], "association")
    assert after.source_data["UnitNumber"] == "Z99" and after.name == before.name
    assert after.property_id == before.property_id
    assert one_or_none(platform_engine, units, unit["Id"], "rental") == rental_unit_before


def test_a_rate_limited_account_is_read_whole_by_several_threads_backing_off(buildium_env, buildium, platform_engine,
                                                                             monkeypatch):
    monkeypatch.setenv("PMSYNC_BUILDIUM_PAGE_SIZE", "3")
    monkeypatch.setenv("PMSYNC_BUILDIUM_CONCURRENCY", "4")
    monkeypatch.setenv("PMSYNC_BUILDIUM_MAX_REQUESTS_PER_SECOND", "200")
    monkeypatch.setenv("PMSYNC_BUILDIUM_MAX_ATTEMPTS", "10")
    expected = {**expected_rental_counts(buildium.store, SANDBOX_STAFF_USER_ID),
                **expected_association_counts(buildium.store), **expected_balance_counts(buildium.store)}

    result = initial_sync()

    assert buildium.store.rate_limited > 0, "the sandbox's 10 requests/s limit answered 429"
    assert result["counts"] == expected


def test_an_unknown_client_secret_fails_as_auth_naming_the_setting_not_the_value(buildium_env, monkeypatch):
    wrong = "unknown-buildium-secret-31337"
    monkeypatch.setenv("PMSYNC_BUILDIUM_CLIENT_SECRET", wrong)

    with pytest.raises(SourceAuthError) as refused:
        initial_sync()

    message = str(refused.value)
    assert "PMSYNC_BUILDIUM_CLIENT_SECRET" in message and "401" in message and "GET /v1/rentals" in message
    assert wrong not in message and SANDBOX_CLIENT_SECRET not in message


def test_work_orders_on_a_rental_and_an_association_of_one_id_link_to_their_own_kind(buildium_env, buildium,
                                                                                    platform_engine):
    store = buildium.store
    rentals = {r["Id"] for r in store.records("rentals") if r["IsActive"]}
    associations = {a["Id"] for a in store.records("associations") if a["IsActive"]}
    shared = min(rentals & associations)
    unit_of = {"Rental": next(u["Id"] for u in store.records("rentalunits") if u["PropertyId"] == shared),
               "Association": next(u["Id"] for u in store.records("associationunits") if u["AssociationId"] == shared)}
    tasks = {task["Id"]: task for task in store.records("tasks")}
    staff_orders = [order for order in store.records("workorders")
                    if tasks[order["_task_id"]]["AssignedToUserId"] == SANDBOX_STAFF_USER_ID]
    for kind, order in zip(("Rental", "Association"), staff_orders[:2]):
        store.update("tasks", order["_task_id"], Property={"Id": shared, "Type": kind, "Href": None},
                     UnitId=unit_of[kind])
    ours = {order["Id"]: kind for kind, order in zip(("Rental", "Association"), staff_orders[:2])}

    initial_sync()

    prop, unit = properties.alias("prop"), units.alias("unit")
    with platform_engine.connect() as connection:
        linked = connection.execute(
            sa.select(work_orders.c.source_id, prop.c.kind, prop.c.source_id.label("property"),
                      prop.c.manager_email, work_orders.c.assigned_manager_email,
                      unit.c.kind.label("unit_kind"), unit.c.source_id.label("unit"))
            .join(prop, prop.c.id == work_orders.c.property_id)
            .outerjoin(unit, unit.c.id == work_orders.c.unit_id)).all()
    found = {row.source_id: row for row in linked}
    for order_id, kind in ours.items():
        row = found[order_id]
        assert (row.kind, row.property, row.unit_kind, row.unit) == (kind.lower(), shared, kind.lower(), unit_of[kind])
    assert found[min(ours)].property == found[max(ours)].property
    kinds_linked = {row.kind for row in linked}
    assert kinds_linked == {"rental", "association"}, "work orders on associations sync, linked to the association"
    for row in linked:
        task = tasks[store.get("workorders", row.source_id)["_task_id"]]
        where = store.get("tasks", task["Id"])["Property"]
        assert (row.kind, row.property) == (where["Type"].lower(), where["Id"])
        assert row.assigned_manager_email == row.manager_email
        if row.unit is not None:
            assert (row.unit_kind, row.unit) == (where["Type"].lower(), store.get("tasks", task["Id"])["UnitId"])
