"""Removing an integration keeps its rows, inactive; its syncs are refused; bringing it back restores exactly the rows
the removal deactivated and the next sync applies every record again. The other integration is untouched
(SQLite and PostgreSQL; two companies whose sources share ids, configured as blocks are). Removal stops a running
sync at its next page instead of waiting for it, and refuses the integration the environment configures."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from pmsync.integrations.integration import CONFIGURED_IN_BLOCK
from pmsync.jobs.steps import PLAIN_STEPS
from pmsync.jobs.sync import sync_integration
from pmsync.runs.locks import LockLost, acquire, renew
from pmsync.platform.database import migrate
from pmsync.integrations.retirement import (
    REMOVAL_REASON,
    IntegrationRemoved,
    RetirementRefused,
    integration_tables,
    reinstate_integration,
    retire_integration,
)
from pmsync.runs.bookkeeping import utc_now
from sandbox import SandboxServer
from sandbox.slowdowns import Slowdown
from schemas.tables import (
    integration_locks, integrations, leases, properties, property_logs, sync_runs, unapplied_records, units,
)
from tests.flows.three_companies import SharedPlatform
from tests.unit.test_cli_exit_codes import run_pmsync

COMPANIES = ("acme", "birch")
ENVIRONMENTS = "default"
"""The environment's integration name in these tests: the companies are blocks, none is named like it."""
LEASE = timedelta(minutes=5)
STOPPED = IntegrationRemoved
"""How a sync's renewal finds its lock taken away by a removal: its integration removed (not a bare LockLost)."""


def sync_as_block(platform: SharedPlatform, name: str, flow: str = "initial") -> dict:
    """A sync of company `name` configured as a block is (the library's job with the plain steps, no Prefect)."""
    account = replace(platform.integration(name), configured_in=CONFIGURED_IN_BLOCK)
    streams = account.rules.streams if flow != "lease" else (account.rules.stream("leases"),)
    return sync_integration(PLAIN_STEPS, account, flow, streams, 72.0 if flow == "delta" else None)


def held_hashes(platform: SharedPlatform, name: str) -> set:
    """The payload hashes of the records the integration's syncs held back (parked or excluded): at least one."""
    with platform.engine.connect() as connection:
        hashes = set(connection.execute(sa.select(unapplied_records.c.source_hash).where(
            unapplied_records.c.integration_id == platform.id_of(name))).scalars())
    assert hashes, f"{name}'s source holds records its syncs hold back"
    return hashes


def retire(platform: SharedPlatform, name: str):
    return retire_integration(platform.engine, name, environment_integration=ENVIRONMENTS)


@pytest.fixture
def two(monkeypatch: pytest.MonkeyPatch, platform_url: str) -> Iterator[SharedPlatform]:
    """acme and birch after their initial syncs, from sources with the same ids."""
    with ExitStack() as stack:
        sandboxes = {name: stack.enter_context(SandboxServer(units=12, seed=7)) for name in COMPANIES}
        platform = SharedPlatform(monkeypatch, platform_url, sandboxes)
        stack.callback(platform.engine.dispose)
        for name in COMPANIES:
            sync_as_block(platform, name)
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

    assert held_hashes(platform, "acme") - {None}, "records held back keep their payload's hash"

    removed = retire(platform, "acme")

    assert removed.on_platform and not removed.already_removed and removed.removed_at is not None
    assert removed.rows == {name: active for name, (_, active) in before.items()}
    after = counts(platform, "acme")
    assert after == {name: (rows, 0) for name, (rows, _) in before.items()}, "rows are kept, all inactive"
    assert counts(platform, "birch") == untouched
    reasons = {row.deactivation_reason for row in platform.rows("acme", units, units.c.deactivation_reason)}
    assert reasons == {REMOVAL_REASON, "missing from source"}
    hashes = {row.source_hash for row in platform.rows("acme", leases, leases.c.source_hash)}
    assert hashes == {None}, "the next sync after a comeback applies every lease again"
    assert held_hashes(platform, "acme") == {None}, "and checks every record it held back again"
    with platform.engine.connect() as connection:
        logged = connection.execute(
            sa.select(sa.func.count()).select_from(property_logs).join(properties)
            .where(properties.c.integration_id == platform.id_of("acme"), property_logs.c.event == "integration_removed")
        ).scalar_one()
        stamped = connection.execute(sa.select(integrations.c.name, integrations.c.removed_at)).all()
    assert logged == before["properties"][1]
    assert {name: at is not None for name, at in stamped} == {"acme": True, "birch": False}
    assert retire(platform, "acme").already_removed
    assert retire(platform, "never-synced").on_platform is False

    with pytest.raises(IntegrationRemoved, match=r"integration 'acme' was removed .*`pmsync integration add acme`"):
        platform.run("delta-sync", "acme")
    with pytest.raises(IntegrationRemoved):
        platform.run("property-reconciliation", "acme")
    refused = run_pmsync("sync", "delta", env=platform.env("acme"))
    assert refused.returncode != 0
    assert "`pmsync integration add acme` to sync it again" in refused.stderr
    assert sync_as_block(platform, "birch", "delta")["run_id"]
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
    sync_as_block(platform, "acme")
    hashes = [row.source_hash for row in platform.rows("acme", leases, leases.c.source_hash)]
    assert None not in hashes, "every lease was checked against the source again and its hash stored"
    assert counts(platform, "acme")["residents"] == before["residents"]


