"""The pipelined sync (pages in flight, PMSYNC_PW_CONCURRENCY=3, small pages) through drift, a killed run and a 500
storm ends with exactly the rows a plain run makes from an undisturbed copy of the same portfolio."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from prefect.settings import PREFECT_API_URL

from flows.delta_sync import delta_sync
from flows.initial_sync import initial_sync
from pmsync.platform.database import make_engine
from sandbox import SandboxServer, SandboxStore
from sandbox.constants import ENTITIES
from sandbox.faults import drift_fault, status_fault
from sandbox.slowdowns import Slowdown
from schemas.tables import sync_runs
from tests.flows.test_interrupted_run import platform_state

pytestmark = pytest.mark.flow

PMSYNC = str(Path(sys.executable).with_name("pmsync"))
STORM = 8
"""Consecutive HTTP 500s a storm sends: within the retry budget below (PMSYNC_PW_MAX_ATTEMPTS=10)."""
PIPELINED = {"PMSYNC_PW_CONCURRENCY": "3", "PMSYNC_PW_PAGE_SIZE": "4", "PMSYNC_PW_MAX_ATTEMPTS": "10",
             "PMSYNC_PW_BACKOFF_SECONDS": "0.01"}
PLAIN = {"PMSYNC_PW_CONCURRENCY": "1", "PMSYNC_PW_PAGE_SIZE": "500"}


def portfolio(store: SandboxStore) -> dict[str, list[dict]]:
    """A copy of every record the source holds now."""
    return {entity: store.records(entity) for entity in ENTITIES}


def storm(store: SandboxStore, *paths: str) -> None:
    for path in paths:
        store.inject(status_fault(path, 500, times=STORM))


def kill_a_delta_run_mid_sync(store: SandboxStore) -> None:
    """A `pmsync sync delta` process (pipelined settings from the environment) killed once it reached /leases, which
    answers 503 until then; its lock cleared by hand as an operator would."""
    store.inject(status_fault("/leases", 503, times=10_000))
    store.clear_requests_log()
    env = {**os.environ, "PMSYNC_PW_MAX_ATTEMPTS": "10000", "PREFECT_API_URL": PREFECT_API_URL.value()}
    process = subprocess.Popen([PMSYNC, "sync", "delta"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while not any(path == "/leases" for _, path, _ in store.requests_log):
        assert process.poll() is None and time.monotonic() < deadline, "the delta run ended before reaching /leases"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    store.clear_faults()
    unlocked = subprocess.run([PMSYNC, "unlock", "default"], env=env, capture_output=True, text=True, timeout=180)
    assert unlocked.returncode == 0, unlocked.stderr


def change_the_source(store: SandboxStore) -> None:
    for unit in store.records("units")[5:20]:
        store.update("units", unit["id"], name=f"{unit['name']} (renamed)")
    for lease in store.records("leases")[3:18]:
        store.update("leases", lease["id"], baseRent=(lease.get("baseRent") or 1000) + 10)
    store.spawn("workorders", 2)


def assert_same_rows(pipelined: dict[str, set], plain: dict[str, set]) -> None:
    """Equal states, or an error naming per table the rows only one run has (the first few, by source id)."""
    problems = []
    for table in sorted(set(pipelined) | set(plain)):
        only_pipelined = pipelined.get(table, set()) - plain.get(table, set())
        only_plain = plain.get(table, set()) - pipelined.get(table, set())
        if only_pipelined or only_plain:
            problems.append(f"{table}: only after the pipelined runs {sorted(only_pipelined)[:3]}; "
                            f"only after the plain run {sorted(only_plain)[:3]}")
    assert not problems, "\n".join(problems)


def test_a_pipelined_sync_through_drift_a_killed_run_and_a_500_storm_ends_with_the_rows_of_a_plain_run(
    integration_env, sandbox, platform_engine, tmp_path, monkeypatch
):
    store = sandbox.store
    undisturbed = portfolio(store)
    for name, value in PIPELINED.items():
        monkeypatch.setenv(name, value)

    store.inject(drift_fault("/units", after_pages=3, insert=3, delete_front=2))
    store.inject(drift_fault("/leases", after_pages=4, insert=2, delete_front=1))
    store.inject(drift_fault("/leases/charges", after_pages=6, insert=3, delete_front=2))
    storm(store, "/buildings", "/workorders", "/leases/payments")
    store.clear_requests_log()
    initial_sync()
    most_in_flight = store.most_in_flight
    assert store.faults == [], "every drift and storm happened during the initial sync"

    change_the_source(store)
    kill_a_delta_run_mid_sync(store)
    with platform_engine.connect() as connection:
        killed = connection.execute(sa.select(sync_runs).order_by(sync_runs.c.id.desc())).first()
    assert killed.flow == "delta" and killed.status == "running"

    storm(store, "/units", "/leases/charges")
    # The delta reads its /leases window (15 changed leases, pages of 4) first page alone, then three pages at once:
    # the next and two sent ahead. Each of these four requests is held a second, so the three are in flight together.
    store.slowdowns.add(Slowdown(1.0, "/leases", "GET", times=4))
    store.clear_requests_log()
    delta_sync()
    most_in_flight = max(most_in_flight, store.most_in_flight)
    assert store.faults == [] and store.slowdowns.listed() == []
    source_now = portfolio(store)

    plain_url = f"sqlite:///{tmp_path / 'plain.db'}"
    for name, value in {**PLAIN, "PMSYNC_DATABASE_URL": plain_url}.items():
        monkeypatch.setenv(name, value)
    with SandboxServer(store=SandboxStore(data=undisturbed)) as copy:
        monkeypatch.setenv("PMSYNC_PW_BASE_URL", copy.base_url)
        initial_sync()
    with SandboxServer(store=SandboxStore(data=source_now), port=copy.port) as copy:  # the same account: same host
        delta_sync()

    assert_same_rows(platform_state(platform_engine), platform_state(make_engine(plain_url)))
    with platform_engine.connect() as connection:
        runs = connection.execute(sa.select(sync_runs.c.flow, sync_runs.c.status).order_by(sync_runs.c.id)).all()
    assert [tuple(run) for run in runs] == [("initial", "succeeded"), ("delta", "abandoned"), ("delta", "succeeded")]
    assert most_in_flight == int(PIPELINED["PMSYNC_PW_CONCURRENCY"]), "source requests in flight at once, at most"
