"""The Reports app: recent snapshots, a chart of deactivations, each snapshot's changes by property, CSV and Excel downloads."""

from __future__ import annotations

import tempfile
from functools import partial
from html import escape

import uvicorn
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import SecretStr, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pmsync.export import (
    UnknownSnapshot, csv_chunks, deactivations_over_time, find_snapshot, iter_report, recent_snapshots, snapshot_changes,
    snapshot_properties,
)
from pmsync.export_files import download_name
from pmsync.export_xlsx import write_workbook
from pmsync.hosts import is_loopback
from pmsync.platform import make_engine
from pmsync.settings import ImportSettings, invalid_settings
from reports import access
from reports.access import ReportsRefused, check_token, host_header_is_loopback
from reports.charts import deactivations_chart
from reports.hardening import Hardened
from reports.pages import not_found as _not_found
from reports.pages import page as _page
from reports.retention import sweeping
from reports.sections import snapshot_section, snapshots_table
from reports.signin import require_token
from reports.uploads import uploads_router

UPLOAD_LINK = '<p><a id="upload-link" href="/uploads">Upload owners or service providers (.csv)</a></p>'
MAX_ID_DIGITS = 18
SNAPSHOT_ID = Path(ge=1, le=2**63 - 1, description="A snapshot's id (a database key: at most 2^63 - 1).")
PAGE_ROWS = 1000
"""Rows of each kind of change a page shows; the downloads hold them all."""
PROPERTY = Query(None, description="Only this property's rows (its source id); empty for all.")
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOWNLOAD_BLOCK_BYTES = 64 * 1024


def serve(
    database_url: str, host: str = "127.0.0.1", port: int = 8780, token: SecretStr | None = None,
    integration: str | None = None,
) -> None:
    """Serve the Reports page (of one integration, when named) until interrupted; off this machine only with a token."""
    check_binding(host, token)
    uvicorn.run(create_app(database_url, token, integration), host=host, port=port, log_level="warning", access_log=False)


def check_binding(host: str, token: SecretStr | None) -> None:
    """Refuse to start on a short token, beyond this machine without a token, or with malformed PMSYNC_IMPORT_* settings."""
    access.check_binding(host, token)
    import_settings()


def import_settings() -> ImportSettings:
    """The upload settings (PMSYNC_IMPORT_*); ReportsRefused names a malformed one."""
    try:
        return ImportSettings()
    except ValidationError as invalid:
        raise ReportsRefused(invalid_settings(invalid)) from None


