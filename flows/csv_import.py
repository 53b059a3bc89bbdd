"""CSV import: owners or service providers from an uploaded file; an invalid file writes nothing and returns its problems."""

from __future__ import annotations

from prefect import flow
from prefect.utilities.annotations import quote

from pmsync.csv_import import CsvRejected, csv_source, fix_file_path
from pmsync.settings import IntegrationSettings, PlatformSettings
from tasks.import_csv import apply_csv, check_csv, close_import, open_import, write_fix_csv


@flow(name="csv-import")
def csv_import(
    kind: str,
    path: str | None = None,
    content: str | None = None,
    integration: str | None = None,
    errors_path: str | None = None,
) -> dict:
    """`kind` is owners or service-providers; the file is `path` (on the worker) or `content` (the uploaded text).

    A file with any invalid row raises CsvRejected naming each bad cell, and writes the fix-up CSV to `errors_path`
    (default: beside `path`); a valid one is applied in one transaction, and applying it again changes nothing.
    """
    source = csv_source(path, content)
    session = open_import(kind, integration or IntegrationSettings().integration_name, PlatformSettings())
    try:
        report = check_csv(kind, quote(source))
        if report.ok:
            apply_csv(quote(session), quote(source))
            return close_import(quote(session))
        fix_file = write_fix_csv(kind, quote(source), quote(report), fix_file_path(path, errors_path))
    except Exception as failure:
        close_import(quote(session), error=f"{type(failure).__name__}: {failure}")
        raise
    message = report.text(limit=50) + (f"\nfix-up CSV (the file plus a problems column): {fix_file}" if fix_file else "")
    close_import(quote(session), error=message, report=quote(report))
    raise CsvRejected(message, report, fix_file)
