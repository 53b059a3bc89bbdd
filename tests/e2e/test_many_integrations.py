"""End to end (issue 17): three integrations sharing source ids on a real Prefect server with PostgreSQL and two workers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import sqlalchemy as sa

from pmsync.platform.database import make_engine
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER, SANDBOX_SYSTEM_ID, SandboxServer
from sandbox.slowdowns import Slowdown
from schemas.tables import integrations, quarantine, reconciliation_snapshots, residents, sync_runs, sync_state, units
from tests.conftest import _postgres_database, source_env
from tests.e2e.prefect_api import BIN, FINAL_STATES, REPO, api, deployment, pmsync, python
from tests.e2e.test_deployments import prefect_server, stop  # noqa: F401  (prefect_server is a fixture)
from tests.flows.three_companies import a_lease_with_a_tenant, give_own_names, keep_stamp, synced_units

GOOD = ("acme", "birch")
BAD = "cedar"
"""Its block holds a wrong client secret: every sync of it fails at the source's authentication."""
WRONG_SECRET = "not-the-client-secret"
BLOCKS = (*GOOD, BAD)
QUARANTINED = "birch"
BAD_EMAIL = "mail@@x"
RUN_TIMEOUT_SECONDS = 120
HOLD_SECONDS = 300.0
"""The most each good source's first lease listing waits: both waits are cut short once both initial syncs are in
their lease listings (so they overlap, however much later a worker poll and a slow process start one of them)."""


@pytest.fixture
def platform_url() -> Iterator[str]:
    """PostgreSQL only (overrides the SQLite-and-PostgreSQL fixture): the acceptance names PostgreSQL; the Prefect
    server of `prefect_server` then runs on PostgreSQL too."""
    yield from _postgres_database()