def test_the_integration_the_environment_configures_is_never_retired(monkeypatch, platform_url):
    """The `retire` deployment run with the environment's integration's name (issue 23) changes nothing."""
    with SandboxServer(units=6, seed=7) as source:
        platform = SharedPlatform(monkeypatch, platform_url, {"acme": source, ENVIRONMENTS: source, "legacy": source})
        try:
            platform.run("initial-sync", "acme")  # acme's environment: PMSYNC_INTEGRATION_NAME=acme
            for name in (ENVIRONMENTS, "legacy"):
                platform.run("initial-sync", name)
            with platform.engine.begin() as connection:  # registered before where they are configured was recorded
                connection.execute(sa.update(integrations).where(integrations.c.name.in_([ENVIRONMENTS, "legacy"]))
                                   .values(configured_in=None))
            before = {name: counts(platform, name) for name in ("acme", ENVIRONMENTS, "legacy")}

            with pytest.raises(RetirementRefused, match=r"integration 'acme' is configured by the PMSYNC_\* environment, "
                                                        r"not by a block, so it is not retired and nothing was changed"):
                retire(platform, "acme")
            with pytest.raises(RetirementRefused, match=f"integration '{ENVIRONMENTS}' is configured by the PMSYNC_"):
                retire(platform, ENVIRONMENTS)
            assert {name: counts(platform, name) for name in ("acme", ENVIRONMENTS)} == {
                name: before[name] for name in ("acme", ENVIRONMENTS)}
            legacy = retire(platform, "legacy")
        finally:
            platform.engine.dispose()
    assert legacy.rows["units"] == before["legacy"]["units"][1] > 0, "a legacy row named otherwise is a block's"


def in_background(work: Callable[[], object]) -> tuple[threading.Thread, dict]:
    ended: dict = {}

    def run() -> None:
        try:
            ended["result"] = work()
        except BaseException as failure:
            ended["error"] = failure

    thread = threading.Thread(target=run)
    thread.start()
    return thread, ended


def wait_until(condition: Callable[[], bool], what: str, thread: threading.Thread | None = None) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert thread is None or thread.is_alive(), f"it ended before {what}"
        assert time.monotonic() < deadline, f"not {what} within 120 s"
        time.sleep(0.05)


def active_properties(engine: sa.Engine, name: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(properties).join(integrations)
            .where(integrations.c.name == name, properties.c.active.is_(True))
        ).scalar_one()


def test_a_sync_running_during_retirement_stops_at_its_next_page_and_leaves_no_active_row(monkeypatch, platform_url):
    with SandboxServer(units=12, seed=7) as source:
        platform = SharedPlatform(monkeypatch, platform_url, {"acme": source})
        try:
            monkeypatch.setenv("PMSYNC_PW_PAGE_SIZE", "2")
            source.store.slowdowns.add(Slowdown(0.3, method="GET"))
            account = replace(platform.integration("acme"), configured_in=CONFIGURED_IN_BLOCK)
            migrate(platform.engine)
            running, ended = in_background(lambda: sync_integration(PLAIN_STEPS, account, "initial", account.rules.streams))
            wait_until(lambda: active_properties(platform.engine, "acme") > 0, "writing its first page", running)

            retired = retire(platform, "acme")
            running.join(timeout=180)

            assert not running.is_alive()
            with platform.engine.connect() as connection:
                run = connection.execute(sa.select(sync_runs)).one()
                locks = connection.execute(sa.select(sa.func.count()).select_from(integration_locks)).scalar_one()
            left = counts(platform, "acme")
        finally:
            platform.engine.dispose()
    assert isinstance(ended.get("error"), STOPPED), ended
    assert retired.stopped_sync and retired.stopped_sync.endswith("direct run"), retired
    assert run.status == "failed" and type(ended["error"]).__name__ in run.error
    assert left["properties"][0] > 0 and all(active == 0 for _, active in left.values()), left
    assert locks == 0


