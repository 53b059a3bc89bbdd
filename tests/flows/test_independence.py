"""Independent integrations: six `pmsync` processes, one per integration and each with its own sandbox account, run at
the same time on one platform database (SQLite and PostgreSQL). One integration's failure — credentials refused, a
source down, a quality stop, a refused mass deactivation — fails that integration's run only; the others go on, their
runs overlap in time (each holds its own lock), and `pmsync runs --integration NAME` shows each one's runs alone.
First runs at once on a fresh platform migrate it once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import sqlalchemy as sa

from pmsync.cli.common import EXIT_CONFIGURATION, EXIT_REFUSED, EXIT_SOURCE_UNAVAILABLE
from sandbox import SandboxServer
from sandbox.faults import status_fault
from sandbox.slowdowns import Slowdown
from schemas.tables import integrations, sync_runs, units
from tests.conftest import source_env

SLOW = "harbour"
"""Its initial sync crawls (every request slowed, two records a page) until every other run has ended."""
RECONCILES, REFUSES = "lakeside", "meadow"
"""Synced first; then one reconciliation deactivates a unit gone from the source, the other finds every unit gone."""
KEYLESS, OUTAGE, MUDDLE = "keyless", "outage", "muddle"
"""Initial syncs that fail: a secret the source refuses, a source answering 503 to everything, half the units broken."""
ALL = [SLOW, RECONCILES, REFUSES, KEYLESS, OUTAGE, MUDDLE]


@pytest.fixture
def sources() -> Iterator[dict[str, SandboxServer]]:
    """A small sandbox account of its own for each integration."""
    with ExitStack() as stack:
        yield {name: stack.enter_context(SandboxServer(units=20, seed=11 + i)) for i, name in enumerate(ALL)}


def environment(name: str, source: SandboxServer, platform_url: str, **overrides: str) -> dict[str, str]:
    """A worker's environment for one integration: its own account and name, the shared platform, no Prefect server."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PMSYNC_"))}
    return {
        **inherited, "COLUMNS": "200",
        **source_env(platform_url, source, PMSYNC_INTEGRATION_NAME=name, PMSYNC_PW_MAX_ATTEMPTS="2",
                     PMSYNC_PW_BACKOFF_SECONDS="0.01", **overrides),
    }


def start(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from pmsync.cli import app; app()", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def runs_by_integration(engine: sa.Engine) -> dict[str, list]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(integrations.c.name, sync_runs).join(sync_runs).order_by(sync_runs.c.id)
        ).all()
    found: dict[str, list] = {}
    for row in rows:
        found.setdefault(row.name, []).append(row)
    return found


def wait_for_running_run(engine: sa.Engine, name: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = runs_by_integration(engine).get(name, [])
        if running and running[-1].status == "running":
            return
        assert process.poll() is None, f"{name} ended before the others started: {finish(process).stderr[-2000:]}"
        time.sleep(0.1)
    pytest.fail(f"{name}'s run did not start within 120 s")


def units_of(engine: sa.Engine, name: str, active: bool) -> int:
    with engine.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(units).join(integrations)
            .where(integrations.c.name == name, units.c.active.is_(active))
        ).scalar_one()


class ConnectionPeak:
    """The most connections the platform's PostgreSQL database had open, sampled every 50 ms (0 on SQLite)."""

    def __init__(self, engine: sa.Engine):
        self.engine, self.peak, self._stop = engine, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> ConnectionPeak:
        if self.engine.dialect.name == "postgresql":
            self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _sample(self) -> None:
        with self.engine.connect() as connection:
            while not self._stop.wait(0.05):
                others = connection.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )).scalar_one()
                connection.rollback()  # pg_stat_activity is read once per transaction
                self.peak = max(self.peak, others)


