"""`pmsync integration add|remove|list|repoint`: a company's block, deployments, initial sync and platform rows in one
command, and binding an integration to the source account its configuration names now."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from pmsync.cli.common import EXIT_CONFIGURATION, EXIT_REFUSED, console, fail, fail_with

SECRET_VARIABLE = "PMSYNC_ADD_CLIENT_SECRET"
integration_app = typer.Typer(
    no_args_is_help=True,
    help="Add a company (its block, deployments, schedules and initial sync), remove one (deployments and block gone, "
         "rows kept inactive), list them, or re-point one to the source account its configuration names now.",
)


@integration_app.command("add")
def add(
    name: str = typer.Argument(..., help="The integration's name: a block slug (lowercase letters, digits, dashes)."),
    base_url: str | None = typer.Option(
        None, "--base-url", show_default=False,
        help="API root: Propertyware's including the version path (required); Buildium's defaults to "
             "https://api.buildium.com."),
    client_id: str | None = typer.Option(None, "--client-id", show_default=False, help="API key client id (required)."),
    system_id: str | None = typer.Option(None, "--system-id", show_default=False,
                                         help="Propertyware: organisation / system id (required)."),
    integration_user: str | None = typer.Option(None, "--integration-user", show_default=False,
                                                help="Propertyware: e-mail of the integration user (required)."),
    staff_user_id: int | None = typer.Option(
        None, "--staff-user-id", show_default=False,
        help="Buildium: the integration's staff user id; work orders sync when their task is assigned to it (required)."),
    vendor_id: int | None = typer.Option(
        None, "--vendor-id", show_default=False,
        help="Buildium: the vendor id a pushed work order names when the platform gave none."),
    concurrency: int | None = typer.Option(
        None, "--concurrency", show_default=False,
        help="List requests in flight per listing, 1-4 (unset: PMSYNC_PW_CONCURRENCY / PMSYNC_BUILDIUM_CONCURRENCY)."),
    max_requests_per_second: float | None = typer.Option(
        None, "--max-requests-per-second", show_default=False,
        help="The most requests a second this account gets (unset: PMSYNC_PW_MAX_REQUESTS_PER_SECOND / "
             "PMSYNC_BUILDIUM_MAX_REQUESTS_PER_SECOND)."),
    source_system: str = typer.Option("propertyware", "--source-system",
                                      help="Rule table: propertyware, propertyware-contact-updates or buildium."),
    client_secret: str | None = typer.Option(
        None, "--client-secret", envvar=SECRET_VARIABLE, show_envvar=True, show_default=False,
        help=f"API key secret. Asked for (hidden) when neither this nor {SECRET_VARIABLE} is given; prefer the "
             "prompt or the variable: a command line is visible to other users of the machine.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the settings of an existing block of that name."),
    repoint: bool = typer.Option(False, "--repoint",
                                 help="The name is on the platform bound to another source account, and this company "
                                      "moved to this one: bind it here (rows kept, every record applied again)."),
    initial_sync: bool = typer.Option(True, "--initial-sync/--no-initial-sync",
                                      help="Start the integration's initial sync once its deployments exist."),
    project_dir: Path = typer.Option(
        None, "--project-dir",
        help="The checkout workers run flows from, holding prefect.yaml (default: PMSYNC_PROJECT_DIR, else here).",
    ),
) -> None:
    """Save the integration's block, reinstate it on the platform if it was removed, deploy its deployments with
    their schedules and start its initial sync. Needs a Prefect server (PREFECT_API_URL). A name the platform has bound
    to another source account is refused before anything is saved, unless --repoint."""
    from pmsync.cli.deploy import print_deployed, require_prefect_server
    from pmsync.cli.integration_block import as_integration, ask_secret, block_type_for, save_block, validated_block
    from pmsync.runs.deployments import PROJECT_FILE, deploy_integrations, project_root
    from pmsync.cli.known_integrations import check_prefect_server
    from pmsync.cli.prefect_setup import prepare_or_fail
    from pmsync.integrations.enrollment import (
        EnrollmentRefused, block_of, check_block_names, refuse_other_account, reinstate_on_platform, reinstatement_text,
        repoint_on_platform, repointing_text, run_url, start_initial_sync,
    )

    try:
        check_block_names([name])
    except EnrollmentRefused as failure:
        fail_with(failure)
    given = {"base_url": base_url, "client_id": client_id, "system_id": system_id,
             "integration_user": integration_user, "staff_user_id": staff_user_id, "vendor_id": vendor_id,
             "concurrency": concurrency, "max_requests_per_second": max_requests_per_second}
    block_type = block_type_for(source_system, {field: value for field, value in given.items() if value is not None})
    secret = client_secret if client_secret is not None else ask_secret(SECRET_VARIABLE)
    block = validated_block(block_type, client_secret=secret, source_system=source_system,
                            **{field: value for field, value in given.items() if value is not None})
    require_prefect_server()
    check_prefect_server()
    try:
        root = project_root(project_dir)
        existing = block_of(name)
    except Exception as failure:  # the server's failure still ends in one line and its exit code
        fail_with(failure)
    slug = block_type.get_block_type_slug()
    if existing is not None and existing[0] != slug:
        fail(f"{name!r} is already an integration of another source: block {existing[0]}/{name} exists; remove it "
             f"first (`pmsync integration remove {name}`) or pick another name", EXIT_CONFIGURATION)
    if existing is not None and not overwrite:
        fail(f"a {block_type.get_block_type_name()} block named {name!r} exists already; pass --overwrite to replace "
             "its settings, or pick another name", EXIT_CONFIGURATION)
    account = as_integration(block, name)
    if not repoint:
        try:
            refuse_other_account(account, f"nothing was saved. Pick another name, or pass --repoint if {name} itself "
                                          "moved to this account (its rows are kept; its next sync applies every "
                                          "record again)")
        except Exception as failure:  # the refusal, or the platform's failure, ends in one line and its exit code
            fail_with(failure)
    prepare_or_fail(root, PROJECT_FILE)  # a fresh server: pmsync's block types and work pool, as `pmsync deploy` does
    saved = save_block(block, name, overwrite)
    console.print(f"{'updated' if existing else 'saved'} block {slug}/{name}", highlight=False,
                  soft_wrap=True)
    try:
        if repoint:
            console.print(repointing_text(repoint_on_platform(account, say=_say)), highlight=False, soft_wrap=True)
        console.print(reinstatement_text(reinstate_on_platform(name)), highlight=False, soft_wrap=True)
        print_deployed(deploy_integrations([name], root))
        if initial_sync:
            run = start_initial_sync(name, None if existing else saved)
            console.print(f"initial sync of {name} queued as flow run {run.name} ({run.id}); watch it at {run_url(run)}",
                          highlight=False, soft_wrap=True)
    except Exception as failure:  # the platform's or the server's failure still ends in one line and its exit code
        fail_with(failure)


@integration_app.command("remove")
def remove(
    name: str = typer.Argument(..., help="The integration to remove (its block's name)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Mark the integration removed on the platform with every row of it inactive (nothing is deleted; a running sync
    stops at its next page), delete its deployments (its schedules stop; past runs stay in the history) and its block
    with its secret. Refused for the integration the PMSYNC_* environment configures."""
    from pmsync.cli.deploy import require_prefect_server
    from pmsync.cli.known_integrations import check_prefect_server
    from pmsync.integrations.enrollment import (
        EnrollmentRefused, check_block_names, delete_block, delete_deployments, retire_on_platform, retirement_text,
    )
    from pmsync.runs.sync_slots import SLOT_RELEASE_WAIT_SECONDS, SYNC_LIMIT, delete_sync_limit

    try:
        check_block_names([name])
    except EnrollmentRefused as failure:
        fail_with(failure)
    require_prefect_server()
    check_prefect_server()
    if not yes and not typer.confirm(f"Remove {name}: mark its platform rows inactive, delete its deployments and its "
                                     "block?", default=False):
        fail(f"{name} not removed (answered no); pass --yes to remove without asking", EXIT_REFUSED)
    try:
        console.print(retirement_text(retire_on_platform(name)), highlight=False, soft_wrap=True)
        deleted = delete_deployments(name)
        for label in deleted:
            console.print(f"deleted deployment {label}", highlight=False, soft_wrap=True)
        console.print(f"{len(deleted)} deployments of {name} deleted; its schedules are stopped", highlight=False, soft_wrap=True)
        slot = SYNC_LIMIT.format(name=name)
        console.print(f"deleted concurrency limit {slot}" if delete_sync_limit(name, SLOT_RELEASE_WAIT_SECONDS) else
                      f"concurrency limit {slot} is still held by a run of {name}; the retire run that deleting the "
                      f"block starts deletes it once free (or `prefect gcl delete {slot}` once no run of {name} is "
                      "active)", highlight=False, soft_wrap=True)
        gone = delete_block(name)
        console.print(f"deleted block {gone}/{name} and its secret" if gone
                      else f"no integration block {name} on the server (already deleted)", highlight=False, soft_wrap=True)
    except Exception as failure:  # the platform's or the server's failure still ends in one line and its exit code
        fail_with(failure)


