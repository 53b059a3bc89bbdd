"""`pmsync deploy`: prefect.yaml's deployments once per Propertyware Integration block, each on its own schedules."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import typer

from pmsync.cli.common import EXIT_CONFIGURATION, console, error_console, fail
from pmsync.cli.prefect_config import configured_api_url
from pmsync.schedules import staggered_cron

BLOCK_TYPE = "propertyware-integration"
PROJECT_FILE = "prefect.yaml"
BLOCK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
ENV_TEMPLATE = re.compile(r"^\{\{\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
DEPLOY_TIMEOUT_SECONDS = 600


def deploy(
    integrations: list[str] = typer.Option(
        None, "--integration",
        help="Integration block to deploy for (repeatable; default: every registered Propertyware Integration block).",
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
    """Create or update, for each integration block, every deployment of prefect.yaml named `<deployment>-<block>`
    with `parameters: {integration: <block>}`, tag `integration:<block>`, prefect.yaml's limits and its schedules
    moved by the block's minute offset."""
    import yaml

    offline_preview = show and bool(integrations)
    if not offline_preview:
        require_prefect_server()
    root = (project_dir or Path(os.environ.get("PMSYNC_PROJECT_DIR") or Path.cwd())).resolve()
    if not (root / PROJECT_FILE).is_file():
        fail(f"no {PROJECT_FILE} in {root}; run from the pmsync checkout or pass --project-dir", EXIT_CONFIGURATION)
    names = sorted(set(integrations)) if integrations else registered_integrations()
    if offline_preview:
        _check_names(names)
    elif integrations:
        check_registered(names)
    spec = per_integration_spec(yaml.safe_load((root / PROJECT_FILE).read_text(encoding="utf-8")), names)
    unset = unset_env_templates(spec)
    spec = drop_env_templates(spec, unset)
    text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
    if show:
        console.print(text, highlight=False, soft_wrap=True)
        return
    for variable in unset:
        error_console.print(f"warning: {variable} is not set here; its deployments take the worker's {variable}",
                            highlight=False)
    env = {**os.environ, "PMSYNC_PROJECT_DIR": str(root)}
    with tempfile.TemporaryDirectory(prefix="pmsync-deploy-") as scratch:
        generated = Path(scratch) / PROJECT_FILE
        generated.write_text(text, encoding="utf-8")
        command = [str(Path(sys.executable).parent / "prefect"), "--no-prompt", "deploy", "--all", "--prefect-file", str(generated)]
        try:
            done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=DEPLOY_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            fail(f"prefect deploy took longer than {DEPLOY_TIMEOUT_SECONDS} s; check that the Prefect server answers")
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        fail(f"prefect deploy failed (exit {done.returncode}): {' | '.join(tail)}; check the work pool and PREFECT_API_URL")
    for deployment in spec["deployments"]:
        schedules = ", ".join(f"{s['cron']} {s.get('timezone', 'UTC')}" for s in deployment.get("schedules", [])) or "on demand"
        console.print(f"{deployment['entrypoint'].split(':')[-1]} / {deployment['name']}: {schedules}", highlight=False)
    console.print(f"deployed {len(spec['deployments'])} deployments for {len(names)} integration(s): {', '.join(names)}",
                  highlight=False)


def require_prefect_server() -> None:
    """Fail unless a Prefect server is configured: without one Prefect would answer from a temporary, empty server."""
    if configured_api_url() is None:
        fail("no Prefect server configured: set PREFECT_API_URL (environment or Prefect profile) to the server to "
             "deploy to", EXIT_CONFIGURATION)


def per_integration_spec(project: dict, names: list[str]) -> dict:
    """prefect.yaml with its deployments replaced by one copy per integration: name suffix, parameter, tag, and each
    cron schedule moved by the integration's minute offset (pmsync/schedules.py), so integrations do not all start
    in the same minute."""
    deployments = []
    for name in names:
        for original in project.get("deployments", []):
            deployment = copy.deepcopy(original)
            deployment["name"] = f"{original['name']}-{name}"
            deployment["parameters"] = {**(original.get("parameters") or {}), "integration": name}
            deployment["tags"] = [*(original.get("tags") or []), f"integration:{name}"]
            deployment["description"] = f"{original.get('description', '').rstrip()} Integration {name}.".lstrip()
            if deployment.get("schedules"):
                deployment["schedules"] = [_staggered(schedule, name) for schedule in deployment["schedules"]]
            deployments.append(deployment)
    return {**{k: v for k, v in project.items() if k not in ("deployments", "definitions")}, "deployments": deployments}


def _staggered(schedule: dict, integration: str) -> dict:
    if "cron" not in schedule:
        return schedule
    try:
        return {**schedule, "cron": staggered_cron(schedule["cron"], integration)}
    except ValueError as problem:
        fail(f"{PROJECT_FILE}: {problem}", EXIT_CONFIGURATION)


def unset_env_templates(spec: dict) -> list[str]:
    """The variables a deployment's job environment takes from here (`{{ $NAME }}`) that are not set here."""
    found = set()
    for deployment in spec["deployments"]:
        for value in _job_env(deployment).values():
            match = ENV_TEMPLATE.match(str(value))
            if match and not os.environ.get(match.group(1)):
                found.add(match.group(1))
    return sorted(found)


def drop_env_templates(spec: dict, unset: list[str]) -> dict:
    """Without the job environment entries naming an unset variable (prefect deploy would store the literal
    `{{ $NAME }}`, which the worker then hands the flow as its value)."""
    for deployment in spec["deployments"]:
        env = _job_env(deployment)
        for key, value in list(env.items()):
            match = ENV_TEMPLATE.match(str(value))
            if match and match.group(1) in unset:
                del env[key]
    return spec


def _job_env(deployment: dict) -> dict:
    pool = deployment.get("work_pool") or {}
    return (pool.get("job_variables") or {}).get("env") or {}


def registered_integrations() -> list[str]:
    """Names of the Propertyware Integration blocks on the Prefect server (their secrets are not read)."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            blocks = client.read_block_documents_by_type(BLOCK_TYPE, include_secrets=False)
    except ObjectNotFound:
        blocks = []
    except httpx.HTTPError as failure:
        fail(f"cannot read the integration blocks from the Prefect server ({type(failure).__name__}: {failure}); "
             "check PREFECT_API_URL and that the server is up")
    names = sorted(block.name for block in blocks if block.name and not block.is_anonymous)
    if not names:
        fail("no Propertyware Integration block is registered: run `prefect block register -m pmsync.blocks`, create "
             "one per account in the Prefect UI (Blocks), or name one with --integration", EXIT_CONFIGURATION)
    _check_names(names)
    return names


def check_registered(names: list[str]) -> None:
    """Fail, naming them, when blocks given with --integration are not on the server."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    _check_names(names)
    missing = []
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                client.read_block_document_by_name(name, BLOCK_TYPE, include_secrets=False)
            except ObjectNotFound:
                missing.append(name)
    if missing:
        fail(f"no Propertyware Integration block named {', '.join(missing)} on the Prefect server; create it in the "
             "Prefect UI (Blocks) first", EXIT_CONFIGURATION)


def _check_names(names: list[str]) -> None:
    bad = [name for name in names if not BLOCK_NAME.match(name)]
    if bad:
        fail(f"integration names must be block slugs (lowercase letters, digits, dashes): {', '.join(map(repr, bad))}",
             EXIT_CONFIGURATION)
