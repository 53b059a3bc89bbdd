"""What each run changed: an integration's recent runs, and a run's Changes page with its CSV and Excel downloads."""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine, func, select

from pmsync.exports.snapshots import format_utc
from pmsync.exports.table import table_csv_chunks, write_table_workbook
from pmsync.journal.read import EXPORT_COLUMNS, change_counts, changes_of_run, counts_line, export_rows
from reports.downloads import csv_download, workbook_download
from reports.scope import integration_url
from reports.sections import table
from schemas.tables import integrations, record_changes, sync_runs

RUN_ID = Path(ge=1, le=2**63 - 1, description="A run's id (a database key: at most 2^63 - 1).")
PAGE = Query(1, alias="page", ge=1, le=10**9, description="Which page of the run's changes (from 1).")
PAGE_CHANGES = 100
"""Changed records a Changes page shows; the downloads hold them all."""
RECENT_RUNS = 10
ACTIONS = ("created", "updated", "deactivated", "reactivated")
WIDTHS = {"Changed at (UTC)": 20, "Field": 28, "Before": 40, "After": 40}


class UnknownRun(LookupError):
    """No run of this id belongs to the integration of the URL; the message says where to look."""


def find_run(engine: Engine, integration: str, run_id: int) -> dict[str, Any]:
    """The run (id, flow, status, started_at) when it is one of the integration's, else UnknownRun."""
    query = (
        select(sync_runs.c.id, sync_runs.c.flow, sync_runs.c.status, sync_runs.c.started_at)
        .join(integrations, integrations.c.id == sync_runs.c.integration_id)
        .where(sync_runs.c.id == run_id, integrations.c.name == integration)
    )
    with engine.connect() as connection:
        found = connection.execute(query).first()
    if found is None:
        raise UnknownRun(f"{integration} has no run {run_id}: its page lists its recent runs.")
    return found._asdict()


def recent_runs(engine: Engine, integration: str, limit: int = RECENT_RUNS) -> list[dict[str, Any]]:
    """The integration's newest runs, each with how many records it created, updated, deactivated and reactivated."""
    runs_query = (
        select(sync_runs.c.id, sync_runs.c.flow, sync_runs.c.status, sync_runs.c.started_at)
        .join(integrations, integrations.c.id == sync_runs.c.integration_id)
        .where(integrations.c.name == integration).order_by(sync_runs.c.id.desc()).limit(limit)
    )
    with engine.connect() as connection:
        runs = [row._asdict() for row in connection.execute(runs_query)]
        counted = connection.execute(
            select(record_changes.c.run_id, record_changes.c.action, func.count().label("records"))
            .where(record_changes.c.run_id.in_([run["id"] for run in runs]))
            .group_by(record_changes.c.run_id, record_changes.c.action)
        ).all()
    for run in runs:
        run["changes"] = dict.fromkeys(ACTIONS, 0)
    by_id = {run["id"]: run for run in runs}
    for row in counted:
        by_id[row.run_id]["changes"][row.action] = row.records
    return runs


def changes_url(integration: str, run_id: int, suffix: str = "") -> str:
    return integration_url(integration, f"runs/{int(run_id)}/changes{suffix}")


def recent_runs_section(engine: Engine, integration: str) -> str:
    """The "Recent runs" of an integration's page, each linking its Changes page."""
    runs = recent_runs(engine, integration)
    if not runs:
        return '<h2>Recent runs</h2><p id="runs-none">No run yet (<code>pmsync sync now</code>).</p>'
    rows = [
        [f'<a class="run" href="{escape(changes_url(integration, run["id"]), quote=True)}">{int(run["id"])}</a>',
         escape(run["flow"]), escape(format_utc(run["started_at"])), escape(run["status"]),
         *(str(run["changes"][action]) for action in ACTIONS),
         f'<a class="changes" href="{escape(changes_url(integration, run["id"]), quote=True)}">Changes</a>']
        for run in runs
    ]
    headers = ["run", "flow", "started (UTC)", "status", *ACTIONS, ""]
    return "<h2>Recent runs</h2>" + table(headers, rows, "runs")


def shown_value(value: Any) -> str:
    """A before or after value as escaped HTML text (`empty` for none); shown in a <bdi>, so its bidirectional controls
    reorder nothing around it."""
    if value is None:
        return '<span class="empty">empty</span>'
    return escape(value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False))


