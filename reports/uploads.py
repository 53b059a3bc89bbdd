"""The Reports page's upload of owners and service providers: stored in PMSYNC_IMPORT_DIR, imported by the csv-import deployment."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from pmsync.cli.prefect_config import configured_api_url
from pmsync.import_files import ImportPathRefused, confined_path
from pmsync.platform_settings import IntegrationNameSettings
from pmsync.run_names import run_name
from pmsync.settings import ImportSettings
from reports.upload_body import UploadRefused, receive_form, too_big

IMPORT_DEPLOYMENT = "csv-import/import"
KINDS = {"owners": "Owners", "service-providers": "Service providers"}
FORM_OVERHEAD_BYTES = 16 * 1024
REFRESH_SECONDS = 2
STORED_NAME = re.compile(r"upload-[0-9a-f]{32}-(?:owners|service-providers)\.csv")
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
NO_PREFECT = (
    "<p id=\"no-prefect\">Uploads start the <code>csv-import/import</code> deployment on the Prefect server, and none is "
    "configured: set <code>PREFECT_API_URL</code> (e.g. <code>http://127.0.0.1:4200/api</code>) for "
    "<code>pmsync reports serve</code> and restart it. Nothing was stored.</p>"
)

PageMaker = Callable[..., HTMLResponse]


def uploads_router(
    page: PageMaker, not_found: PageMaker, integration: str | None = None, settings: ImportSettings | None = None
) -> APIRouter:
    """GET/POST /uploads (the form, the upload), GET /uploads/{flow_run_id} (the import's state and result), and
    GET /uploads/{flow_run_id}/fix-up.csv (a rejected file's fix-up CSV). `page`/`not_found` render the app's pages.

    Results and fix-ups are those of `integration`'s uploads only: another integration's flow run id is not found here.
    """
    settings = settings or ImportSettings()
    integration = integration or IntegrationNameSettings().integration_name
    router = APIRouter()

    @router.get("/uploads", response_class=HTMLResponse)
    def upload_form() -> Response:
        if configured_api_url() is None:
            return page("Upload owners or service providers", NO_PREFECT + _links(), 503)
        return page("Upload owners or service providers", _form(integration, settings.import_max_bytes) + _links())

    @router.post("/uploads")
    async def upload(request: Request) -> Response:
        api_url = configured_api_url()
        if api_url is None:
            return page("Upload not started", NO_PREFECT + _links(), 503)
        try:
            kind, stored = await _store_upload(request, settings)
        except UploadRefused as refused:
            return page("Upload refused", f'<p id="refused">{escape(str(refused))}</p>' + _links(), refused.status)
        try:
            run_id = await _start_import(api_url, kind, stored.name, integration)
        except UploadRefused as refused:
            stored.unlink(missing_ok=True)
            return page("Upload not started", f'<p id="refused">{escape(str(refused))}</p>' + _links(), refused.status)
        return RedirectResponse(f"/uploads/{run_id}", status_code=303)

    async def import_run(flow_run_id: str, with_artifacts: bool) -> tuple[Any, list[Any]] | Response:
        """This integration's upload run and its artifacts, or the page saying why not."""
        try:
            run_id = uuid.UUID(flow_run_id)
        except ValueError:
            return not_found("An upload's page is named by its flow run id (a UUID).")
        api_url = configured_api_url()
        if api_url is None:
            return page("Upload", NO_PREFECT + _links(), 503)
        try:
            return await _read_import_run(api_url, run_id, integration, with_artifacts)
        except UploadRefused as refused:
            if refused.status == 404:
                return not_found(str(refused))
            return page("Upload", f'<p id="refused">{escape(str(refused))}</p>' + _links(), refused.status)

    @router.get("/uploads/{flow_run_id}/fix-up.csv")
    async def fix_up_file(flow_run_id: str) -> Response:
        found = await import_run(flow_run_id, with_artifacts=False)
        if isinstance(found, Response):
            return found
        fix_up = _fix_up_file(found[0], settings.import_dir)
        if fix_up is None:
            return not_found("This upload has no fix-up file (or it was deleted after PMSYNC_IMPORT_RETENTION_DAYS).")
        return FileResponse(fix_up, media_type="text/csv; charset=utf-8", filename=fix_up.name)

    @router.get("/uploads/{flow_run_id}", response_class=HTMLResponse)
    async def upload_result(flow_run_id: str) -> Response:
        found = await import_run(flow_run_id, with_artifacts=True)
        if isinstance(found, Response):
            return found
        run, artifacts = found
        return page(f"Upload: {run.name}", _result(run, artifacts, settings.import_dir) + _links())

    return router


def _links() -> str:
    return '<p><a href="/uploads">Upload another file</a> · <a href="/">All snapshots</a></p>'


def _form(integration: str, max_bytes: int) -> str:
    choices = "".join(
        f'<label><input type="radio" name="kind" value="{kind}"{" checked" if n == 0 else ""}> {label}</label> '
        for n, (kind, label) in enumerate(KINDS.items())
    )
    return (
        '<form id="upload" method="post" action="/uploads" enctype="multipart/form-data">'
        f"<p>{choices}</p>"
        '<p><label>CSV file <input type="file" name="file" accept=".csv,text/csv" required></label></p>'
        '<p><button type="submit">Upload and import</button></p></form>'
        f"<p>Imported into integration <code>{escape(integration)}</code>. A .csv file (save the sheet as "
        f"'CSV UTF-8 (Comma delimited)') of up to {max_bytes:,} bytes. A file with any bad cell imports nothing: the "
        "next page lists each problem and offers the file back with a problems column to fix and upload again.</p>"
    )


def _same_origin(request: Request) -> bool:
    """The form posts from this site: browsers send Origin on every POST, and a cross-site form's names another host."""
    origin, host = request.headers.get("origin"), request.headers.get("host")
    if not origin or not host:
        return False
    parts = urlsplit(origin)
    return parts.scheme in {"http", "https"} and parts.netloc.lower() == host.lower()


async def _store_upload(request: Request, settings: ImportSettings) -> tuple[str, Path]:
    """Check the form and write the file into the import directory under a generated name; return its kind and path.

    A declared Content-Length over the cap is refused before any of the body is read; otherwise the body is read as it
    arrives and refused the moment it passes the cap.
    """
    if not _same_origin(request):
        raise UploadRefused("the upload did not come from this page's form (Origin header); upload from /uploads", 403)
    length = request.headers.get("content-length", "").strip()
    if length.isdigit() and int(length) > settings.import_max_bytes + FORM_OVERHEAD_BYTES:
        raise too_big(settings.import_max_bytes)
    if not settings.import_dir.is_dir():
        raise UploadRefused("the import directory does not exist on this server; the operator sets PMSYNC_IMPORT_DIR "
                            "to a directory the csv-import worker reads too", 503)
    form = await receive_form(request, settings.import_dir, settings.import_max_bytes,
                              settings.import_max_bytes + FORM_OVERHEAD_BYTES)
    try:
        kind = form.fields.get("kind")
        if kind not in KINDS:
            raise UploadRefused("choose what the file holds: owners or service providers")
        if form.partial is None or not form.filename:
            raise UploadRefused("choose a .csv file to upload")
        if not form.filename.lower().endswith(".csv"):
            raise UploadRefused(
                f"{form.filename} is not a .csv file; save the sheet as 'CSV UTF-8 (Comma delimited)' and upload that"
            )
        stored = settings.import_dir / f"upload-{uuid.uuid4().hex}-{kind}.csv"
        os.rename(form.partial, stored)
    except BaseException:
        if form.partial is not None:
            form.partial.unlink(missing_ok=True)
        raise
    return kind, stored


def _prefect_client(api_url: str) -> Any:
    """A client of the server PREFECT_API_URL names now, as `get_client` builds it but never a temporary server of its
    own (Prefect reads its settings once, when first imported; this page reads them per request)."""
    from prefect.client.orchestration import PrefectClient
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_KEY

    return PrefectClient(api_url, auth_string=PREFECT_API_AUTH_STRING.value(), api_key=PREFECT_API_KEY.value())


async def _start_import(api_url: str, kind: str, stored_name: str, integration: str) -> uuid.UUID:
    """Queue the csv-import deployment for the stored file; the worker reads it from its PMSYNC_IMPORT_DIR."""
    import httpx  # Prefect loads on the first upload, not when the Reports app starts
    from prefect.deployments import arun_deployment
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    parameters = {"kind": kind, "path": stored_name, "integration": integration}
    try:
        async with _prefect_client(api_url) as client:
            run = await arun_deployment(IMPORT_DEPLOYMENT, client=client, parameters=parameters, timeout=0, flow_run_name=run_name("csv-import", integration))
    except ObjectNotFound:
        raise UploadRefused(f"the deployment {IMPORT_DEPLOYMENT} does not exist; deploy it (prefect deploy --name "
                            "import) and upload again; nothing was imported", 503) from None
    except (PrefectHTTPStatusError, httpx.HTTPError) as failure:
        raise UploadRefused(f"the Prefect server at PREFECT_API_URL did not take the import ({type(failure).__name__}); "
                            "check that it runs and upload again; nothing was imported", 502) from None
    return run.id


async def _read_import_run(
    api_url: str, run_id: uuid.UUID, integration: str, with_artifacts: bool = True
) -> tuple[Any, list[Any]]:
    """The flow run (only a csv-import deployment's run into `integration`) and, once it is final, its artifacts."""
    import httpx  # Prefect loads on the first upload, not when the Reports app starts
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    try:
        async with _prefect_client(api_url) as client:
            run = await client.read_flow_run(run_id)
            deployment = await client.read_deployment_by_name(IMPORT_DEPLOYMENT)
            if run.deployment_id != deployment.id or (run.parameters or {}).get("integration") != integration:
                raise UploadRefused("No upload has that id.", 404)
            if not with_artifacts or run.state_type is None or run.state_type.value not in FINAL_STATES:
                return run, []
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
            )
    except ObjectNotFound:
        raise UploadRefused("No upload has that id.", 404) from None
    except (PrefectHTTPStatusError, httpx.HTTPError) as failure:
        raise UploadRefused(f"the Prefect server at PREFECT_API_URL did not answer ({type(failure).__name__}); "
                            "reload this page when it runs again", 502) from None
    return run, artifacts


def _result(run: Any, artifacts: list[Any], import_dir: Path) -> str:
    """The run's state; while it is not final the page refreshes itself, then it shows the counts or the problems."""
    parameters = run.parameters or {}
    kind = parameters.get("kind") if parameters.get("kind") in KINDS else None
    state = run.state_type.value if run.state_type else "PENDING"
    shown_state = escape(run.state_name or state.title())
    what = f"{KINDS[kind].lower()} file" if kind else "file"
    if state not in FINAL_STATES:
        return (
            f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
            f'<p id="upload-state" data-state="{escape(state)}">The {what} is being imported: {shown_state}. '
            f"This page refreshes every {REFRESH_SECONDS} s.</p>"
        )
    rows = _artifact_rows(artifacts, f"csv-import-{kind}") if kind else []
    if state == "COMPLETED":
        return (
            f'<p id="upload-state" data-state="{state}">The {what} was imported.</p>'
            + (_table(rows, "import-counts") if rows else "<p>The import published no counts.</p>")
        )
    message = run.state.message if run.state and run.state.message else "no message"
    body = (
        f'<p id="upload-state" data-state="{escape(state)}">The {what} was not imported ({shown_state}); nothing was '
        "written to the platform.</p>"
    )
    if rows and "problem" in rows[0]:
        body += "<h2>Problems, cell by cell</h2>" + _table(rows, "problems")
    if _fix_up_file(run, import_dir) is not None:
        body += (
            f'<p><a id="fix-up" class="download" href="/uploads/{run.id}/fix-up.csv" download>Download the fix-up '
            "CSV</a>: your file with a problems column; fix the cells it names and upload it again as it is.</p>"
        )
    return body + f'<details><summary>What the import said</summary><pre id="run-message">{escape(message)}</pre></details>'


def _fix_up_file(run: Any, import_dir: Path) -> Path | None:
    """The fix-up CSV the import wrote beside the run's uploaded file (`upload-….csv` → `upload-….errors.csv`), when it
    is a file inside the import directory (symlinks resolved); None when there is none."""
    stored_path = (run.parameters or {}).get("path")
    if not isinstance(stored_path, str) or not STORED_NAME.fullmatch(stored_path):
        return None
    try:
        return confined_path(import_dir, stored_path.removesuffix(".csv") + ".errors.csv")
    except ImportPathRefused:
        return None


def _artifact_rows(artifacts: list[Any], key: str) -> list[dict[str, Any]]:
    """The rows of the run's table artifact `key` (Prefect stores a table as JSON text)."""
    for artifact in artifacts:
        if artifact.key == key and artifact.type == "table":
            data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
            return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []
    return []


def _table(rows: list[dict[str, Any]], table_id: str) -> str:
    headers = list(dict.fromkeys(key for row in rows for key in row))
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(row.get(h, '')))}</td>" for h in headers) + "</tr>" for row in rows
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