def test_failures_stay_with_their_integration_while_the_others_sync_at_the_same_time(
    sources, platform_url, platform_engine, report_measurement
):
    env = {name: environment(name, sources[name], platform_url) for name in ALL}
    env[SLOW]["PMSYNC_PW_PAGE_SIZE"] = "2"
    env[KEYLESS]["PMSYNC_PW_CLIENT_SECRET"] = "wrong-secret"
    for done in map(finish, [start(env[name], "sync", "initial") for name in (RECONCILES, REFUSES)]):
        assert done.returncode == 0, done.stderr[-2000:]
    gone = min(u["id"] for u in sources[RECONCILES].store.records("units") if u["active"])
    sources[RECONCILES].store.delete("units", gone)
    for unit in sources[REFUSES].store.records("units"):
        sources[REFUSES].store.delete("units", unit["id"])
    sources[OUTAGE].store.inject(status_fault(None, 503, times=10_000))
    for unit in [u for u in sources[MUDDLE].store.records("units") if u["active"]][::2]:
        sources[MUDDLE].store.update("units", unit["id"], buildingID=None)
    sources[SLOW].store.slowdowns.add(Slowdown(seconds=2))
    began = time.monotonic()

    with ConnectionPeak(platform_engine) as connections:
        slow = start(env[SLOW], "sync", "initial")
        wait_for_running_run(platform_engine, SLOW, slow)
        others = {
            RECONCILES: start(env[RECONCILES], "reconcile"),
            REFUSES: start(env[REFUSES], "reconcile"),
            **{name: start(env[name], "sync", "initial") for name in (KEYLESS, OUTAGE, MUDDLE)},
        }
        ended = {name: finish(process) for name, process in others.items()}
        slow_status_when_the_others_had_ended = runs_by_integration(platform_engine)[SLOW][-1].status
        sources[SLOW].store.slowdowns.clear()
        ended[SLOW] = finish(slow)
    report_measurement(
        f"independence ({platform_engine.dialect.name}): 6 integrations at once in {time.monotonic() - began:.1f} s "
        f"(the slowed one: {runs_by_integration(platform_engine)[SLOW][0].source_requests} requests); "
        f"peak platform connections {connections.peak if platform_engine.dialect.name == 'postgresql' else 'n/a'}"
    )

    exits = {name: done.returncode for name, done in ended.items()}
    assert exits == {SLOW: 0, RECONCILES: 0, REFUSES: EXIT_REFUSED, KEYLESS: EXIT_CONFIGURATION,
                     OUTAGE: EXIT_SOURCE_UNAVAILABLE, MUDDLE: EXIT_REFUSED}, {n: d.stderr[-600:] for n, d in ended.items()}
    assert slow_status_when_the_others_had_ended == "running", "the slowed sync ended before the others: slow it more"
    runs = runs_by_integration(platform_engine)
    assert {name: [(run.flow, run.status) for run in runs[name]] for name in ALL} == {
        SLOW: [("initial", "succeeded")],
        RECONCILES: [("initial", "succeeded"), ("reconcile", "succeeded")],
        REFUSES: [("initial", "succeeded"), ("reconcile", "failed")],
        KEYLESS: [("initial", "failed")], OUTAGE: [("initial", "failed")], MUDDLE: [("initial", "failed")],
    }
    failed_with = {name: runs[name][-1].error.split(":")[0] for name in (REFUSES, KEYLESS, OUTAGE, MUDDLE)}
    assert failed_with == {REFUSES: "MassDeactivationRefused", KEYLESS: "SourceAuthError",
                           OUTAGE: "SourceUnavailable", MUDDLE: "DataQualityError"}
    slow_run = runs[SLOW][0]
    for name in ALL[1:]:
        run = runs[name][-1]
        assert run.started_at < slow_run.finished_at and slow_run.started_at < run.finished_at, name

    active = sum(1 for u in sources[SLOW].store.records("units") if u["active"])
    assert units_of(platform_engine, SLOW, active=True) == active > 0
    assert (units_of(platform_engine, RECONCILES, active=False), units_of(platform_engine, REFUSES, active=False)) == (1, 0)
    assert units_of(platform_engine, REFUSES, active=True) > 0
    assert [units_of(platform_engine, name, active=True) for name in (KEYLESS, OUTAGE, MUDDLE)] == [0, 0, 0]
    assert f"initial sync — run {slow_run.id} · {SLOW}" in ended[SLOW].stdout
    assert f"reconciliation — run {runs[RECONCILES][-1].id} · {RECONCILES}" in ended[RECONCILES].stdout

    check_runs_command_shows_each_integration_alone(env, runs)


def check_runs_command_shows_each_integration_alone(env: dict[str, dict[str, str]], runs: dict[str, list]) -> None:
    listings = {
        (name, form): start(env[SLOW], "runs", "--integration", name, *form)
        for name in ALL for form in (("--json",), ())
    }
    listed = {key: finish(process) for key, process in listings.items()}
    for name in ALL:
        as_json, as_table = listed[name, ("--json",)], listed[name, ()]
        assert as_json.returncode == as_table.returncode == 0, as_json.stderr[-2000:] + as_table.stderr[-2000:]
        assert [(run["id"], run["integration"], run["status"]) for run in json.loads(as_json.stdout)] == [
            (run.id, name, run.status) for run in reversed(runs[name])
        ]
        header, *lines = as_table.stdout.splitlines()[:-1]  # a line per run, newest first (run, flow, integration, …)
        assert as_table.stdout.splitlines()[-1] == "a run's counts per entity, reasons and error: pmsync runs show ID"
        assert header.split()[:3] == ["run", "flow", "integration"], as_table.stdout
        assert [line.split()[:3] for line in lines] == [[str(run.id), run.flow, name] for run in reversed(runs[name])], \
            as_table.stdout
        assert runs[name][-1].status in lines[0].split(), as_table.stdout


def test_first_runs_of_several_integrations_at_once_migrate_a_fresh_platform_once(platform_url, platform_engine):
    code = "from pmsync.platform.database import make_engine, migrate; import sys; migrate(make_engine(sys.argv[1]))"
    starting = [subprocess.Popen([sys.executable, "-c", code, platform_url], stderr=subprocess.PIPE, text=True)
                for _ in range(4)]

    failures = [process.communicate(timeout=120)[1] for process in starting if process.wait(timeout=120) != 0]

    assert failures == []
    with platform_engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        assert connection.execute(sa.select(sa.func.count()).select_from(integrations)).scalar_one() == 0
