"""A CSV import run, the library side: check the whole file, write its fix-up copy, apply a valid file in one transaction."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from pmsync.csv_import import CheckReport, CsvSource, check_file, import_kind, valid_rows, write_fix_file
from pmsync.import_files import FixUpPlace
from pmsync.rules import CSV_IMPORT_RULES
from pmsync.runs import add_counts, utc_now
from pmsync.sync.policy import LoadContext, PageOutcome, apply_candidates
from pmsync.sync.scope import SyncSession
from schemas.records import Candidate

ROWS_PER_BATCH = 1000
SHOWN_ERRORS = 500


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


def apply_csv(session: SyncSession, kind: str, source: CsvSource) -> dict[str, dict[str, int]]:
    """Second pass: create or update every row in batches, all in one transaction with the run's counts."""
    import_as = import_kind(kind)
    rule = CSV_IMPORT_RULES.rules[import_as.entity]
    context = LoadContext(session.integration_id, "", session.run_id, utc_now(), CSV_IMPORT_RULES)
    outcome = PageOutcome()
    rows = valid_rows(import_as, source)
    with session.engine.begin() as connection:
        while batch := list(itertools.islice(rows, ROWS_PER_BATCH)):
            candidates = [
                Candidate(import_as.entity, source_id, {**columns, "source_data": written})
                for source_id, columns, written in batch
            ]
            outcome.add(import_as.entity, fetched=len(candidates))
            apply_candidates(connection, context, rule, candidates, outcome)
        add_counts(connection, session.run_id, outcome.counts)
    return {entity: dict(numbers) for entity, numbers in outcome.counts.items()}