def waiting_on_locks(engine: sa.Engine) -> int:
    """PostgreSQL sessions of this database waiting for a lock another transaction holds."""
    with engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )).scalar_one()


@pytest.fixture
def one_synced(monkeypatch, platform_url) -> Iterator[SharedPlatform]:
    """acme, configured as a block, after its initial sync, and the lock of a sync of it under way."""
    with SandboxServer(units=6, seed=7) as source:
        platform = SharedPlatform(monkeypatch, platform_url, {"acme": source})
        try:
            sync_as_block(platform, "acme")
            acquire(platform.engine, "acme", "a running sync", "delta", LEASE, timedelta(0), lambda line: None)
            yield platform
        finally:
            platform.engine.dispose()


def write_a_page(engine: sa.Engine, unit_id: int, before_commit: Callable[[], None] = lambda: None) -> None:
    """A page of the running sync: renew its lock first (as every page does), then write a unit."""
    with engine.begin() as connection:
        renew(connection, "acme", "a running sync", LEASE)
        connection.execute(sa.update(units).where(units.c.id == unit_id).values(name="written by the page", active=True))
        before_commit()


def test_a_page_under_way_commits_first_and_the_removal_deactivates_what_it_wrote(one_synced: SharedPlatform):
    platform = one_synced
    engine = platform.engine
    unit_id = platform.rows("acme", units, units.c.id)[0].id
    retiring: dict = {}

    def retire_while_the_page_is_open() -> None:
        thread, retiring["ended"] = in_background(lambda: retire(platform, "acme"))
        retiring["thread"] = thread
        if engine.dialect.name == "postgresql":  # its delete of the lock row waits for the page's transaction
            wait_until(lambda: waiting_on_locks(engine) == 1, "waiting for the page", thread)

    write_a_page(engine, unit_id, before_commit=retire_while_the_page_is_open)
    retiring["thread"].join(timeout=120)

    assert "error" not in retiring["ended"], retiring["ended"]
    assert retiring["ended"]["result"].stopped_sync == "a running sync"
    [(name, active)] = platform.rows("acme", units, units.c.name, units.c.active, where=units.c.id == unit_id)
    assert (name, active) == ("written by the page", False)
    assert all(active == 0 for _, active in counts(platform, "acme").values())


def test_a_page_starting_during_the_removal_finds_no_lock_and_writes_nothing(one_synced: SharedPlatform):
    """On PostgreSQL (READ COMMITTED) the page's renewal waits for the removal's uncommitted delete of the lock row,
    then finds no row and its integration removed: IntegrationRemoved, the page rolled back. On SQLite one writer at a time: whichever goes first, no row is
    left active."""
    platform = one_synced
    engine = platform.engine
    unit_id = platform.rows("acme", units, units.c.id)[0].id
    postgresql = engine.dialect.name == "postgresql"
    with engine.connect() as blocker:  # holds the integration's row: the removal stops after deleting the lock row
        blocker.begin()
        blocker.execute(sa.update(integrations).where(integrations.c.name == "acme").values(updated_at=utc_now()))
        retiring, retired = in_background(lambda: retire(platform, "acme"))
        if postgresql:
            wait_until(lambda: waiting_on_locks(engine) == 1, "the removal waiting, its lock row deleted", retiring)
        paging, paged = in_background(lambda: write_a_page(engine, unit_id))
        if postgresql:
            wait_until(lambda: waiting_on_locks(engine) == 2, "the page waiting for the removal", paging)
        blocker.commit()
    retiring.join(timeout=120)
    paging.join(timeout=120)

    assert "error" not in retired, retired
    if postgresql or "error" in paged:
        assert isinstance(paged.get("error"), STOPPED), paged
        assert platform.rows("acme", units, units.c.name, where=units.c.id == unit_id)[0].name != "written by the page"
    assert all(active == 0 for _, active in counts(platform, "acme").values())