def create_app(database_url: str, token: SecretStr | None = None, integration: str | None = None) -> FastAPI:
    """The Reports app over one platform database, showing one integration's snapshots (all when None); with a token,
    every request must carry it (header, or the 12-hour sign-in cookie), and failed sign-ins are limited per client
    address (in this process's memory).

    Without a token the app answers only requests whose Host names this machine (no DNS rebinding). Every response
    forbids framing and content sniffing. While it runs, the app deletes expired uploads and fix-ups (retention.py).
    """
    check_token(token)
    settings = import_settings()
    engine = make_engine(database_url)
    app = FastAPI(title="pmsync reports", docs_url=None, redoc_url=None, openapi_url=None, lifespan=sweeping(settings))
    if token is None:
        _answer_loopback_hosts_only(app)
    else:
        require_token(app, token)
    app.add_middleware(Hardened)
    page = partial(_page, sign_out=token is not None)
    not_found = partial(_not_found, sign_out=token is not None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 404:
            return not_found("There is no such page.")
        return page(f"Error {error.status_code}", f"<p>{escape(str(error.detail))}</p>", error.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_path(request: Request, error: RequestValidationError) -> Response:
        return not_found("Snapshot and property ids are whole numbers.")

    @app.exception_handler(BadPropertyFilter)
    async def bad_filter(request: Request, error: BadPropertyFilter) -> Response:
        return not_found(str(error))

    @app.exception_handler(UnknownSnapshot)
    async def unknown_snapshot(request: Request, unknown: UnknownSnapshot) -> Response:
        return not_found(str(unknown).split(";")[0])

    def changes_section(snapshot_id: int, action: str, property_id: int | None) -> tuple[dict, str]:
        found, changes = snapshot_changes(engine, snapshot_id, integration, property_id, PAGE_ROWS)
        choices = snapshot_properties(engine, found["id"])
        return found, snapshot_section(found, changes, action, choices, property_id, PAGE_ROWS)

    @app.get("/", response_class=HTMLResponse)
    def index(property: str | None = PROPERTY) -> Response:
        property_id = property_filter(property)
        snapshots = recent_snapshots(engine, 20, integration)
        title = "Reconciliation reports" + (f" of {integration}" if integration else "")
        if not snapshots:
            return page(title, "<p>No reconciliation has run yet (<code>pmsync reconcile</code>).</p>" + UPLOAD_LINK)
        latest, section = changes_section(snapshots[0]["id"], "/", property_id)
        scope = integration or "all integrations"
        if property_id is not None:
            scope += f", property {property_id}"
        body = (
            UPLOAD_LINK + "<h2>Recent snapshots</h2>" + snapshots_table(snapshots)
            + f"<h2>Deactivations over time ({escape(scope)})</h2>"
            + deactivations_chart(deactivations_over_time(engine, integration, property_id), scope)
            + f'<section id="latest"><h2>Latest snapshot {int(latest["id"])}</h2>{section}</section>'
        )
        return page(title, body)

    @app.get("/snapshots/{snapshot_id}", response_class=HTMLResponse)
    def snapshot(snapshot_id: int = SNAPSHOT_ID, property: str | None = PROPERTY) -> Response:
        property_id = property_filter(property)
        found, section = changes_section(snapshot_id, f"/snapshots/{snapshot_id}", property_id)
        body = f'<p><a href="/">All snapshots</a></p><section id="snapshot">{section}</section>'
        return page(f"Snapshot {found['id']} of {found['integration']}", body)

    def resolve(snapshot_id: int) -> dict:
        with engine.connect() as connection:
            return find_snapshot(connection, snapshot_id, integration)

    def filename(found: dict, property_id: int | None, suffix: str) -> str:
        return download_name(found, suffix, property_id)

    @app.get("/snapshots/{snapshot_id}/report.csv")
    @app.get("/snapshots/{snapshot_id}/deactivated-units.csv")
    def snapshot_csv(snapshot_id: int = SNAPSHOT_ID, property: str | None = PROPERTY) -> Response:
        property_id = property_filter(property)
        found = resolve(snapshot_id)

        def chunks():
            with engine.connect() as connection:
                for chunk in csv_chunks(iter_report(connection, found, property_id)):
                    yield chunk.encode("utf-8")

        return StreamingResponse(chunks(), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{filename(found, property_id, "csv")}"'})

    @app.get("/snapshots/{snapshot_id}/report.xlsx")
    def snapshot_xlsx(snapshot_id: int = SNAPSHOT_ID, property: str | None = PROPERTY) -> Response:
        property_id = property_filter(property)
        found = resolve(snapshot_id)
        workbook = tempfile.TemporaryFile(prefix="pmsync-report-", suffix=".xlsx")
        try:
            with engine.connect() as connection:
                write_workbook(connection, found, workbook, property_id)
            size = workbook.tell()
            workbook.seek(0)
        except BaseException:
            workbook.close()
            raise

        def blocks():
            with workbook:
                while block := workbook.read(DOWNLOAD_BLOCK_BYTES):
                    yield block

        return StreamingResponse(blocks(), media_type=XLSX_MEDIA_TYPE, headers={
            "Content-Disposition": f'attachment; filename="{filename(found, property_id, "xlsx")}"',
            "Content-Length": str(size)})

    app.include_router(uploads_router(page, not_found, integration, settings))
    return app


__all__ = ["ReportsRefused", "check_binding", "create_app", "is_loopback", "serve"]


def _answer_loopback_hosts_only(app: FastAPI) -> None:
    @app.middleware("http")
    async def loopback_host(request: Request, call_next):
        if not host_header_is_loopback(request.headers.get("host")):
            return _page("Wrong host name", "<p>This page answers only to this machine's own names: open it as "
                         "<code>http://127.0.0.1:PORT/</code>, <code>http://localhost:PORT/</code> or "
                         "<code>http://[::1]:PORT/</code>.</p>", 403)
        return await call_next(request)


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
