"""A run's lifecycle: migrate, lock and its heartbeat, register, the sync_runs row, renew, finish, release, close."""

from __future__ import annotations

import logging
import os
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from pmsync.integrations.identity import refuse_other_identity, registered_row, run_remedy
from pmsync.integrations.integration import Integration, IntegrationNotConfigured
from pmsync.journal import record as journal
from pmsync.journal.read import change_counts, first_changes
from pmsync.runs.locks import LockHeartbeat, acquire, release, renew
from pmsync.platform.database import make_engine, migrate
from pmsync.sync.quality import run_quality, run_warned
from pmsync.integrations.retirement import refuse_removed
from pmsync.runs.bookkeeping import (
    LOCKED_FLOWS,
    abandon_dead_runs,
    ensure_integration,
    finish_run,
    run_counts,
    run_window_start,
    scrub_credentials,
    stale_parked,
    start_run,
    utc_now,
)
from pmsync.settings import PlatformSettings
from pmsync.source.protocol import Source

log = logging.getLogger("pmsync.run")
SHOWN_CHANGES = 20
"""How many of a run's first changes its summary (and so its Prefect artifact) carries."""


@dataclass(frozen=True)
class RunKind:
    """What a flow's run does on the platform around its work; the lock is taken by the flows in LOCKED_FLOWS."""

    flow: str
    records_run: bool = True
    registers: bool = True
    windowed: bool = True
    one_line_errors: bool = False

    @property
    def takes_lock(self) -> bool:
        return self.flow in LOCKED_FLOWS


RUN_KINDS = {kind.flow: kind for kind in (
    RunKind("initial"), RunKind("delta"), RunKind("lease"), RunKind("reconcile"),
    RunKind("balance"),
    RunKind("csv-import", registers=False, windowed=False, one_line_errors=True),
    RunKind("push", windowed=False),
    RunKind("push-sweep", records_run=False, windowed=False),
    RunKind("reconcile-dry-run", records_run=False, registers=False),
)}
"""balance: one lease's rows in seconds, it does not wait behind an hour-long sync (that sync's next delta corrects
an older copy it may write). csv-import: names an integration already on the platform and needs no source.
push: work-order claims fence each push (no lock); a run row with its work orders counted. push-sweep: a sweep's look
for work orders to push, no run row (a sweep that finds none leaves no trace). A dry run writes nothing at all."""


@dataclass(frozen=True)
class RunSummary:
    """What a finished run did: counts per entity, quality, long-parked records; fed to the run's published summary."""

    run_id: int
    flow: str
    integration: str
    started_at: datetime
    finished_at: datetime
    error: str | None
    error_class: str | None
    error_facts: dict[str, Any]
    counts: dict[str, dict[str, int]]
    stale_parked: int
    parked_alert: timedelta
    failing: dict[str, Counter]
    warnings: dict[str, Counter]
    warned: Counter
    window_from: datetime | None
    source_requests: int
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    first_changes: list[dict[str, Any]] = field(default_factory=list)

    def result(self) -> dict:
        """What a flow returns: the run id, counts per entity and long-parked records."""
        return {"run_id": self.run_id, "counts": self.counts, "stale_parked": self.stale_parked}


@dataclass(eq=False)
class SyncSession:
    """One run of one integration: where it reads, where it writes, its run id and its lock (held or not)."""

    integration: Integration | None
    source: Source | None
    engine: Engine
    integration_id: int
    run_id: int | None
    flow: str
    started_at: datetime
    parked_alert: timedelta
    expectations_dir: Path
    max_failure_share: float
    lock_holder: str
    lock_lease: timedelta | None
    named: str = ""
    holds_lock: bool = False
    changes_retention_days: int = 90
    failure: str | None = None
    summary: RunSummary | None = field(default=None, repr=False)

    @property
    def integration_name(self) -> str:
        return self.integration.name if self.integration is not None else self.named

    @property
    def client(self) -> Source | None:
        """The older name of `source`."""
        return self.source

    def keep_lock(self) -> None:
        """Renew the run's lease on the integration's lock (between batches of work that write nothing); LockLost if
        another run took it meanwhile. Runs that hold no lock do nothing."""
        if not self.holds_lock or self.lock_lease is None:
            return
        with self.engine.begin() as connection:
            renew(connection, self.integration_name, self.lock_holder, self.lock_lease)

    def fail(self, message: str) -> None:
        """Finish the run as failed with this message although its block ends normally (a rejected CSV file)."""
        self.failure = message


def holder_name(flow_run_id: str | None, kind: RunKind) -> str:
    """Who holds (or would hold) the lock: host, process and the Prefect flow run when there is one."""
    who = f"{socket.gethostname()}:{os.getpid()} " + (f"flow run {flow_run_id}" if flow_run_id else "direct run")
    return who if kind.takes_lock else f"{who} ({kind.flow}, holds no lock)"