class Origin(str, Enum):
    """Where an integration's configuration lives."""

    environment = "environment"
    block = "block"


@integration_app.command("repoint")
def repoint_integration(
    name: str = typer.Argument(..., help="The integration to re-point."),
    to: Origin = typer.Option(
        None, "--to", show_default=False,
        help="Where its configuration lives now: environment (the PMSYNC_* settings) or block (its integration "
             "block, Propertyware's or Buildium's). Default: environment when NAME is the environment's integration "
             "(PMSYNC_INTEGRATION_NAME, else 'default'), else block.",
    ),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Bind the platform's integration NAME to the source account its configuration names now (its runs are refused,
    exit 2, while they differ). Its rows are kept; its content hashes and high-water marks are cleared, so its next
    sync reads every stream in full and applies every record again. Waits for its running sync; logged on each of its
    properties."""
    from pmsync.cli.deploy import require_prefect_server
    from pmsync.cli.known_integrations import check_prefect_server
    from pmsync.integrations.enrollment import check_block_names, repoint_on_platform, repointing_text
    from pmsync.integrations.identity import identity_of
    from pmsync.integrations.integration import integration_from_block, integration_from_environment
    from pmsync.platform.settings import IntegrationNameSettings

    environment_name = IntegrationNameSettings().integration_name
    where = to or (Origin.environment if name == environment_name else Origin.block)
    if where is Origin.environment and name != environment_name:
        fail(f"the PMSYNC_* environment configures integration {environment_name!r}, not {name!r}: set "
             f"PMSYNC_INTEGRATION_NAME={name} with its settings, or re-point it --to block", EXIT_CONFIGURATION)
    if where is Origin.block:
        require_prefect_server()
        check_prefect_server()
    try:
        if where is Origin.block:
            check_block_names([name])
        account = integration_from_environment() if where is Origin.environment else integration_from_block(name)
    except Exception as failure:  # a missing block or setting ends in one line and its exit code
        fail_with(failure)
    if not yes and not typer.confirm(f"Re-point {name} to {identity_of(account)}? Its rows are kept and its next sync "
                                     "applies every record again", default=False):
        fail(f"{name} not re-pointed (answered no); pass --yes to re-point without asking", EXIT_REFUSED)
    try:
        console.print(repointing_text(repoint_on_platform(account, say=_say)), highlight=False, soft_wrap=True)
    except Exception as failure:  # the platform's failure still ends in one line and its exit code
        fail_with(failure)


@integration_app.command("list")
def list_integrations() -> None:
    """The integration blocks on the Prefect server (every source's) and the platform's integrations (active or
    removed) side by side, with the block type each integration's block is."""
    from rich.table import Table

    from pmsync.cli.deploy import require_prefect_server
    from pmsync.cli.known_integrations import check_prefect_server
    from pmsync.integrations.enrollment import typed_integration_blocks

    require_prefect_server()
    check_prefect_server()
    try:
        blocks = typed_integration_blocks()
        platform = _platform_integrations()
    except Exception as failure:  # the platform's or the server's failure still ends in one line and its exit code
        fail_with(failure)
    table = Table(title="integrations", title_justify="left")
    for column in ("name", "block", "platform", "block type"):
        table.add_column(column)
    for name in sorted(set(blocks) | set(platform)):
        state = platform.get(name, "not synced yet")
        table.add_row(name, "yes" if name in blocks else "no", state, blocks[name][0] if name in blocks else "")
    console.print(table)


def _platform_integrations() -> dict[str, str]:
    """Each integration on the platform: `active`, or `removed <when>`."""
    from sqlalchemy import select

    from pmsync.cli.common import open_platform
    from pmsync.platform.database import missing_platform_file
    from pmsync.platform.settings import PlatformSettings
    from schemas.tables import integrations

    if missing_platform_file(PlatformSettings().database_url) is not None:
        return {}  # nothing synced yet, and listing creates no database
    engine = open_platform()
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(integrations.c.name, integrations.c.removed_at)).all()
    finally:
        engine.dispose()
    return {row.name: f"removed {row.removed_at:%Y-%m-%d %H:%M} UTC" if row.removed_at else "active" for row in rows}


def _say(line: str) -> None:
    console.print(line, highlight=False, soft_wrap=True)
