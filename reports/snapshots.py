"""An integration's reconciliation pages: its snapshots, chart and latest report, each snapshot's report, CSV and Excel."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine

from pmsync.exports.snapshots import (
    csv_chunks, deactivations_over_time, find_snapshot, iter_report, recent_snapshots, snapshot_changes, snapshot_properties,
)
from pmsync.exports.files import download_name
from pmsync.exports.xlsx import write_workbook
from reports.changes import recent_runs_section
from reports.charts import deactivations_chart
from reports.downloads import csv_download, workbook_download
from reports.scope import integration_url
from reports.sections import snapshot_section, snapshots_table

MAX_ID_DIGITS = 18
SNAPSHOT_ID = Path(ge=1, le=2**63 - 1, description="A snapshot's id (a database key: at most 2^63 - 1).")
PAGE_ROWS = 1000
"""Rows of each kind of change a page shows; the downloads hold them all."""
PROPERTY = Query(None, description="Only this property's rows (its source id); empty for all.")
SNAPSHOT_DOWNLOADS = ("report.csv", "deactivated-units.csv", "report.xlsx")
"""What follows `snapshots/{id}/` in a download's path (`deactivated-units.csv`: the former name of the CSV)."""


def integration_nav(integration: str) -> str:
    """The links atop every page of an integration: its upload page, and the other integrations."""
    return (
        f'<p id="nav"><a id="upload-link" href="{escape(integration_url(integration, "uploads"), quote=True)}">Upload '
        'owners or service providers (.csv)</a> · <a id="all-integrations" href="/">All integrations</a></p>'
    )


def snapshots_router(engine: Engine, page: Callable[..., HTMLResponse], integration_of: Callable[..., str]) -> APIRouter:
    """GET {prefix}/ (the latest snapshot, the list and the chart), {prefix}/snapshots/{id} and its report.csv and
    report.xlsx; the router is included under the integration's prefix (reports/scope.py)."""
    router = APIRouter()
    of_integration = Depends(integration_of)

    def changes_section(integration: str, snapshot_id: int, action: str, property_id: int | None) -> tuple[dict, str]:
        found, changes = snapshot_changes(engine, snapshot_id, integration, property_id, PAGE_ROWS)
        choices = snapshot_properties(engine, found["id"])
        base = integration_url(integration).rstrip("/")
        return found, snapshot_section(found, changes, action, choices, property_id, PAGE_ROWS, base=base)

    @router.get("/", response_class=HTMLResponse)
    def index(integration: str = of_integration, property: str | None = PROPERTY) -> Response:
        property_id = property_filter(property)
        base = integration_url(integration).rstrip("/")
        snapshots = recent_snapshots(engine, 20, integration)
        title = f"Reconciliation reports of {integration}"
        runs = recent_runs_section(engine, integration)
        if not snapshots:
            return page(title, integration_nav(integration) + runs
                        + "<p>No reconciliation has run yet (<code>pmsync reconcile</code>).</p>")
        latest, section = changes_section(integration, snapshots[0]["id"], f"{base}/", property_id)
        scope = integration if property_id is None else f"{integration}, property {property_id}"
        body = (
            integration_nav(integration) + runs + "<h2>Recent snapshots</h2>" + snapshots_table(snapshots, base)
            + f"<h2>Deactivations over time ({escape(scope)})</h2>"
            + deactivations_chart(deactivations_over_time(engine, integration, property_id), scope, base)
            + f'<section id="latest"><h2>Latest snapshot {int(latest["id"])}</h2>{section}</section>'
        )
        return page(title, body)

    @router.get("/snapshots/{snapshot_id}", response_class=HTMLResponse)
    def snapshot(integration: str = of_integration, snapshot_id: int = SNAPSHOT_ID, property: str | None = PROPERTY) -> Response:
        property_id = property_filter(property)
        action = integration_url(integration, f"snapshots/{snapshot_id}")
        found, section = changes_section(integration, snapshot_id, action, property_id)
        body = (f'{integration_nav(integration)}<p><a href="{escape(integration_url(integration), quote=True)}">All '
                f'snapshots of {escape(integration)}</a></p><section id="snapshot">{section}</section>')
        return page(f"Snapshot {found['id']} of {found['integration']}", body)

    def resolve(integration: str, snapshot_id: int) -> dict:
        with engine.connect() as connection:
            return find_snapshot(connection, snapshot_id, integration)

    def filename(found: dict, property_id: int | None, suffix: str) -> str:
        return download_name(found, suffix, property_id)

    @router.get("/snapshots/{snapshot_id}/report.csv")
    @router.get("/snapshots/{snapshot_id}/deactivated-units.csv")
    def snapshot_csv(integration: str = of_integration, snapshot_id: int = SNAPSHOT_ID, property: str | None = PROPERTY) -> Response:
        property_id = property_filter(property)
        found = resolve(integration, snapshot_id)

        def chunks():
            with engine.connect() as connection:
                yield from csv_chunks(iter_report(connection, found, property_id))

        return csv_download(chunks, filename(found, property_id, "csv"))

    @router.get("/snapshots/{snapshot_id}/report.xlsx")
    def snapshot_xlsx(integration: str = of_integration, snapshot_id: int = SNAPSHOT_ID, property: str | None = PROPERTY) -> Response:
        property_id = property_filter(property)
        found = resolve(integration, snapshot_id)

        def write(workbook):
            with engine.connect() as connection:
                write_workbook(connection, found, workbook, property_id)

        return workbook_download(write, filename(found, property_id, "xlsx"))

    return router


class BadPropertyFilter(ValueError):
    """The `property` filter is not a property's id; the message says what it must be."""


def property_filter(value: str | None) -> int | None:
    """The `?property=` filter: a property's source id, or None when absent or empty ("All properties")."""
    text = (value or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS):
        raise BadPropertyFilter("Property ids are whole numbers; choose one in the Property list.")
    return int(text)
