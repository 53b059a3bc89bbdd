"""`pmsync automations apply`: automations.yaml on the Prefect server, each created or updated by its name."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from pmsync.cli.common import EXIT_CONFIGURATION, console, fail
from pmsync.cli.deploy import require_prefect_server
from pmsync.cli.known_integrations import check_prefect_server

AUTOMATIONS_FILE = "automations.yaml"
NOTIFICATION = "send-notification"
automations_app = typer.Typer(no_args_is_help=True, help="Prefect automations that alert on pmsync's runs and events.")


@automations_app.command("apply")
def apply(
    file: Path = typer.Option(
        None, "--file", help="Automations file (default: automations.yaml here, else in PMSYNC_PROJECT_DIR)."
    ),
    notify_block: str | None = typer.Option(
        None, "--notify-block", envvar="PMSYNC_NOTIFY_BLOCK",
        help="Notification block as <block type slug>/<name> (default: the file's notify_block).",
    ),
) -> None:
    """Create each automation of the file, or update the one of the same name: running it again changes nothing."""
    import httpx
    import yaml
    from prefect.client.orchestration import get_client

    require_prefect_server()
    check_prefect_server()
    path = file or _default_file()
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as problem:
        fail(f"cannot read {path} ({problem}); pass --file with an automations YAML file", EXIT_CONFIGURATION)
    entries = spec.get("automations") if isinstance(spec, dict) else None
    if not isinstance(entries, list) or not entries:
        fail(f"{path} lists no automations (a top-level `automations:` list)", EXIT_CONFIGURATION)
    try:
        with get_client(sync_client=True) as client:
            block_id = _notification_block_id(client, notify_block or spec.get("notify_block"), entries)
            automations = [_validated(_deployment_ids(client, entry), block_id, path) for entry in entries]
            for automation in automations:
                _create_or_update(client, automation)
    except httpx.HTTPError as failure:
        fail(f"the Prefect server did not take the automations ({type(failure).__name__}: {failure}); check "
             "PREFECT_API_URL and that the server is up")


def _validated(entry: dict, block_id: str | None, path: Path):
    """The entry as Prefect's AutomationCore, its notifications sent to the block."""
    from prefect.events.schemas.automations import AutomationCore
    from pydantic import ValidationError

    for action in entry.get("actions", []):
        if action.get("type") == NOTIFICATION and not action.get("block_document_id"):
            action["block_document_id"] = str(block_id)
    try:
        return AutomationCore.model_validate(entry)
    except ValidationError as problem:
        first = problem.errors()[0]
        fail(f"automation {entry.get('name')!r} in {path} is not valid: {first['msg']} at "
             f"{'.'.join(map(str, first['loc']))}", EXIT_CONFIGURATION)


def _deployment_ids(client, entry: dict) -> dict:
    """The entry with each action's `deployment: <flow>/<deployment>` replaced by that deployment's id."""
    from prefect.exceptions import ObjectNotFound

    for action in entry.get("actions", []):
        if "deployment" in action:
            name = action.pop("deployment")
            try:
                action["deployment_id"] = str(client.read_deployment_by_name(name).id)
            except ObjectNotFound:
                fail(f"automation {entry.get('name')!r} runs the deployment {name}, which is not on the Prefect server; "
                     "deploy first (`pmsync deploy`)", EXIT_CONFIGURATION)
    return entry


def _create_or_update(client, automation) -> None:
    """Update the automation of the same name (the first, if several share it), else create it."""
    existing = client.read_automations_by_name(automation.name)
    if existing:
        client.update_automation(existing[0].id, automation)
        console.print(f"updated automation {automation.name!r} ({existing[0].id})", highlight=False)
    else:
        created = client.create_automation(automation)
        console.print(f"created automation {automation.name!r} ({created})", highlight=False)

def _default_file() -> Path:
    here = Path.cwd() / AUTOMATIONS_FILE
    if here.is_file() or not os.environ.get("PMSYNC_PROJECT_DIR"):
        return here
    return Path(os.environ["PMSYNC_PROJECT_DIR"]) / AUTOMATIONS_FILE


def _notification_block_id(client, reference: str | None, entries: list[dict]) -> str | None:
    """The id of the block `<type slug>/<name>` when a notification action needs one."""
    from prefect.exceptions import ObjectNotFound

    needs = any(a.get("type") == NOTIFICATION and not a.get("block_document_id") for e in entries for a in e.get("actions", []))
    if not needs:
        return None
    slug, _, name = (reference or "").partition("/")
    if not slug or not name:
        fail("notifications need a block: pass --notify-block <block type slug>/<name> (e.g. slack-webhook/ops) or "
             "set PMSYNC_NOTIFY_BLOCK", EXIT_CONFIGURATION)
    try:
        return client.read_block_document_by_name(name, slug, include_secrets=False).id
    except ObjectNotFound:
        fail(f"no {slug} block named {name!r} on the Prefect server; create it in the Prefect UI (Blocks) or pass "
             "--notify-block with one that exists", EXIT_CONFIGURATION)
