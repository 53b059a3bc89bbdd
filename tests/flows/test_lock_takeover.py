"""A dead run's lock is taken over: at once when its process on this host is gone, a lease after its heartbeat stopped
anywhere else; a live run's lock never while its heartbeat beats, and a beat waits out a page's transaction holding
the lock (the lock library on both databases, no Prefect)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from pmsync.runs.locks import IntegrationBusy, LockHeartbeat, acquire, renew
from pmsync.platform.database import migrate
from pmsync.runs.processes import ProcessIdentity, identity_of, this_process
from pmsync.runs.bookkeeping import utc_now
from schemas.tables import integration_locks

LEASE = timedelta(seconds=3)
"""Short, so a test waits a few leases; a heartbeat beats every second, so a busy machine does not starve it."""
NO_WAIT = timedelta(0)


def record_lock(engine: sa.Engine, holder: str, process: ProcessIdentity, expires_in: timedelta = timedelta(hours=1)):
    """A lock as the holder's run would have taken it, `expires_in` from now."""
    now = utc_now()
    with engine.begin() as connection:
        connection.execute(integration_locks.insert().values(
            integration_name="default", holder=holder, flow="delta", acquired_at=now, expires_at=now + expires_in,
            host=process.host, pid=process.pid, process_started=process.started,
        ))


def held(engine: sa.Engine):
    with engine.connect() as connection:
        return connection.execute(sa.select(integration_locks)).one()


def sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])


def taken_by_next_run(engine: sa.Engine, recorded: ProcessIdentity, holder: str) -> list[str]:
    """What a run says taking the lock from `holder`, recorded as `recorded` and holding it for another hour."""
    with engine.begin() as connection:
        connection.execute(sa.delete(integration_locks))
    record_lock(engine, holder, recorded)
    said: list[str] = []
    acquire(engine, "default", "next run", "initial", LEASE, NO_WAIT, said.append)
    return said


def test_a_holder_whose_process_on_this_host_is_gone_is_taken_over_at_once_naming_it(platform_engine):
    migrate(platform_engine)
    running = sleeper()
    try:
        killed = identity_of(running.pid)
        record_lock(platform_engine, "killed run", killed)
        with pytest.raises(IntegrationBusy, match="still being synced by killed run"):
            acquire(platform_engine, "default", "next run", "initial", LEASE, NO_WAIT, print)
        running.kill()
        os.waitid(os.P_PID, running.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped by its parent: a zombie
        zombie = taken_by_next_run(platform_engine, killed, "killed run")
    finally:
        running.kill()
        running.wait()
    reaped = taken_by_next_run(platform_engine, killed, "killed run")
    me = this_process()
    reused = taken_by_next_run(platform_engine, replace(me, started=me.started.rpartition(".")[0] + ".1"), "my pid's predecessor")

    taken = f"lock of integration 'default' held by killed run (delta sync) its process {running.pid} on this host"
    assert zombie == [f"{taken} has exited; taken over"]
    assert reaped == [f"{taken} is gone; taken over"]
    assert reused == [f"lock of integration 'default' held by my pid's predecessor (delta sync) its process {me.pid} on "
                      "this host is gone (the pid now belongs to a process started later); taken over"]
    row = held(platform_engine)
    assert (row.holder, row.flow, row.host, row.pid, row.process_started) == ("next run", "initial", me.host, me.pid, me.started)


def test_a_holder_elsewhere_or_unrecorded_is_never_proven_dead_only_expired(platform_engine):
    migrate(platform_engine)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(gone.stdout)
    me = this_process()
    view, _, _ = me.started.rpartition(".")
    elsewhere = {
        "another host": ProcessIdentity("other-host", pid, me.started),
        "another boot": ProcessIdentity(me.host, pid, f"00000000.{view.partition('.')[2]}.1"),
        "another pid namespace": ProcessIdentity(me.host, pid, f"{view.partition('.')[0]}.1.1"),
        "no /proc": ProcessIdentity(me.host, pid, None),
    }
    for where, process in elsewhere.items():
        record_lock(platform_engine, where, process)
        with pytest.raises(IntegrationBusy, match=f"still being synced by {where} "):
            acquire(platform_engine, "default", "next run", "initial", LEASE, NO_WAIT, print)
        with platform_engine.begin() as connection:
            connection.execute(sa.delete(integration_locks))

    record_lock(platform_engine, "another host, its lease over", elsewhere["another host"], -timedelta(seconds=1))
    said: list[str] = []
    acquire(platform_engine, "default", "next run", "initial", LEASE, NO_WAIT, said.append)
    assert len(said) == 1 and said[0].startswith(
        "lock of integration 'default' held by another host, its lease over (delta sync) expired at ")


def test_a_foreign_holder_is_waited_for_while_its_heartbeat_beats_and_taken_over_a_lease_after_it_stops(platform_engine):
    migrate(platform_engine)
    foreign = ProcessIdentity("other-host", 77, "0badf00d.4026531836.12345")
    record_lock(platform_engine, "other-host:77 flow run f", foreign, LEASE)
    said: list[str] = []

    with LockHeartbeat(platform_engine, "default", "other-host:77 flow run f", LEASE) as heartbeat:
        with pytest.raises(IntegrationBusy, match="still being synced by other-host:77 flow run f"):
            acquire(platform_engine, "default", "next run", "initial", LEASE, 2 * LEASE, said.append, 0.1)
    assert heartbeat.lost is None
    stopped = utc_now()
    acquire(platform_engine, "default", "next run", "initial", LEASE, timedelta(minutes=2), said.append, 0.1)

    assert said[0].startswith("waiting: integration 'default' is being synced by other-host:77 flow run f (delta sync")
    taken = said[-1]
    assert taken.startswith("lock of integration 'default' held by other-host:77 flow run f (delta sync) expired at ")
    assert taken.endswith(" UTC; taken over")
    row = held(platform_engine)
    assert row.holder == "next run" and row.acquired_at > stopped


def test_a_page_transaction_spanning_heartbeats_delays_them_and_neither_fails(platform_engine, caplog):
    """SQLite: a beat waits for the database's write lock the page holds; PostgreSQL: for the lock row the page updated
    first. The beat lands after the page commits, and neither the beat nor the page fails."""
    migrate(platform_engine)
    acquire(platform_engine, "default", "long pages", "initial", LEASE, NO_WAIT, print)
    with caplog.at_level(logging.WARNING, logger="pmsync.runs.locks"):
        with LockHeartbeat(platform_engine, "default", "long pages", LEASE) as heartbeat:
            with platform_engine.begin() as page:
                renew(page, "default", "long pages", LEASE)
                time.sleep(LEASE.total_seconds() * 2 / 3)  # the page's work, two beats long, in its transaction
            committed = utc_now()
            deadline = time.monotonic() + 60
            while held(platform_engine).expires_at < committed + LEASE / 2:
                assert time.monotonic() < deadline, "no beat landed after the page"
                time.sleep(0.1)
    assert heartbeat.lost is None and caplog.text == ""
    assert held(platform_engine).holder == "long pages"
