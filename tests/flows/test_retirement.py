"""Removing an integration keeps its rows, inactive; its syncs are refused; bringing it back restores exactly the rows
the removal deactivated and the next sync applies every record again. The other integration is untouched
(SQLite and PostgreSQL; two companies whose sources share ids)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta

import pytest
import sqlalchemy as sa

from pmsync.locks import IntegrationBusy, acquire, release
from pmsync.retirement import (
    REMOVAL_REASON,
    IntegrationRemoved,
    integration_tables,
    reinstate_integration,
    retire_integration,
)
from pmsync.runs import utc_now
from sandbox import SandboxServer
from schemas.tables import integrations, leases, properties, property_logs, units
from tests.flows.three_companies import SharedPlatform
from tests.unit.test_cli_exit_codes import run_pmsync

COMPANIES = ("acme", "birch")


@pytest.fixture
def two(monkeypatch: pytest.MonkeyPatch, platform_url: str) -> Iterator[SharedPlatform]:
    """acme and birch after their initial syncs, from sources with the same ids."""
    with ExitStack() as stack:
        sandboxes = {name: stack.enter_context(SandboxServer(units=12, seed=7)) for name in COMPANIES}
        platform = SharedPlatform(monkeypatch, platform_url, sandboxes)
        stack.callback(platform.engine.dispose)
        for name in COMPANIES:
            platform.run("initial-sync", name)
        yield platform


def counts(platform: SharedPlatform, name: str) -> dict[str, tuple[int, int]]:
    """(rows, active rows) per table of the integration."""
    found = {}
    for table in integration_tables():
        rows = platform.rows(name, table, table.c.active)
        found[table.name] = (len(rows), sum(1 for row in rows if row.active))
    return found


def test_removal_keeps_rows_inactive_refuses_syncs_and_reinstating_restores_them(two: SharedPlatform):
    platform = two
    earlier = utc_now() - timedelta(days=3)
    with platform.engine.begin() as connection:  # a unit a reconciliation deactivated before: it must stay inactive
        gone = connection.execute(
            sa.select(units.c.id).where(units.c.integration_id == platform.id_of("acme")).order_by(units.c.id).limit(1)
        ).scalar_one()
        connection.execute(sa.update(units).where(units.c.id == gone).values(
            active=False, deactivated_at=earlier, deactivation_reason="missing from source", updated_at=earlier))
    before = counts(platform, "acme")
    untouched = counts(platform, "birch")
    assert before["units"][0] == 12 and before["leases"][0] > 0 and before["residents"][0] > 0

    removed = retire_integration(platform.engine, "acme")

    assert removed.on_platform and not removed.already_removed and removed.removed_at is not None
    assert removed.rows == {name: active for name, (_, active) in before.items()}
    after = counts(platform, "acme")
    assert after == {name: (rows, 0) for name, (rows, _) in before.items()}, "rows are kept, all inactive"
    assert counts(platform, "birch") == untouched
    reasons = {row.deactivation_reason for row in platform.rows("acme", units, units.c.deactivation_reason)}
    assert reasons == {REMOVAL_REASON, "missing from source"}
    hashes = {row.source_hash for row in platform.rows("acme", leases, leases.c.source_hash)}
    assert hashes == {None}, "the next sync after a comeback applies every lease again"
    with platform.engine.connect() as connection:
        logged = connection.execute(
            sa.select(sa.func.count()).select_from(property_logs).join(properties)
            .where(properties.c.integration_id == platform.id_of("acme"), property_logs.c.event == "integration_removed")
        ).scalar_one()
        stamped = connection.execute(sa.select(integrations.c.name, integrations.c.removed_at)).all()
    assert logged == before["properties"][1]
    assert {name: at is not None for name, at in stamped} == {"acme": True, "birch": False}
    assert retire_integration(platform.engine, "acme").already_removed
    assert retire_integration(platform.engine, "never-synced").on_platform is False

    with pytest.raises(IntegrationRemoved, match=r"integration 'acme' was removed .*`pmsync integration add acme`"):
        platform.run("delta-sync", "acme")
    with pytest.raises(IntegrationRemoved):
        platform.run("property-reconciliation", "acme")
    refused = run_pmsync("sync", "delta", env=platform.env("acme"))
    assert refused.returncode != 0
    assert "`pmsync integration add acme` to sync it again" in refused.stderr
    assert platform.run("delta-sync", "birch")["run_id"]
    a_unit = platform.rows("acme", units, units.c.source_id, where=units.c.id != gone)[0].source_id
    explained = run_pmsync("explain", "unit", str(a_unit), "--no-source", env=platform.env("acme"))
    assert explained.returncode == 0, explained.stderr[-2000:]
    assert "integration 'acme' was removed from the platform at" in explained.stdout
    assert f"unit {a_unit} is on the platform" in explained.stdout and f"inactive ({REMOVAL_REASON})" in explained.stdout

    back = reinstate_integration(platform.engine, "acme")

    assert back.was_removed and back.rows == removed.rows
    assert counts(platform, "acme") == before
    assert [row.active for row in platform.rows("acme", units, units.c.active, where=units.c.id == gone)] == [False]
    assert not reinstate_integration(platform.engine, "acme").was_removed
    platform.run("initial-sync", "acme")
    hashes = [row.source_hash for row in platform.rows("acme", leases, leases.c.source_hash)]
    assert None not in hashes, "every lease was checked against the source again and its hash stored"
    assert counts(platform, "acme")["residents"] == before["residents"]


def test_removal_waits_for_the_running_sync(two: SharedPlatform):
    acquire(two.engine, "acme", "a running delta", "delta", timedelta(minutes=5), timedelta(0), lambda line: None)
    try:
        with pytest.raises(IntegrationBusy):
            retire_integration(two.engine, "acme", lock_wait_seconds=0.5)
    finally:
        release(two.engine, "acme", "a running delta")
    assert counts(two, "acme")["units"] == (12, 12), "nothing changed while the sync held the lock"
    assert retire_integration(two.engine, "acme").rows["units"] == 12
