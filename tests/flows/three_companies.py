"""Three companies on one platform database for the isolation tests: each with its own sandbox source (same seed, so
the same ids) and environment, their jobs run with the plain steps and their read-only commands as `pmsync` processes."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from pmsync.integrations.integration import Integration, integration_from_environment
from pmsync.jobs import JOBS
from pmsync.platform.database import make_engine
from sandbox import SandboxServer
from schemas.tables import integrations
from tests.conftest import source_env
from tests.unit.test_cli_exit_codes import run_pmsync


class SharedPlatform:
    """Three companies' sandboxes (same seed, so the same source ids) syncing into one platform database."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, url: str, sandboxes: dict[str, SandboxServer]):
        self.monkeypatch, self.url, self.sandboxes = monkeypatch, url, sandboxes
        self.engine = make_engine(url)
        self.initial: dict[str, dict] = {}
        self.lease: dict = {}
        self.tenant: dict = {}
        self.parked_lease: dict = {}
        self.deleted_unit = 0

    def store(self, name: str):
        return self.sandboxes[name].store

    def env(self, name: str) -> dict[str, str]:
        """The PMSYNC_* environment of company `name`: its own source account, the shared platform database."""
        return source_env(self.url, self.sandboxes[name], PMSYNC_INTEGRATION_NAME=name)

    def become(self, name: str) -> None:
        for variable, value in self.env(name).items():
            self.monkeypatch.setenv(variable, value)

    def run(self, job: str, name: str, **parameters) -> dict:
        """A job of company `name`, as its environment's default integration."""
        self.become(name)
        return JOBS[job](**parameters)

    def integration(self, name: str) -> Integration:
        self.become(name)
        return integration_from_environment()

    def cli_json(self, name: str, *args: str):
        done = run_pmsync(*args, "--integration", name, "--json", env=self.env(name))
        assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
        return json.loads(done.stdout)

    def id_of(self, name: str) -> int:
        with self.engine.connect() as connection:
            return connection.execute(sa.select(integrations.c.id).where(integrations.c.name == name)).scalar_one()

    def rows(self, name: str, table: sa.Table, *columns: sa.Column, where=sa.true()) -> list:
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(*columns).where(table.c.integration_id == self.id_of(name), where)
            ).all()


def keep_stamp(record: dict) -> dict:
    """The record's own modification time, so an edit made before the first sync is not re-read by every delta."""
    return {"lastModifiedDateTime": record["lastModifiedDateTime"]}


def give_own_names(store, company: str) -> None:
    """Every building and unit named after the company: the same ids carry different data in each source."""
    for building in store.records("buildings"):
        store.update("buildings", building["id"], name=f"{company.title()} building {building['id']}", **keep_stamp(building))
    for unit in store.records("units"):
        store.update("units", unit["id"], name=f"{company.title()} unit {unit['id']}", **keep_stamp(unit))


def synced_units(store) -> set[int]:
    """Active units of active buildings: those an initial sync loads."""
    buildings = {b["id"] for b in store.records("buildings") if b["active"]}
    return {u["id"] for u in store.records("units") if u["active"] and u["buildingID"] in buildings}


def a_lease_with_a_tenant(store) -> tuple[dict, dict]:
    """An active lease on a synced unit, and one of its Tenant contacts (a resident everywhere it loads)."""
    loaded = synced_units(store)
    for lease in store.records("leases"):
        tenant = next((c for c in lease.get("contacts") or [] if c["role"] == "Tenant" and c.get("email")), None)
        if lease["active"] and lease["unitID"] in loaded and tenant:
            return lease, tenant
    raise AssertionError("the sandbox has no active lease with a tenant on a synced unit")


def other_lease(store, not_this: int) -> dict:
    loaded = synced_units(store)
    return next(l for l in store.records("leases") if l["unitID"] in loaded and l["id"] != not_this)
