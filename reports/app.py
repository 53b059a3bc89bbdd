"""The Reports app: one server for every integration; each one's snapshots, chart, reports, runs' changes, downloads and uploads."""

from __future__ import annotations

from functools import partial
from html import escape

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import SecretStr, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pmsync.exports.snapshots import UnknownSnapshot, find_snapshot
from pmsync.hosts import is_loopback
from pmsync.platform.database import make_engine
from pmsync.settings import ImportSettings, invalid_settings
from reports import access
from reports.access import ReportsRefused, check_token, host_header_is_loopback
from reports.changes import UnknownRun, changes_router
from reports.hardening import Hardened
from reports.pages import not_found as _not_found
from reports.pages import page as _page
from reports.retention import sweeping
from reports.scope import PREFIX, IntegrationScope, UnknownIntegration, integration_links, integration_url
from reports.signin import require_token
from reports.snapshots import SNAPSHOT_DOWNLOADS, SNAPSHOT_ID, BadPropertyFilter, snapshots_router
from reports.uploads import uploads_router


def serve(
    database_url: str, host: str = "127.0.0.1", port: int = 8780, token: SecretStr | None = None,
    integration: str | None = None,
) -> None:
    """Serve the Reports pages (of every integration, or only the one named) until interrupted; off this machine only
    with a token."""
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
    """The Reports app over one platform database: `/` picks an integration, and every page of one lives under
    `/integrations/{name}/` (its snapshots, its uploads). It shows every integration on the platform, or only
    `integration` when named (other names are 404). With a token, every request must carry it (header, or the 12-hour
    sign-in cookie), and failed sign-ins are limited per client address (in this process's memory).

    Without a token the app answers only requests whose Host names this machine (no DNS rebinding). Every response
    forbids framing and content sniffing. While it runs, the app deletes expired uploads and fix-ups (retention.py).
    """
    check_token(token)
    settings = import_settings()
    engine = make_engine(database_url)
    scope = IntegrationScope(engine, integration)
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
        return not_found("Snapshot and property ids are whole numbers (as are run ids and page numbers).")

    @app.exception_handler(BadPropertyFilter)
    async def bad_filter(request: Request, error: BadPropertyFilter) -> Response:
        return not_found(str(error))

    @app.exception_handler(UnknownSnapshot)
    async def unknown_snapshot(request: Request, unknown: UnknownSnapshot) -> Response:
        return not_found(str(unknown).split(";")[0])

    @app.exception_handler(UnknownRun)
    async def unknown_run(request: Request, unknown: UnknownRun) -> Response:
        return not_found(str(unknown))

    @app.exception_handler(UnknownIntegration)
    async def unknown_integration(request: Request, unknown: UnknownIntegration) -> Response:
        asked = str(request.path_params.get("integration", ""))
        return page("Not found", f"<p id=\"unknown-integration\">This server shows no integration named "
                    f"<code>{escape(asked)}</code>. Choose one:</p>" + integration_links(unknown.known), 404)

    @app.get("/", response_class=HTMLResponse)
    def pick_integration() -> Response:
        return page("Reconciliation reports", "<p>Choose an integration (a company synced into the platform):</p>"
                    + integration_links(scope.names()))

    @app.get("/snapshots/{snapshot_id}")
    @app.get("/snapshots/{snapshot_id}/{download}")
    def former_snapshot_url(request: Request, snapshot_id: int = SNAPSHOT_ID, download: str = "") -> Response:
        """Links from before pages named their integration: redirected to the snapshot's integration's page."""
        if download and download not in SNAPSHOT_DOWNLOADS:
            return not_found("There is no such page.")
        with engine.connect() as connection:
            found = find_snapshot(connection, snapshot_id, scope.only)
        target = integration_url(found["integration"], f"snapshots/{snapshot_id}" + (f"/{download}" if download else ""))
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(target + query, status_code=307)

    @app.api_route("/uploads", methods=["GET", "POST"])
    @app.api_route("/uploads/{rest:path}", methods=["GET", "POST"])
    def former_upload_url() -> Response:
        return page("Uploads belong to an integration", "<p id=\"choose-upload\">Uploads now go to one integration: "
                    "choose the one to upload into (a file uploaded before is on its integration's page).</p>"
                    + integration_links(scope.names(), "uploads"), 404)

    integration_of = scope.dependency()
    app.include_router(snapshots_router(engine, page, integration_of), prefix=PREFIX)
    app.include_router(changes_router(engine, page, integration_of), prefix=PREFIX)
    app.include_router(uploads_router(page, not_found, integration_of, settings), prefix=PREFIX)
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
