"""CSV import: owners or service providers from an uploaded file; an invalid file writes nothing and returns its problems."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from pmsync.jobs import csv_import as job
from pmsync.runs.parameters import ImportContent, ImportKindName, ImportPath, PlatformIntegrationName
from tasks.run_names import flow_run_name
from tasks.steps import prefect_steps


@flow(name="csv-import", flow_run_name=flow_run_name("csv-import"))
def csv_import(
    kind: ImportKindName, path: ImportPath | None = None, content: ImportContent | None = None,
    integration: PlatformIntegrationName | None = None,
) -> dict:
    """`kind` is owners or service-providers; the file is `path` inside PMSYNC_IMPORT_DIR on the worker, or `content`.

    A path that resolves outside the import directory (`..`, absolute, a symlink out) or is not a .csv file, and content
    over PMSYNC_IMPORT_MAX_BYTES, are refused before anything is read. A file with any invalid row raises CsvRejected
    naming each bad cell; its fix-up CSV goes to the import directory and to an artifact. A valid file is applied in one
    transaction, and applying it again changes nothing.
    """
    return job.csv_import(prefect_steps(), kind, path, content, integration)


@flow(name="csv-import", flow_run_name=flow_run_name("csv-import"))
def csv_import_operator_file(
    kind: ImportKindName, file: Path, integration: PlatformIntegrationName | None = None, errors_out: Path | None = None,
) -> dict:
    """The command line's import of the operator's own file, read where it is; the fix-up CSV goes to `errors_out`
    (default: beside the file, `owners.csv` → `owners.errors.csv`). No deployment runs this flow: its parameters
    are the operator's, not the Prefect UI's.
    """
    return job.csv_import_operator_file(prefect_steps(), kind, file, integration, errors_out)
