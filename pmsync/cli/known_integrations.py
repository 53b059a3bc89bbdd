"""Before a job starts: the Prefect server configured answers, and `--integration` names an integration pmsync knows.

Both are checked over plain HTTP in well under a second, before Prefect is imported or a temporary server started:
a mistyped name or a stopped server ends the command at once, in one line."""

from __future__ import annotations

import os

from pmsync.cli.common import EXIT_CONFIGURATION, EXIT_SOURCE_UNAVAILABLE, fail, registered_integrations
from pmsync.cli.prefect_config import configured_api_url

ANSWER_SECONDS = 3.0


def check_integration_known(integration: str | None, *, needs_block: bool = True) -> None:
    """End the command (exit 2, naming the integrations known) when `integration` names none pmsync knows: with a
    Prefect server configured, a job that needs the source loads the block of that name, so it must be one of the
    server's integration blocks (any vendor's); otherwise (no server, or a job that needs only the name,
    `needs_block` False) it must be the PMSYNC_* environment's integration, one on the platform, or a block. A
    configured server that does not answer ends it with exit 3 (`check_prefect_server`)."""
    from pmsync.integrations.block_wording import block_kind
    from pmsync.runs import parameters
    from pmsync.platform.settings import IntegrationNameSettings

    try:
        kind = parameters.IntegrationName if needs_block else parameters.PlatformIntegrationName
        parameters.check_value(kind | None, integration, "integration")
    except parameters.ParameterRejected as refused:
        fail(str(refused), EXIT_CONFIGURATION)
    url = check_prefect_server(runs_without=integration is None)
    if integration is None:
        return
    environments = IntegrationNameSettings().integration_name
    on_platform = set(_platform_names())
    blocks = _server_blocks(url) if url else None
    if blocks is not None and integration in blocks:
        return
    if blocks is not None and needs_block:
        known = sorted(blocks) or ["(none: `pmsync integration add NAME` creates one)"]
        fail(f"unknown integration {integration!r}: the Prefect server at {url} has no {block_kind()} of "
             f"that name; name one of: {', '.join(known)} (`pmsync integration list`)", EXIT_CONFIGURATION)
    if integration == environments or integration in on_platform:
        return
    known = sorted({environments, *on_platform, *(blocks or ())})
    where = "nor a block on the Prefect server" if url else "and no Prefect server is configured (PREFECT_API_URL) to hold its block"
    fail(f"unknown integration {integration!r}: neither the PMSYNC_* environment's integration nor on the platform, "
         f"{where}; name one of: {', '.join(known)} (`pmsync integration list`)", EXIT_CONFIGURATION)


def check_prefect_server(*, runs_without: bool = False) -> str | None:
    """The configured Prefect API URL, once its server answered `GET /health`; None when none is configured. A server
    that does not answer ends the command with exit 3 and what to do (`runs_without`: the command could also run in
    process, with PREFECT_API_URL unset)."""
    import httpx

    url = configured_api_url()
    if not url:
        return None
    try:
        httpx.get(f"{url.rstrip('/')}/health", headers=_auth_headers(), timeout=ANSWER_SECONDS)
    except httpx.InvalidURL:
        fail(f"PREFECT_API_URL {url!r} is not a URL (e.g. http://127.0.0.1:4200/api)", EXIT_CONFIGURATION)
    except httpx.TransportError as silent:
        instead = ", or unset PREFECT_API_URL to run it in this process" if runs_without else ""
        fail(f"the Prefect server at {url} does not answer ({type(silent).__name__}): is the Prefect server running? "
             f"Start it (`prefect server start`) or point PREFECT_API_URL at one that is, and run again{instead}",
             EXIT_SOURCE_UNAVAILABLE)
    return url


def _server_blocks(url: str) -> set[str] | None:
    """The names of the server's integration blocks, every vendor's (pmsync.source.registry; pmsync.integrations.blocks is not
    imported here: it imports Prefect); None when the server would not list them (an older API, an access it
    refuses): Prefect then decides when the block is loaded."""
    import httpx

    from pmsync.source.registry import integration_block_types

    try:
        answer = httpx.post(
            f"{url.rstrip('/')}/block_documents/filter", headers=_auth_headers(), timeout=ANSWER_SECONDS,
            json={"block_types": {"slug": {"any_": list(integration_block_types())}}, "block_documents": {"is_anonymous": {"eq_": False}},
                  "include_secrets": False, "limit": 200},
        )
    except httpx.TransportError:
        return None
    if answer.status_code != 200:
        return None
    return {document["name"] for document in answer.json() if document.get("name")}


def _platform_names() -> list[str]:
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return registered_integrations()
    except (ValidationError, SQLAlchemyError, OSError):
        return []  # a platform that cannot be read yet: the job's own check says why


def _auth_headers() -> dict[str, str]:
    """What Prefect's client sends: PREFECT_API_KEY as a bearer token, or PREFECT_API_AUTH_STRING as basic auth."""
    import base64

    if os.environ.get("PREFECT_API_KEY"):
        return {"Authorization": f"Bearer {os.environ['PREFECT_API_KEY']}"}
    if os.environ.get("PREFECT_API_AUTH_STRING"):
        return {"Authorization": "Basic " + base64.b64encode(os.environ["PREFECT_API_AUTH_STRING"].encode()).decode()}
    return {}
