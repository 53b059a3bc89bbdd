"""The Reports app: recent snapshots, each snapshot's deactivated units, and a "Download CSV" link per snapshot."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import SecretStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from pmsync.platform import make_engine
from reports.access import (
    ReportsRefused, check_binding, check_token, host_header_is_loopback, is_loopback, local_target, session_matches,
    session_value, token_matches,
)
from pmsync.export import UnknownSnapshot, csv_text, format_moment, recent_snapshots, snapshot_units
from reports.uploads import uploads_router

TOKEN_HEADER = "X-Reports-Token"
SESSION_COOKIE = "pmsync_reports_session"
MAX_LOGIN_BODY_BYTES = 4096
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:1rem 0}"
    "th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}th{background:#f3f3f3}.num{text-align:right}"
    "a.download{font-weight:600}"
)


def serve(database_url: str, host: str = "127.0.0.1", port: int = 8780, token: SecretStr | None = None) -> None:
    """Serve the Reports page until interrupted; off this machine only with an access token."""
    check_binding(host, token)
    uvicorn.run(create_app(database_url, token), host=host, port=port, log_level="warning", access_log=False)


def create_app(database_url: str, token: SecretStr | None = None) -> FastAPI:
    """The Reports app over one platform database; with a token, every request must carry it (header or login cookie).

    Without a token the app answers only requests whose Host names this machine (no DNS rebinding).
    """
    check_token(token)
    engine = make_engine(database_url)
    app = FastAPI(title="pmsync reports", docs_url=None, redoc_url=None, openapi_url=None)
    if token is None:
        _answer_loopback_hosts_only(app)
    else:
        _require_token(app, token)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 404:
            return not_found("There is no such page.")
        return page(f"Error {error.status_code}", f"<p>{escape(str(error.detail))}</p>", error.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_path(request: Request, error: RequestValidationError) -> Response:
        return not_found("Snapshot ids are whole numbers.")

    @app.get("/", response_class=HTMLResponse)
    def index() -> Response:
        snapshots = recent_snapshots(engine, 20)
        if not snapshots:
            return page("Reconciliation reports", "<p>No reconciliation has run yet (<code>pmsync reconcile</code>).</p>")
        latest, rows = snapshot_units(engine, snapshots[0]["id"])
        body = (
            "<h2>Recent snapshots</h2>" + snapshots_table(snapshots)
            + f'<section id="latest"><h2>Latest snapshot {latest["id"]}: deactivated units</h2>'
            + snapshot_section(latest, rows) + "</section>"
        )
        return page("Reconciliation reports", body)

    @app.exception_handler(UnknownSnapshot)
    async def unknown_snapshot(request: Request, unknown: UnknownSnapshot) -> Response:
        return not_found(str(unknown).split(";")[0])

    @app.get("/snapshots/{snapshot_id}", response_class=HTMLResponse)
    def snapshot(snapshot_id: int) -> Response:
        found, rows = snapshot_units(engine, snapshot_id)
        body = f'<p><a href="/">All snapshots</a></p><section id="snapshot">{snapshot_section(found, rows)}</section>'
        return page(f"Snapshot {found['id']} of {found['integration']}", body)

    @app.get("/snapshots/{snapshot_id}/deactivated-units.csv")
    def snapshot_csv(snapshot_id: int) -> Response:
        found, rows = snapshot_units(engine, snapshot_id)
        filename = f"deactivated-units-snapshot-{found['id']}.csv"
        return Response(
            csv_text(rows).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    app.include_router(uploads_router(page, not_found))
    return app


__all__ = ["ReportsRefused", "check_binding", "create_app", "is_loopback", "serve"]


def _answer_loopback_hosts_only(app: FastAPI) -> None:
    @app.middleware("http")
    async def loopback_host(request: Request, call_next):
        if not host_header_is_loopback(request.headers.get("host")):
            return page("Wrong host name", "<p>This page answers only to this machine's own names: open it as "
                        "<code>http://127.0.0.1:PORT/</code>, <code>http://localhost:PORT/</code> or "
                        "<code>http://[::1]:PORT/</code>.</p>", 403)
        return await call_next(request)


def _require_token(app: FastAPI, token: SecretStr) -> None:
    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if request.url.path == "/login":
            return await call_next(request)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or None
        if not (token_matches(request.headers.get(TOKEN_HEADER), token) or token_matches(bearer, token)
                or session_matches(request.cookies.get(SESSION_COOKIE), token)):
            return login_page(request.url.path, status=401)
        return await call_next(request)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(next: str = "/") -> Response:
        return login_page(next)

    @app.post("/login")
    async def login(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_LOGIN_BODY_BYTES:
                return page("Sign-in refused", "<p>The sign-in form was too large.</p>", 413)
        try:
            fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=4)
        except ValueError:
            return page("Sign-in refused", "<p>The sign-in form has fields it does not expect.</p>", 400)
        target = local_target((fields.get("next") or ["/"])[0])
        if not token_matches((fields.get("token") or [None])[0], token):
            return login_page(target, status=401, failed=True)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, session_value(token), httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")
        return response


def login_page(next_path: str, status: int = 200, failed: bool = False) -> HTMLResponse:
    """The sign-in form; it echoes nothing but the page to return to, escaped."""
    notice = '<p id="login-failed">That is not the reports token; try again.</p>' if failed else ""
    form = (
        f'{notice}<form id="login" method="post" action="/login">'
        f'<input type="hidden" name="next" value="{escape(local_target(next_path), quote=True)}">'
        '<label>Reports token <input type="password" name="token" autocomplete="current-password" required></label> '
        '<button type="submit">Sign in</button></form>'
        "<p>Scripts send the token as the X-Reports-Token header instead.</p>"
    )
    return page("Sign in to the reports", form, status)


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def not_found(message: str) -> HTMLResponse:
    return page("Not found", f'<p>{escape(message)}</p><p><a href="/">All snapshots</a></p>', 404)


def _table(headers: list[str], rows: list[list[str]], table_id: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _download(snapshot_id: int) -> str:
    return f'<a class="download" href="/snapshots/{snapshot_id}/deactivated-units.csv" download>Download CSV</a>'


def snapshots_table(snapshots: list[dict[str, Any]]) -> str:
    headers = ["snapshot", "integration", "taken at (UTC)", "run", "units deactivated", "units reactivated",
               "properties deactivated", "active units in source", "active units on platform", "guard overridden", ""]
    rows = [
        [f'<a href="/snapshots/{s["id"]}">{s["id"]}</a>', escape(s["integration"]),
         escape(f"{s['taken_at']:%Y-%m-%d %H:%M:%S}"), str(s["run_id"]), str(s["deactivated_units"]),
         str(s["reactivated_unit_count"]), str(s["deactivated_property_count"]), str(s["source_unit_count"]),
         str(s["platform_active_unit_count"]), "yes" if s["mass_deactivation_allowed"] else "no", _download(s["id"])]
        for s in snapshots
    ]
    return _table(headers, rows, "snapshots")


def snapshot_section(snapshot: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    summary = (
        f"<p>Integration {escape(snapshot['integration'])}, taken {escape(format_moment(snapshot['taken_at']))} "
        f"by run {snapshot['run_id']}: {len(rows)} unit(s) deactivated. {_download(snapshot['id'])}</p>"
    )
    headers = ["property id", "property", "unit id", "unit", "deactivated at (UTC)", "reason"]
    cells = [
        [str(r["property_id"]), escape(r["property_name"] or ""), str(r["unit_id"]), escape(r["unit_name"] or ""),
         escape(r["deactivated_at"]), escape(r["reason"])]
        for r in rows
    ]
    return summary + (_table(headers, cells, "deactivated-units") if rows else "<p>No unit was deactivated.</p>")
