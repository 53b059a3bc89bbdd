"""CSV import: check a whole file, write its fix-up copy, apply a valid file in one transaction (owners, service providers)."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE
from sqlalchemy import Engine, select

from pmsync.csv_import import CheckReport, CsvSource, check_file, import_kind, valid_rows, write_fix_file
from pmsync.import_files import FixUpPlace
from pmsync.integrations import IntegrationNotConfigured
from pmsync.platform import make_engine, migrate
from pmsync.rules import CSV_IMPORT_RULES
from pmsync.runs import add_counts, finish_run, run_counts, start_run, utc_now
from pmsync.settings import PlatformSettings
from schemas.records import Candidate
from schemas.tables import integrations
from pmsync.sync.policy import LoadContext, PageOutcome, apply_candidates

ROWS_PER_BATCH = 1000
SHOWN_ERRORS = 500


@dataclass(frozen=True)
class ImportSession:
    """One upload of one file into one integration, recorded as a `csv-import` run."""

    engine: Engine
    integration_name: str
    integration_id: int
    run_id: int
    kind: str


@task(name="open_import", cache_policy=NONE, persist_result=False)
def open_import(kind: str, integration_name: str, platform: PlatformSettings) -> ImportSession:
    """Migrate the platform schema, find the integration, and start the import's sync_runs row."""
    entity = import_kind(kind).entity
    engine = make_engine(platform.database_url)
    migrate(engine)
    with engine.connect() as connection:
        integration_id = connection.execute(
            select(integrations.c.id).where(integrations.c.name == integration_name)
        ).scalar_one_or_none()
    if integration_id is None:
        raise IntegrationNotConfigured(
            f"integration {integration_name!r} is not on the platform yet; run `pmsync sync initial` for it first"
        )
    run_id = start_run(engine, integration_id, "csv-import", [entity], (None, None))
    get_run_logger().info("run %s: import of %s into integration %r started", run_id, kind, integration_name)
    return ImportSession(engine, integration_name, integration_id, run_id, kind)


@task(name="check_csv", cache_policy=NONE, persist_result=False)
def check_csv(kind: str, source: CsvSource) -> CheckReport:
    """First pass: every row and cell checked, duplicates found; nothing written."""
    return check_file(import_kind(kind), source)


@task(name="write_fix_csv", cache_policy=NONE, persist_result=False)
def write_fix_csv(session: ImportSession, source: CsvSource, report: CheckReport, place: FixUpPlace) -> str:
    """The uploaded file plus a `problems` column, for the user to fix and upload again; its bad rows also as an artifact."""
    destination = place.destination(session.kind, source, session.run_id)
    with place.open(destination) as out:
        bad_rows = write_fix_file(import_kind(session.kind), source, report, out, shown=SHOWN_ERRORS)
    name = place.shown_name(destination)
    where = "in PMSYNC_IMPORT_DIR on the worker" if place.operator_file is None else "written by the command line"
    shown = f", the first {len(bad_rows)} shown" if len(bad_rows) < report.bad_rows() else ""
    create_table_artifact(
        key=f"csv-import-{session.kind}-fix-up",
        table=bad_rows,
        description=f"run {session.run_id} · fix-up CSV {name} ({where}): the file plus a problems column; "
        f"its {report.bad_rows()} row(s) with problems{shown}",
    )
    return name


@task(name="apply_csv", cache_policy=NONE, persist_result=False)
def apply_csv(session: ImportSession, source: CsvSource) -> dict[str, dict[str, int]]:
    """Second pass: create or update every row in batches, all in one transaction with the run's counts."""
    kind = import_kind(session.kind)
    rule = CSV_IMPORT_RULES.rules[kind.entity]
    context = LoadContext(session.integration_id, "", session.run_id, utc_now(), CSV_IMPORT_RULES)
    outcome = PageOutcome()
    rows = valid_rows(kind, source)
    with session.engine.begin() as connection:
        while batch := list(itertools.islice(rows, ROWS_PER_BATCH)):
            candidates = [
                Candidate(kind.entity, source_id, {**columns, "source_data": written})
                for source_id, columns, written in batch
            ]
            outcome.add(kind.entity, fetched=len(candidates))
            apply_candidates(connection, context, rule, candidates, outcome)
        add_counts(connection, session.run_id, outcome.counts)
    return {entity: dict(numbers) for entity, numbers in outcome.counts.items()}


@task(name="close_import", cache_policy=NONE, persist_result=False)
def close_import(session: ImportSession, error: str | None = None, report: CheckReport | None = None) -> dict:
    """Mark the run succeeded or failed; publish its counts, or the rejected file's problems, as an artifact."""
    finish_run(session.engine, session.run_id, error=error.splitlines()[0] if error else None, source_requests=0)
    with session.engine.connect() as connection:
        counts = run_counts(connection, session.run_id)
    key = f"csv-import-{session.kind}"
    if report is not None and report.errors:
        rows = [vars(e) for e in report.errors[:SHOWN_ERRORS]]
        description = f"run {session.run_id} · {session.kind} file rejected · " + report.text(limit=0).splitlines()[0]
        create_table_artifact(key=key, table=rows, description=description)
    else:
        numbers = counts.get(import_kind(session.kind).entity, Counter())
        state = f"failed: {error}" if error else "imported"
        create_table_artifact(key=key, table=[{"entity": e, **n} for e, n in counts.items()],
                              description=f"run {session.run_id} · {session.kind} · {state}")
        get_run_logger().info("run %s: %s %s (%s)", session.run_id, session.kind, state, dict(numbers))
    return {"run_id": session.run_id, "counts": counts}
