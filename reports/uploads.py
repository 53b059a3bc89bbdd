"""The Reports page's upload of owners and service providers: stored in PMSYNC_IMPORT_DIR, imported by the csv-import deployment."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from pmsync.cli.prefect_config import configured_api_url
from pmsync.runs.names import run_name
from pmsync.settings import ImportSettings
from reports.scope import integration_url
from reports.upload_body import UploadRefused, receive_form, too_big
from reports.upload_guide import KINDS, UNAVAILABLE, file_tag, guide, template_csv, upload_form_html, uploaded_name
from reports.upload_result import FINAL_STATES, fix_up_file, result

log = logging.getLogger("pmsync.reports")

IMPORT_DEPLOYMENT = "csv-import/import"
FORM_OVERHEAD_BYTES = 16 * 1024
NO_PREFECT = (
    "uploads start the csv-import/import deployment on the Prefect server, and none is configured: set PREFECT_API_URL "
    "(e.g. http://127.0.0.1:4200/api) for `pmsync reports serve` and restart it"
)


class Unavailable(UploadRefused):
    """Uploads cannot work until the operator fixes something; the message (for the server log) says what."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 503)

PageMaker = Callable[..., HTMLResponse]


def uploads_router(
    page: PageMaker, not_found: PageMaker, integration_of: Callable[..., str], settings: ImportSettings | None = None
) -> APIRouter:
    """GET/POST {prefix}/uploads (the form, the upload), GET {prefix}/uploads/{flow_run_id} (the import's state and
    result), and GET {prefix}/uploads/{flow_run_id}/fix-up.csv (a rejected file's fix-up CSV), included under the
    integration's prefix (reports/scope.py); `integration_of` resolves its name. `page`/`not_found` render the pages.

    A file is imported into the integration its URL names; results and fix-ups are those of that integration's uploads
    only: another integration's flow run id is not found there.
    """
    settings = settings or ImportSettings()
    router = APIRouter()
    of_integration = Depends(integration_of)

    def unavailable(title: str, integration: str, problem: str) -> HTMLResponse:
        log.error("uploads into %s are not available: %s", integration, problem)
        return page(title, UNAVAILABLE + _links(integration), 503)

    @router.get("/uploads", response_class=HTMLResponse)
    def upload_form(integration: str = of_integration) -> Response:
        if configured_api_url() is None:
            return unavailable("Upload owners or service providers", integration, NO_PREFECT)
        return page("Upload owners or service providers",
                    upload_form_html(integration) + guide(integration, settings.import_max_bytes) + _links(integration))

    @router.get("/uploads/templates/{kind}.csv")
    def template(kind: str, integration: str = of_integration) -> Response:
        if kind not in KINDS:
            return not_found("There are templates of owners and service-providers files only.")
        return Response(template_csv(kind), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{kind}-template.csv"'})

    @router.post("/uploads")
    async def upload(request: Request, integration: str = of_integration) -> Response:
        api_url = configured_api_url()
        if api_url is None:
            return unavailable("Upload not started", integration, NO_PREFECT)
        try:
            kind, stored, filename = await _store_upload(request, settings, integration)
        except Unavailable as problem:
            return unavailable("Upload not started", integration, str(problem))
        except UploadRefused as refused:
            return page("Upload refused", f'<p id="refused">{escape(str(refused))}</p>' + _links(integration),
                        refused.status)
        try:
            run_id = await _start_import(api_url, kind, stored.name, integration, filename)
        except UploadRefused as refused:
            stored.unlink(missing_ok=True)
            if isinstance(refused, Unavailable):
                return unavailable("Upload not started", integration, str(refused))
            return page("Upload not started", f'<p id="refused">{escape(str(refused))}</p>' + _links(integration),
                        refused.status)
        return RedirectResponse(integration_url(integration, f"uploads/{run_id}"), status_code=303)

    async def import_run(integration: str, flow_run_id: str, with_artifacts: bool) -> tuple[Any, list[Any]] | Response:
        """This integration's upload run and its artifacts, or the page saying why not."""
        try:
            run_id = uuid.UUID(flow_run_id)
        except ValueError:
            return not_found("An upload's page is named by its flow run id (a UUID).")
        api_url = configured_api_url()
        if api_url is None:
            return unavailable("Upload", integration, NO_PREFECT)
        try:
            return await _read_import_run(api_url, run_id, integration, with_artifacts)
        except UploadRefused as refused:
            if refused.status == 404:
                return not_found(str(refused))
            return page("Upload", f'<p id="refused">{escape(str(refused))}</p>' + _links(integration), refused.status)

    @router.get("/uploads/{flow_run_id}/fix-up.csv")
    async def fix_up_download(flow_run_id: str, integration: str = of_integration) -> Response:
        found = await import_run(integration, flow_run_id, with_artifacts=False)
        if isinstance(found, Response):
            return found
        fix_up = fix_up_file(found[0], settings.import_dir)
        if fix_up is None:
            return not_found("This upload has no fix-up file (or it was deleted after PMSYNC_IMPORT_RETENTION_DAYS).")
        return FileResponse(fix_up, media_type="text/csv; charset=utf-8", filename=fix_up.name)

    @router.get("/uploads/{flow_run_id}", response_class=HTMLResponse)
    async def upload_result(flow_run_id: str, integration: str = of_integration) -> Response:
        found = await import_run(integration, flow_run_id, with_artifacts=True)
        if isinstance(found, Response):
            return found
        run, artifacts = found
        name = uploaded_name(run)
        return page(f"Upload of {name}" if name else f"Upload: {run.name}",
                    result(run, artifacts, settings.import_dir, integration) + _links(integration))

    return router


def _links(integration: str) -> str:
    uploads, home = (escape(integration_url(integration, rest), quote=True) for rest in ("uploads", ""))
    return (f'<p><a href="{uploads}">Upload another file</a> · <a href="{home}">All snapshots of '
            f'{escape(integration)}</a> · <a href="/">All integrations</a></p>')


def _same_origin(request: Request) -> bool:
    """The form posts from this site: browsers send Origin on every POST, and a cross-site form's names another host."""
    origin, host = request.headers.get("origin"), request.headers.get("host")
    if not origin or not host:
        return False
    parts = urlsplit(origin)
    return parts.scheme in {"http", "https"} and parts.netloc.lower() == host.lower()


async def _store_upload(request: Request, settings: ImportSettings, integration: str) -> tuple[str, Path, str]:
    """Check the form and write the file into the import directory under a generated name; return its kind, its path
    and the file's own name.

    A declared Content-Length over the cap is refused before any of the body is read; otherwise the body is read as it
    arrives and refused the moment it passes the cap.
    """
    if not _same_origin(request):
        raise UploadRefused("the upload did not come from this page's form (Origin header); upload from "
                            f"{integration_url(integration, 'uploads')}", 403)
    length = request.headers.get("content-length", "").strip()
    if length.isdigit() and int(length) > settings.import_max_bytes + FORM_OVERHEAD_BYTES:
        raise too_big(settings.import_max_bytes)
    if not settings.import_dir.is_dir():
        raise Unavailable(f"the import directory {settings.import_dir} does not exist on this server; set "
                          "PMSYNC_IMPORT_DIR to a directory the csv-import worker reads too")
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
    return kind, stored, form.filename


def _prefect_client(api_url: str) -> Any:
    """A client of the server PREFECT_API_URL names now, as `get_client` builds it but never a temporary server of its
    own (Prefect reads its settings once, when first imported; this page reads them per request)."""
    from prefect.client.orchestration import PrefectClient
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_KEY

    return PrefectClient(api_url, auth_string=PREFECT_API_AUTH_STRING.value(), api_key=PREFECT_API_KEY.value())


async def _start_import(api_url: str, kind: str, stored_name: str, integration: str, filename: str) -> uuid.UUID:
    """Queue the csv-import deployment for the stored file, tagged with the file's own name; the worker reads it from
    its PMSYNC_IMPORT_DIR."""
    import httpx  # Prefect loads on the first upload, not when the Reports app starts
    from prefect.deployments import arun_deployment
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    parameters = {"kind": kind, "path": stored_name, "integration": integration}
    try:
        async with _prefect_client(api_url) as client:
            run = await arun_deployment(IMPORT_DEPLOYMENT, client=client, parameters=parameters, timeout=0,
                                        tags=[file_tag(filename)], flow_run_name=run_name("csv-import", integration))
    except ObjectNotFound:
        raise Unavailable(f"the deployment {IMPORT_DEPLOYMENT} does not exist on the Prefect server at {api_url}; "
                          "deploy it (`pmsync deploy`, or `prefect deploy --name import`)") from None
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