@pytest.fixture
def no_scheduled_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's scheduler off (requested before `prefect_server`): the deployments' crons (the hourly
    delta) would otherwise put runs of their own on the two workers in the middle of the checks."""
    monkeypatch.setenv("PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED", "false")


@pytest.fixture
def sources() -> Iterator[dict[str, SandboxServer]]:
    """Three sources with the same seed (the same ids), each naming its records after its company; birch's source
    holds one tenant with a malformed e-mail (quarantined on its initial sync)."""
    with ExitStack() as stack:
        servers = {name: stack.enter_context(SandboxServer(units=40, seed=7)) for name in BLOCKS}
        for name, server in servers.items():
            give_own_names(server.store, name)
        lease, tenant = a_lease_with_a_tenant(servers[QUARANTINED].store)
        bad = [{**c, "email": BAD_EMAIL} if c["id"] == tenant["id"] else c for c in lease["contacts"]]
        servers[QUARANTINED].store.update("leases", lease["id"], contacts=bad, **keep_stamp(lease))
        yield servers


def test_three_integrations_sync_concurrently_on_two_workers_each_into_its_own_rows(
    no_scheduled_runs, prefect_server, platform_url, sources, report_measurement,
):
    begun = time.monotonic()
    env = {**prefect_server, **source_env(platform_url, sources["acme"]), "PMSYNC_REPORTS_URL": "http://reports.e2e.invalid"}
    # Saving a block registers its type; `pmsync deploy` creates the work pool (test_integration_lifecycle checks it).
    python(env, "from pmsync.integrations.blocks import PropertywareIntegration as P\n" + "".join(
        f"P(base_url={sources[name].base_url!r}, client_id={SANDBOX_CLIENT_ID!r}, "
        f"client_secret={(SANDBOX_CLIENT_SECRET if name != BAD else WRONG_SECRET)!r}, "
        f"system_id={SANDBOX_SYSTEM_ID!r}, integration_user={SANDBOX_INTEGRATION_USER!r}).save({name!r}, overwrite=True)\n"
        for name in BLOCKS
    ))
    done = pmsync(env, "deploy")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"for 3 integration(s): {', '.join(sorted(BLOCKS))}" in done.stdout
    report_measurement(f"e2e many: blocks, work pool and `pmsync deploy` for 3 integrations in {time.monotonic() - begun:.1f} s")
    workers = [
        subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "pmsync", "--name", f"e2e-many-{n}"], env=env,
                         cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for n in (1, 2)
    ]
    try:
        for name in GOOD:
            sources[name].store.slowdowns.add(Slowdown(HOLD_SECONDS, "/leases", "GET", times=1))
        started = time.monotonic()
        initial = run_all_at_once(env, "initial-sync", "initial", meanwhile=release_once_both_list_leases(sources))
        report_measurement(f"e2e many: 3 initial syncs at once on 2 workers final in {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        delta = run_all_at_once(env, "delta-sync", "now")
        report_measurement(f"e2e many: 3 forced deltas at once on 2 workers final in {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        reconciled = run_all_at_once(env, "property-reconciliation", "reconcile", blocks=("acme",))
        report_measurement(f"e2e many: reconciliation of acme final in {time.monotonic() - started:.1f} s")
    finally:
        stop(workers)

    for runs in (initial, delta):
        assert {name: run["state_type"] for name, run in runs.items()} == {"acme": "COMPLETED", "birch": "COMPLETED", "cedar": "FAILED"}
        assert all(run["parameters"] == {"integration": name} for name, run in runs.items())
    assert reconciled["acme"]["state_type"] == "COMPLETED" and reconciled["acme"]["parameters"] == {"integration": "acme"}

    engine = make_engine(platform_url)
    try:
        check_platform(engine, sources, report_measurement)
    finally:
        engine.dispose()
    report_measurement(f"e2e many: whole test after the server was up {time.monotonic() - begun:.1f} s")


def release_once_both_list_leases(sources: dict[str, SandboxServer]):
    """Called at each poll: once both good sources' held lease listings are waiting (their slowdowns taken), ends both
    waits. A wait still queued after HOLD_SECONDS - 60 is dropped, so a run that never came is not held later."""
    deadline = time.monotonic() + HOLD_SECONDS - 60
    stores = [sources[name].store for name in GOOD]
    held = list(stores)

    def poll() -> None:
        if not held or (any(store.slowdowns.listed() for store in stores) and time.monotonic() < deadline):
            return
        for store in stores:
            store.slowdowns.clear()
            store.slowdowns.cut_short()
        held.clear()
    return poll


def run_all_at_once(env: dict[str, str], flow: str, prefix: str, blocks: tuple[str, ...] = BLOCKS,
                    meanwhile=lambda: None) -> dict[str, dict]:
    """Runs of `<flow>/<prefix>-<block>` for every block, created back to back, once all of them are final (calling
    `meanwhile` at each poll)."""
    created = {name: api(env, "POST", f"/deployments/{deployment(env, flow, f'{prefix}-{name}')['id']}/create_flow_run", {})["id"]
               for name in blocks}
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while True:
        meanwhile()
        runs = {name: api(env, "GET", f"/flow_runs/{run_id}") for name, run_id in created.items()}
        if all(run["state_type"] in FINAL_STATES for run in runs.values()):
            return runs
        assert time.monotonic() < deadline, {name: (run["state_type"], run["state_name"]) for name, run in runs.items()}
        time.sleep(0.5)


def check_platform(engine: sa.Engine, sources: dict[str, SandboxServer], report_measurement) -> None:
    with engine.connect() as connection:
        ids = dict(connection.execute(sa.select(integrations.c.name, integrations.c.id)).all())

        def of(name: str, *columns: sa.Column, where=sa.true()) -> list:
            table = columns[0].table
            return connection.execute(sa.select(*columns).where(table.c.integration_id == ids[name], where)).all()

        for name in GOOD:
            landed = {row.source_id for row in of(name, units.c.source_id)}
            assert landed == synced_units(sources[name].store), name
            assert {row.name for row in of(name, units.c.name)} == {f"{name.title()} unit {i}" for i in landed}, name
            marks = of(name, sync_state.c.stream, sync_state.c.run_id)
            assert marks, name
            own_runs = {row.id for row in of(name, sync_runs.c.id)}
            assert {row.run_id for row in marks} <= own_runs, name
            statuses = sorted((row.flow, row.status) for row in of(name, sync_runs.c.flow, sync_runs.c.status))
            reconciled = [("reconcile", "succeeded")] if name == "acme" else []
            assert statuses == [("delta", "succeeded"), ("initial", "succeeded"), *reconciled], (name, statuses)

        assert BAD in ids, f"the integration {BAD} with bad credentials has no platform row (so no failed run): {ids}"
        assert of(BAD, units.c.id) == [] and of(BAD, sync_state.c.stream) == []
        statuses = sorted((row.flow, row.status) for row in of(BAD, sync_runs.c.flow, sync_runs.c.status))
        assert statuses == [("delta", "failed"), ("initial", "failed")], statuses
        errors = [row.error for row in of(BAD, sync_runs.c.error)]
        assert all(error and WRONG_SECRET not in error for error in errors), errors

        tenant = str(malformed_tenant(sources[QUARANTINED].store))
        for name in GOOD:
            held = of(name, quarantine.c.entity, quarantine.c.status, where=quarantine.c.source_id == tenant)
            assert (("resident", "open") in [tuple(row) for row in held]) == (name == QUARANTINED), (name, held)
        assert of(QUARANTINED, residents.c.id, where=residents.c.source_id == int(tenant)) == []
        assert of("acme", residents.c.email, where=residents.c.source_id == int(tenant))[0].email != BAD_EMAIL

        assert len(of("acme", reconciliation_snapshots.c.id)) == 1
        assert of("birch", reconciliation_snapshots.c.id) == []
        assert of(BAD, reconciliation_snapshots.c.id) == []

        first = {name: of(name, sync_runs.c.started_at, sync_runs.c.finished_at, where=sync_runs.c.flow == "initial")[0]
                 for name in GOOD}
    acme, birch = first["acme"], first["birch"]
    overlapped = acme.started_at < birch.finished_at and birch.started_at < acme.finished_at
    times = (f"initial syncs acme {acme.started_at:%H:%M:%S.%f}–{acme.finished_at:%H:%M:%S.%f}, "
             f"birch {birch.started_at:%H:%M:%S.%f}–{birch.finished_at:%H:%M:%S.%f}")
    report_measurement(f"e2e many: {times}")
    assert overlapped, f"the two good initial syncs ran one after the other on two workers: {times}"


def malformed_tenant(store) -> int:
    return next(c["id"] for lease in store.records("leases") for c in lease.get("contacts") or [] if c.get("email") == BAD_EMAIL)
