"""CSV import: owners or service providers from an uploaded file; an invalid file writes nothing and returns its problems."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.utilities.annotations import quote

from pmsync.csv_import import CsvRejected, CsvSource
from pmsync.import_files import FixUpPlace, upload_source
from pmsync.settings import ImportSettings, IntegrationSettings, PlatformSettings
from tasks.import_csv import apply_csv, check_csv, close_import, open_import, write_fix_csv


@flow(name="csv-import")
def csv_import(kind: str, path: str | None = None, content: str | None = None, integration: str | None = None) -> dict:
    """`kind` is owners or service-providers; the file is `path` inside PMSYNC_IMPORT_DIR on the worker, or `content`.

    A path that resolves outside the import directory (`..`, absolute, a symlink out) or is not a .csv file, and content
    over PMSYNC_IMPORT_MAX_BYTES, are refused before anything is read. A file with any invalid row raises CsvRejected
    naming each bad cell; its fix-up CSV goes to the import directory and to an artifact. A valid file is applied in one
    transaction, and applying it again changes nothing.
    """
    settings = ImportSettings()
    source = upload_source(settings.import_dir, settings.import_max_bytes, path, content)
    return import_source(kind, source, integration, FixUpPlace(import_dir=settings.import_dir))


@flow(name="csv-import")
def csv_import_operator_file(kind: str, file: Path, integration: str | None = None, errors_out: Path | None = None) -> dict:
    """The command line's import of the operator's own file, read where it is; the fix-up CSV goes to `errors_out`
    (default: beside the file, `owners.csv` → `owners.errors.csv`). No deployment runs this flow: its parameters
    are the operator's, not the Prefect UI's.
    """
    place = FixUpPlace(operator_file=errors_out or file.with_suffix(".errors.csv"))
    return import_source(kind, file, integration, place)


def import_source(kind: str, source: CsvSource, integration: str | None, fix_up: FixUpPlace) -> dict:
    """Check the file, then apply it or write its fix-up CSV, as one `csv-import` run."""
    session = open_import(kind, integration or IntegrationSettings().integration_name, PlatformSettings())
    try:
        report = check_csv(kind, quote(source))
        if report.ok:
            apply_csv(quote(session), quote(source))
            return close_import(quote(session))
        fix_file = write_fix_csv(quote(session), quote(source), quote(report), fix_up)
    except Exception as failure:
        close_import(quote(session), error=f"{type(failure).__name__}: {failure}")
        raise
    message = report.text(limit=50) + f"\nfix-up CSV (the file plus a problems column): {fix_file}"
    close_import(quote(session), error=message, report=quote(report))
    raise CsvRejected(message, report, fix_file)
