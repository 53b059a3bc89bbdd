"""A CSV import run, the library side: check the whole file, write its fix-up copy, apply a valid file in one transaction."""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from pmsync.imports.kinds import CheckReport, CsvSource, check_file, import_kind, valid_rows, write_fix_file
from pmsync.imports.files import FixUpPlace
from pmsync.runs.locks import IntegrationBusy
from pmsync.sync.rule_types import CSV_IMPORT_RULES
from pmsync.runs.bookkeeping import add_counts, utc_now
from pmsync.sync.policy import LoadContext, PageOutcome, apply_candidates
from pmsync.sync.scope import SyncSession
from schemas.records import Candidate

ROWS_PER_BATCH = 1000
SHOWN_ERRORS = 500
IMPORT_LOCK_CLASS = 7410002
"""The class of the PostgreSQL advisory locks (two-key form, the second key the integration's id) that let one CSV import
at a time apply a file to an integration; the one-key lock 7410001 serialises migrations."""
SQLITE_BUSY = 5
"""SQLite's primary result code for "database is locked" (extended codes carry it in their low byte)."""

log = logging.getLogger("pmsync.import")


@dataclass(frozen=True)
class FixUpFile:
    """The fix-up CSV a rejected file got: its name as shown to the user, where it went, and its first bad rows."""

    name: str
    where: str
    bad_rows: list[dict[str, str]]
    total_bad_rows: int


def check_csv(kind: str, source: CsvSource) -> CheckReport:
    """First pass: every row and cell checked, duplicates found; nothing written."""
    return check_file(import_kind(kind), source)


def write_fix_csv(session: SyncSession, kind: str, source: CsvSource, report: CheckReport, place: FixUpPlace) -> FixUpFile:
    """The uploaded file plus a `problems` column, for the user to fix and upload again."""
    destination = place.destination(kind, source, session.run_id)
    with place.open(destination) as out:
        bad_rows = write_fix_file(import_kind(kind), source, report, out, shown=SHOWN_ERRORS)
    where = "in PMSYNC_IMPORT_DIR on the worker" if place.operator_file is None else "written by the command line"
    return FixUpFile(place.shown_name(destination), where, bad_rows, report.bad_rows())


def apply_csv(session: SyncSession, kind: str, source: CsvSource, wait: timedelta) -> dict[str, dict[str, int]]:
    """Second pass: create or update every row in batches, all in one transaction with the run's counts, once no other
    import of the integration is applying a file (waiting at most `wait` for its turn)."""
    import_as = import_kind(kind)
    rule = CSV_IMPORT_RULES.rules[import_as.entity]
    outcome = PageOutcome()
    rows = valid_rows(import_as, source)
    with session.engine.begin() as connection:
        take_import_turn(connection, session.integration_id, session.integration_name, wait)
        context = LoadContext(session.integration_id, "", session.run_id, utc_now(), CSV_IMPORT_RULES)
        while batch := list(itertools.islice(rows, ROWS_PER_BATCH)):
            candidates = [
                Candidate(import_as.entity, source_id, {**columns, "source_data": written})
                for source_id, columns, written in batch
            ]
            outcome.add(import_as.entity, fetched=len(candidates))
            apply_candidates(connection, context, rule, candidates, outcome)
        add_counts(connection, session.run_id, outcome.counts)
    return {entity: dict(numbers) for entity, numbers in outcome.counts.items()}


def take_import_turn(connection: Connection, integration_id: int, integration: str, wait: timedelta) -> None:
    """First thing in an import's transaction: make it the only import applying a file to the integration until the
    transaction ends, waiting (at most `wait`, logged) behind one that is; IntegrationBusy past that.

    Two imports of the same records in different orders would otherwise lock each other's rows (a deadlock on
    PostgreSQL), or write over rows the other created meanwhile. PostgreSQL: a transaction-level advisory lock,
    released by the commit or rollback, or when a killed import's connection drops. SQLite: the database's write lock,
    taken before the first read (BEGIN IMMEDIATE), so the import reads what it then writes over. Syncs never write
    owners or service providers: an import does not wait for the integration's sync lock.
    """
    if connection.dialect.name == "postgresql":
        _advisory_turn(connection, integration_id, integration, wait)
    else:
        _sqlite_write_turn(connection, integration, wait)


def _advisory_turn(connection: Connection, integration_id: int, integration: str, wait: timedelta) -> None:
    keys = {"class": IMPORT_LOCK_CLASS, "key": integration_id % 2**31}
    key = "CAST(:class AS integer), CAST(:key AS integer)"
    if connection.execute(text(f"SELECT pg_try_advisory_xact_lock({key})"), keys).scalar_one():
        return
    log.info("waiting: another CSV import of integration %r is applying its file; this one applies after it", integration)
    previous = connection.execute(text("SELECT current_setting('lock_timeout')")).scalar_one()
    patience = f"{max(1, int(wait.total_seconds() * 1000))}ms"
    connection.execute(text("SELECT set_config('lock_timeout', :patience, true)"), {"patience": patience})
    try:
        connection.execute(text(f"SELECT pg_advisory_xact_lock({key})"), keys)
    except OperationalError as waited_too_long:
        if getattr(waited_too_long.orig, "sqlstate", None) == "55P03":
            raise _busy(integration, wait, "another CSV import of it kept applying its file") from None
        raise
    connection.execute(text("SELECT set_config('lock_timeout', :previous, true)"), {"previous": previous})


def _sqlite_write_turn(connection: Connection, integration: str, wait: timedelta) -> None:
    give_up = time.monotonic() + wait.total_seconds()
    patience = connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
    connection.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        if _begin_immediate(connection):
            return
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(patience)}")
    log.info("waiting: another run is writing to the SQLite platform database (one writer at a time); the import of "
             "integration %r applies after it", integration)
    while not _begin_immediate(connection):
        if time.monotonic() > give_up:
            raise _busy(integration, wait, "other runs kept writing to the SQLite platform database")


def _begin_immediate(connection: Connection) -> bool:
    """Take SQLite's write lock (waiting the connection's busy timeout); whether it was free."""
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except OperationalError as busy:
        if getattr(busy.orig, "sqlite_errorcode", 0) & 0xFF == SQLITE_BUSY:
            return False
        raise
    return True


def _busy(integration: str, wait: timedelta, why: str) -> IntegrationBusy:
    return IntegrationBusy(
        f"the CSV import into integration {integration!r} waited {wait.total_seconds() / 60:g} minutes "
        f"(PMSYNC_LOCK_WAIT_MINUTES) for its turn: {why}; nothing was imported, run it again later"
    )
