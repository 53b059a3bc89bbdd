"""Propertyware and Buildium integrations on one platform database for the two-vendor isolation tests: each with its own
sandbox account, run as `pmsync` processes at the same time; what each integration's rows are and how they link."""

from __future__ import annotations

import os
import subprocess

import sqlalchemy as sa

from sandbox import SandboxServer
from sandbox.buildium import BuildiumSandboxServer, buildium_sandbox_settings
from sandbox.slowdowns import Slowdown
from schemas.tables import integrations, leases, ownership_accounts, properties, residents, units, work_orders
from tests.conftest import source_env
from tests.flows.test_independence import finish, start

PARENT_LINKS = [
    (units, units.c.property_id, properties),
    (leases, leases.c.unit_id, units),
    (leases, leases.c.property_id, properties),
    (residents, residents.c.unit_id, units),
    (residents, residents.c.lease_id, leases),
    (residents, residents.c.ownership_account_id, ownership_accounts),
    (ownership_accounts, ownership_accounts.c.unit_id, units),
    (work_orders, work_orders.c.property_id, properties),
    (work_orders, work_orders.c.unit_id, units),
]
"""Each link from a row to its parent row: a parent of another integration would be cross-talk."""


def inherited() -> dict[str, str]:
    """This process's environment without PMSYNC_* and Prefect settings: only what an integration's own lines set."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PMSYNC_"))}


def propertyware_environment(name: str, source: SandboxServer, platform_url: str, **overrides: str) -> dict[str, str]:
    return {**inherited(), "COLUMNS": "200",
            **source_env(platform_url, source, PMSYNC_INTEGRATION_NAME=name, PMSYNC_PW_MAX_ATTEMPTS="2",
                         PMSYNC_PW_BACKOFF_SECONDS="0.01", **overrides)}


def buildium_environment(name: str, source: BuildiumSandboxServer, platform_url: str, **overrides: str) -> dict[str, str]:
    """A Buildium integration's worker: its own sandbox account (rate-limited as Buildium is), the shared platform."""
    return {**inherited(), "COLUMNS": "200", **buildium_sandbox_settings(source.base_url),
            "PMSYNC_DATABASE_URL": platform_url, "PMSYNC_INTEGRATION_NAME": name, "PMSYNC_BUILDIUM_MAX_ATTEMPTS": "6",
            "PMSYNC_PW_BACKOFF_SECONDS": "0.01", **overrides}


def become(monkeypatch, env: dict[str, str]) -> None:
    """Make `env`'s PMSYNC_* settings this process's, and only them (a job run here then runs that integration)."""
    for variable in [variable for variable in os.environ if variable.startswith("PMSYNC_")]:
        monkeypatch.delenv(variable)
    for variable, value in env.items():
        if variable.startswith("PMSYNC_"):
            monkeypatch.setenv(variable, value)


def held_until_released(store, path: str) -> Slowdown:
    """Hold every request to `path` (a Buildium path such as "/v1/associations/owners") until `release(store)`."""
    return store.slowdowns.add(Slowdown(seconds=300, path=path))


def release(store) -> None:
    store.slowdowns.clear()
    store.slowdowns.cut_short()


def run_at_once(commands: dict[str, tuple[dict[str, str], tuple[str, ...]]]) -> dict[str, subprocess.CompletedProcess]:
    """Start every integration's `pmsync` command, then wait for all of them."""
    started = {name: start(env, *args) for name, (env, args) in commands.items()}
    return {name: finish(process) for name, process in started.items()}


def integration_id(engine: sa.Engine, name: str) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(integrations.c.id).where(integrations.c.name == name)).scalar_one()


def keys(engine: sa.Engine, name: str, table: sa.Table, *where) -> set[tuple]:
    """(kind, source_id) of the integration's rows in `table` (kind None in a table of one kind)."""
    kind = table.c.kind if "kind" in table.c else sa.null()
    with engine.connect() as connection:
        return set(connection.execute(sa.select(kind, table.c.source_id).where(
            table.c.integration_id == integration_id(engine, name), *where)).all())


def source_fields(engine: sa.Engine, name: str, table: sa.Table) -> list[set[str]]:
    """The field names of each of the integration's rows' source record."""
    with engine.connect() as connection:
        found = connection.execute(sa.select(table.c.source_data).where(
            table.c.integration_id == integration_id(engine, name))).scalars().all()
    return [set(record) for record in found]


def links_across_integrations(engine: sa.Engine) -> list[tuple[str, str, int]]:
    """Every (table, link, row id) whose parent row belongs to another integration."""
    crossed = []
    with engine.connect() as connection:
        for child, link, parent in PARENT_LINKS:
            parent_row = parent.alias("parent")
            for row_id in connection.execute(
                sa.select(child.c.id).join(parent_row, parent_row.c.id == link)
                .where(parent_row.c.integration_id != child.c.integration_id)
            ).scalars():
                crossed.append((child.name, link.name, row_id))
    return crossed


def row_of(engine: sa.Engine, name: str, table: sa.Table, source_id: int, kind: str = "rental"):
    where = [table.c.kind == kind] if "kind" in table.c else []
    with engine.connect() as connection:
        return connection.execute(sa.select(table).where(
            table.c.integration_id == integration_id(engine, name), table.c.source_id == source_id, *where)).one()


def share_ids_with_buildium(propertyware, buildium, units: int = 3) -> tuple[int, list[int]]:
    """Give the Propertyware account a building, `units` units and a lease on each under the ids of the Buildium
    account's first active rental, its units and their leases (Propertyware's sandbox numbers from 150001, Buildium's
    from 1000; real accounts' ids may coincide). The rental's id and the shared unit ids."""
    rental = min(r["Id"] for r in buildium.records("rentals") if r["IsActive"])
    shared_units = sorted(u["Id"] for u in buildium.records("rentalunits") if u["PropertyId"] == rental)[:units]
    unit_leases = {lease["UnitId"]: lease["Id"] for lease in buildium.records("leases")}
    building = next(b for b in propertyware.records("buildings") if b["active"])
    unit = next(u for u in propertyware.records("units") if u["active"] and u["buildingID"] == building["id"])
    lease = propertyware.records("leases")[0]
    propertyware.add("buildings", {**building, "id": rental, "name": f"Building {rental}"})
    for unit_id in shared_units:
        propertyware.add("units", {**unit, "id": unit_id, "buildingID": rental, "name": f"Unit {unit_id}"})
        propertyware.add("leases", {**lease, "id": unit_leases[unit_id], "unitID": unit_id, "buildingID": rental,
                                    "contacts": [{k: v for k, v in c.items() if k != "id"} for c in lease["contacts"]]})
    return rental, shared_units
