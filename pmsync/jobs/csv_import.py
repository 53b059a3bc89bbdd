"""The CSV import jobs: owners or service providers from an upload (confined to PMSYNC_IMPORT_DIR) or the operator's file."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from pmsync.imports.kinds import CheckReport, CsvRejected, CsvSource, import_kind
from pmsync.imports.files import FixUpPlace, upload_source
from pmsync.jobs.steps import Steps
from pmsync.runs.parameters import ImportContent, ImportKindName, ImportPath, PlatformIntegrationName, checked_parameters
from pmsync.settings import ImportSettings, IntegrationSettings, PlatformSettings
from pmsync.sync.scope import RunSummary, run_scope

log = logging.getLogger("pmsync.import")


@checked_parameters
def csv_import(
    steps: Steps, kind: ImportKindName, path: ImportPath | None = None, content: ImportContent | None = None,
    integration: PlatformIntegrationName | None = None,
) -> dict:
    """`kind` is owners or service-providers; the file is `path` inside PMSYNC_IMPORT_DIR on the worker, or `content`.

    A path that resolves outside the import directory (`..`, absolute, a symlink out) or is not a .csv file, and content
    over PMSYNC_IMPORT_MAX_BYTES, are refused before anything is read. A file with any invalid row raises CsvRejected
    naming each bad cell; its fix-up CSV goes to the import directory. A valid file is applied in one transaction, and
    applying it again changes nothing.
    """
    settings = ImportSettings()
    source = upload_source(settings.import_dir, settings.import_max_bytes, path, content)
    return import_source(steps, kind, source, integration, FixUpPlace(import_dir=settings.import_dir))


@checked_parameters
def csv_import_operator_file(
    steps: Steps, kind: ImportKindName, file: Path, integration: PlatformIntegrationName | None = None,
    errors_out: Path | None = None,
) -> dict:
    """The command line's import of the operator's own file, read where it is; the fix-up CSV goes to `errors_out`
    (default: beside the file, `owners.csv` → `owners.errors.csv`)."""
    file = Path(file)
    place = FixUpPlace(operator_file=Path(errors_out) if errors_out else file.with_suffix(".errors.csv"))
    return import_source(steps, kind, file, integration, place)


def import_source(steps: Steps, kind: str, source: CsvSource, integration: str | None, fix_up: FixUpPlace) -> dict:
    """Check the file, then apply it or write its fix-up CSV, as one `csv-import` run."""
    entity = import_kind(kind).entity
    name = integration or IntegrationSettings().integration_name
    rejected: list[CheckReport] = []

    def publish(summary: RunSummary) -> None:
        if not rejected:
            state = f"failed: {summary.error}" if summary.error else "imported"
            log.info("run %s: %s %s (%s)", summary.run_id, kind, state, summary.counts.get(entity, {}))
        steps.publish_import(kind, summary, rejected[0] if rejected else None)

    platform = PlatformSettings()
    with run_scope(name, platform, "csv-import", entities=[entity], flow_run_id=steps.flow_run_id,
                   publish=publish) as session:
        report = steps.check_csv(kind, source)
        if report.ok:
            steps.apply_csv(session, kind, source, timedelta(minutes=platform.lock_wait_minutes))
        else:
            fix = steps.write_fix_csv(session, kind, source, report, fix_up)
            steps.publish_fix_up(session, kind, fix)
            message = report.text(limit=50) + f"\nfix-up CSV (the file plus a problems column): {fix.name}"
            rejected.append(report)
            session.fail(message)
    if rejected:
        raise CsvRejected(message, report, fix.name)
    return {"run_id": session.run_id, "counts": session.summary.counts}
