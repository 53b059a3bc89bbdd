"""`pmsync deploy`: prefect.yaml's deployments once per integration block (any vendor's), each on its own schedules."""

from __future__ import annotations

from pathlib import Path

import typer

from pmsync.cli.common import EXIT_CONFIGURATION, console, error_console, fail, fail_with
from pmsync.cli.prefect_config import configured_api_url
from pmsync.cli.prefect_setup import prepare_or_fail
from pmsync.runs.deployments import (
    PROJECT_FILE,
    DeployFailed,
    Deployed,
    check_registered,
    deploy_integrations,
    deployment_spec,
    project_root,
    schedule_text,
)
from pmsync.integrations.enrollment import EnrollmentRefused, check_block_names


def deploy(
    integrations: list[str] = typer.Option(
        None, "--integration",
        help="Integration block to deploy for (repeatable; default: every registered integration block, Propertyware's or Buildium's).",
    ),
    project_dir: Path = typer.Option(
        None, "--project-dir",
        help="The checkout workers run flows from, holding prefect.yaml (default: PMSYNC_PROJECT_DIR, else here).",
    ),
    show: bool = typer.Option(
        False, "--show",
        help="Print the generated deployment file instead of deploying it (with --integration: no server needed).",
    ),
) -> None:
    """On a fresh server first register pmsync's block types and create the work pool (saying so); then create or
    update, for each integration block, every deployment of prefect.yaml named `<deployment>-<block>`
    with `parameters: {integration: <block>}`, tag `integration:<block>`, prefect.yaml's limits and its schedules
    moved by the block's minute offset, its sync deployments sharing one concurrency slot `sync:<block>` (one sync
    of a block at a time; the others wait in Prefect); and, once, the deployments tagged `platform` (enroll, retire),
    and the slot `sync` for the sync deployments `prefect deploy --all` made from prefect.yaml as written."""
    import yaml

    offline_preview = show and bool(integrations)
    if not offline_preview:
        require_prefect_server()
    try:
        root = project_root(project_dir)
        if offline_preview:
            names = sorted(set(integrations))
            check_block_names(names)
        else:
            if not show:
                prepare_or_fail(root, PROJECT_FILE)
            names = sorted(set(integrations)) if integrations else registered_integrations()
            if integrations:
                check_registered(names)
        if show:
            spec = deployment_spec(root, names, platform_wide=True)
            console.print(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), highlight=False, soft_wrap=True)
            return
        if not names:
            error_console.print("no integration block (Propertyware or Buildium) is registered yet: deploying only the platform's "
                                "deployments; add a company with `pmsync integration add NAME` or a block in the "
                                "Prefect UI (Blocks)", highlight=False, soft_wrap=True)
        deployed = deploy_integrations(names, root, platform_wide=True)
    except (DeployFailed, EnrollmentRefused) as failure:
        fail_with(failure)
    print_deployed(deployed)


def print_deployed(deployed: Deployed) -> None:
    """The warnings for unset variables, one line per deployment with its schedules, and the closing count."""
    for variable in deployed.unset:
        error_console.print(f"warning: {variable} is not set here; its deployments take the worker's {variable}",
                            highlight=False, soft_wrap=True)
    for deployment in deployed.deployments:
        console.print(f"{deployment['entrypoint'].split(':')[-1]} / {deployment['name']}: {schedule_text(deployment)}",
                      highlight=False, soft_wrap=True)
    for slot, sharing in deployed.sync_slots.items():
        console.print(f"concurrency limit {slot} (one sync at a time): {', '.join(sharing)}", highlight=False,
                      soft_wrap=True)
    console.print(f"deployed {len(deployed.deployments)} deployments for {len(deployed.integrations)} integration(s): "
                  f"{', '.join(deployed.integrations)}", highlight=False, soft_wrap=True)


def require_prefect_server() -> None:
    """Fail unless a Prefect server is configured: without one Prefect would answer from a temporary, empty server."""
    if configured_api_url() is None:
        fail("no Prefect server configured: set PREFECT_API_URL (environment or Prefect profile) to the server to "
             "deploy to", EXIT_CONFIGURATION)


def registered_integrations() -> list[str]:
    """Names of the integration blocks of every vendor on the Prefect server (their secrets are not read)."""
    import httpx

    from pmsync.integrations.enrollment import integration_blocks

    try:
        names = sorted(integration_blocks())
    except httpx.HTTPError as failure:
        fail(f"cannot read the integration blocks from the Prefect server ({type(failure).__name__}: {failure}); "
             "check PREFECT_API_URL and that the server is up")
    check_block_names(names)
    return names