@contextmanager
def run_scope(
    integration: Integration | str,
    platform: PlatformSettings,
    flow: str,
    *,
    entities: list[str] | None = None,
    flow_run_id: str | None = None,
    publish: Callable[[RunSummary], object] | None = None,
) -> Iterator[SyncSession]:
    """The run's session; on leaving, the run is finished (succeeded, or failed with the error scrubbed of
    credentials), `publish` gets its summary, the lock is released and the source closed.

    `integration` is a name only for runs that neither register it nor read the source (a CSV import).
    """
    kind = RUN_KINDS[flow]
    engine = make_engine(platform.database_url)
    migrate(engine)
    name = integration if isinstance(integration, str) else integration.name
    holder = holder_name(flow_run_id, kind)
    lease = platform.lock_lease if kind.takes_lock else None
    try:
        if kind.takes_lock:
            acquire(engine, name, holder, flow, lease, timedelta(minutes=platform.lock_wait_minutes), log.info)
    except BaseException:
        engine.dispose()
        raise
    heartbeat = LockHeartbeat(engine, name, holder, lease).start() if kind.takes_lock else None
    try:
        integration_id = _integration_id(engine, integration, kind, holder)
        started_at = utc_now()
        run_id = None
        if kind.records_run:
            if entities is None and isinstance(integration, str):
                raise ValueError(f"a {flow} run of integration {name!r} by name needs its entities")
            entities = entities if entities is not None else integration.rules.entities()
            run_id = start_run(engine, integration_id, flow, entities, (None, started_at if kind.windowed else None),
                               flow_run_id)
        source = None if isinstance(integration, str) else integration.open_source()
    except BaseException:
        _let_go(engine, name, holder, heartbeat)
        engine.dispose()
        raise
    session = SyncSession(
        None if isinstance(integration, str) else integration, source, engine, integration_id, run_id, flow, started_at,
        timedelta(hours=platform.parked_alert_hours),
        platform.expectations_dir / (integration.rules.suites if isinstance(integration, Integration) else ""),
        platform.quality_max_failure_share,
        holder, lease, named=name, holds_lock=kind.takes_lock, changes_retention_days=platform.changes_retention_days,
    )
    if run_id is not None:
        log.info("run %s: %s run of integration %r started", run_id, flow, name)
    try:
        try:
            yield session
        except Exception as failure:
            _finish(session, kind, f"{type(failure).__name__}: {failure}", integration, publish, failure)
            raise
        _finish(session, kind, session.failure, integration, publish)
    finally:
        try:
            _let_go(engine, name, holder, heartbeat)
        finally:
            if source is not None:
                source.close()
            engine.dispose()


def _let_go(engine: Engine, name: str, holder: str, heartbeat: LockHeartbeat | None) -> None:
    """Stop renewing the run's lock, then release it (nothing for a run that holds none)."""
    if heartbeat is None:
        return
    heartbeat.stop()
    release(engine, name, holder)


def _integration_id(engine: Engine, integration: Integration | str, kind: RunKind, holder: str) -> int:
    """The integration's platform id (registered first by the runs that register it); a removed one is refused."""
    name = integration if isinstance(integration, str) else integration.name
    if kind.registers and isinstance(integration, Integration):
        with engine.begin() as connection:
            refuse_removed(connection, name)
            integration_id = ensure_integration(connection, integration)
            abandoned = abandon_dead_runs(connection, integration_id, holder) if kind.takes_lock else 0
        if abandoned:
            log.warning("%d earlier run(s) of %r never finished; marked abandoned", abandoned, integration.name)
        return integration_id
    with engine.connect() as connection:
        refuse_removed(connection, name)
        found = registered_row(connection, name)
        if isinstance(integration, Integration):  # a dry run reads the source: only the account it is bound to
            refuse_other_identity(found, integration, run_remedy(name, integration.configured_in))
    if found is None:
        raise IntegrationNotConfigured(
            f"integration {name!r} is not on the platform yet; run `pmsync sync initial` for it first"
        )
    return found.id


def _finish(
    session: SyncSession, kind: RunKind, error: str | None, integration: Integration | str,
    publish: Callable[[RunSummary], object] | None, failure: Exception | None = None,
) -> None:
    """Record the run's end and build its summary (a run without a sync_runs row only logs a failure); a failure's
    class and its `facts` (counts and names an alert may carry, when it has them) go into the summary as they are."""
    if error and isinstance(integration, Integration):
        error = scrub_credentials(error, integration)
    if error and kind.one_line_errors:
        error = error.splitlines()[0]
    requests = session.source.requests_made if session.source is not None else 0
    if session.run_id is None:
        return
    finish_run(session.engine, session.run_id, error=error, source_requests=requests)
    journal.prune(session.engine, session.changes_retention_days, utc_now())
    with session.engine.connect() as connection:
        session.summary = RunSummary(
            session.run_id, session.flow, session.integration_name, session.started_at, utc_now(), error,
            type(failure).__name__ if failure is not None else None, dict(getattr(failure, "facts", None) or {}),
            run_counts(connection, session.run_id),
            stale_parked(connection, session.integration_id, session.started_at - session.parked_alert),
            session.parked_alert,
            run_quality(connection, session.run_id), run_quality(connection, session.run_id, "warning"),
            run_warned(connection, session.run_id), run_window_start(connection, session.run_id), requests,
            change_counts(connection, session.run_id), first_changes(connection, session.run_id, SHOWN_CHANGES),
        )
    log.info("run %s %s after %d source requests", session.run_id, "failed" if error else "succeeded", requests)
    if session.summary.stale_parked:
        log.warning("%d parked records have waited longer than %s for their parent",
                    session.summary.stale_parked, session.parked_alert)
    if publish is not None:
        publish(session.summary)