def changed_fields(changes: dict[str, list] | None) -> str:
    """Each changed field `name: before → after`, by name, escaped; a dash for a record created, deactivated or reactivated."""
    if not changes:
        return "—"
    items = "".join(
        f'<li><code class="field">{escape(name)}</code>: <bdi class="before">{shown_value(before)}</bdi> → '
        f'<bdi class="after">{shown_value(after)}</bdi></li>'
        for name, (before, after) in sorted(changes.items())
    )
    return f'<ul class="fields">{items}</ul>'


def _pager(integration: str, run_id: int, page: int, shown: int, total: int) -> str:
    first = (page - 1) * PAGE_CHANGES + 1
    links = []
    if page > 1:
        links.append(f'<a id="previous" href="{escape(changes_url(integration, run_id), quote=True)}?page={page - 1}">Previous</a>')
    if first + shown - 1 < total:
        links.append(f'<a id="next" href="{escape(changes_url(integration, run_id), quote=True)}?page={page + 1}">Next</a>')
    where = f"Records {first}–{first + shown - 1} of {total}" if shown else f"No records on page {page} (of {total})"
    return f'<p id="pager">{where}' + (" · " + " · ".join(links) if links else "") + "</p>"


def changes_router(engine: Engine, page: Callable[..., HTMLResponse], integration_of: Callable[..., str]) -> APIRouter:
    """GET {prefix}/runs/{run_id}/changes (a page of the run's changes) and its changes.csv and changes.xlsx (all of them,
    one row per changed field); a run of another integration is UnknownRun. Included under the integration's prefix."""
    router = APIRouter()
    of_integration = Depends(integration_of)

    @router.get("/runs/{run_id}/changes", response_class=HTMLResponse)
    def run_changes(integration: str = of_integration, run_id: int = RUN_ID, page_number: int = PAGE) -> Response:
        run = find_run(engine, integration, run_id)
        with engine.connect() as connection:
            counts = change_counts(connection, run_id)
        total = sum(n for actions in counts.values() for n in actions.values())
        changes = changes_of_run(engine, integration, run_id, PAGE_CHANGES, (page_number - 1) * PAGE_CHANGES)
        downloads = (
            f'<p><a class="download csv" href="{escape(changes_url(integration, run_id, ".csv"), quote=True)}" download>'
            f'Download CSV</a> · <a class="download xlsx" href="{escape(changes_url(integration, run_id, ".xlsx"), quote=True)}" '
            "download>Download Excel</a> (every change, one row per changed field)</p>"
        )
        summary = (f'<p id="run">Run {int(run_id)} ({escape(run["flow"])}, {escape(run["status"])}), started '
                   f'{escape(format_utc(run["started_at"]))} UTC: ')
        summary += (f"{total} record(s) changed: {escape(counts_line(counts))}.</p>" if total else
                    "no record changed (or its changes are older than PMSYNC_CHANGES_RETENTION_DAYS).</p>")
        rows = [[escape(c["entity"]), str(int(c["source_id"])), escape(c["action"]), changed_fields(c["changes"])]
                for c in changes]
        body = (
            f'<p id="nav"><a href="{escape(integration_url(integration), quote=True)}">All reports of '
            f'{escape(integration)}</a> · <a id="all-integrations" href="/">All integrations</a></p>{summary}'
            + (downloads + _pager(integration, run_id, page_number, len(changes), total)
               + table(["record type", "source id", "action", "changed fields (before → after)"], rows, "changes")
               if total else "")
        )
        return page(f"Changes of run {int(run_id)} of {integration}", body)

    def filename(integration: str, run: dict, suffix: str) -> str:
        return f"changes-{integration}-run-{int(run['id'])}-{run['started_at']:%Y-%m-%d}.{suffix}"

    @router.get("/runs/{run_id}/changes.csv")
    def run_changes_csv(integration: str = of_integration, run_id: int = RUN_ID) -> Response:
        run = find_run(engine, integration, run_id)
        return csv_download(lambda: table_csv_chunks(EXPORT_COLUMNS, export_rows(engine, integration, run_id)),
                            filename(integration, run, "csv"))

    @router.get("/runs/{run_id}/changes.xlsx")
    def run_changes_xlsx(integration: str = of_integration, run_id: int = RUN_ID) -> Response:
        run = find_run(engine, integration, run_id)
        return workbook_download(
            lambda out: write_table_workbook(EXPORT_COLUMNS, export_rows(engine, integration, run_id), out,
                                             f"Changes of run {int(run_id)}", WIDTHS),
            filename(integration, run, "xlsx"))

    return router
