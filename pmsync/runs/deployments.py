"""Deployments from prefect.yaml: one set per integration block (schedules staggered, one sync slot each) and the
platform's own once, made with `prefect deploy` (used by `pmsync deploy` and by the enrollment flow)."""

from __future__ import annotations

import copy
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pmsync.integrations.enrollment import check_block_names
from pmsync.one_line import one_line
from pmsync.runs.schedules import staggered_cron
from pmsync.runs.sync_slots import SYNC_LIMIT, SYNC_TAG

PROJECT_FILE = "prefect.yaml"
PLATFORM_TAG = "platform"
"""A prefect.yaml deployment tagged `platform` serves the whole platform (enroll, retire): deployed once, as written,
never copied per integration."""
ENV_TEMPLATE = re.compile(r"^\{\{\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
DEPLOY_TIMEOUT_SECONDS = 600
SECONDS_PER_DEPLOYMENT = 3
"""`prefect deploy` takes about half a second per deployment (450 for 50 blocks: 217 s on a loaded 2-core machine,
bench/FLEET.md); a larger fleet gets 3 s for each before it is called stuck."""


class DeployFailed(Exception):
    """`prefect deploy` did not take the deployments; the message says what it answered."""


class DeployMisconfigured(DeployFailed):
    """The project or the integrations named cannot be deployed as they are (no prefect.yaml, a bad cron, a missing
    block); fix them and deploy again."""


@dataclass(frozen=True)
class Deployed:
    """What a deploy created or updated: each deployment as deployed (its name, entrypoint, schedules), and the
    variables of the job environment that were not set where it ran (those take the worker's value)."""

    deployments: list[dict]
    unset: list[str]
    integrations: list[str]
    sync_slots: dict[str, list[str]] = field(default_factory=dict)
    """Each sync slot set (`sync:<block>`, `sync`) and the `flow/deployment`s sharing it."""


def schedule_text(deployment: dict) -> str:
    """`cron timezone` of each schedule of a deployment, or `on demand`."""
    return ", ".join(f"{s['cron']} {s.get('timezone', 'UTC')}" for s in deployment.get("schedules") or []) or "on demand"


def project_root(project_dir: Path | None = None) -> Path:
    """The checkout holding prefect.yaml: the one given, else PMSYNC_PROJECT_DIR, else the working directory."""
    root = (project_dir or Path(os.environ.get("PMSYNC_PROJECT_DIR") or Path.cwd())).resolve()
    if not (root / PROJECT_FILE).is_file():
        raise DeployMisconfigured(f"no {PROJECT_FILE} in {root}; run from the pmsync checkout or pass --project-dir")
    return root


def deploy_integrations(names: list[str], root: Path, *, platform_wide: bool = False) -> Deployed:
    """Create or update the deployments of the integration blocks `names` (their names checked, not their blocks)
    from `root`'s prefect.yaml with `prefect deploy`, each block's sync deployments sharing its slot `sync:<block>`;
    when `platform_wide`, the platform's own deployments too, and the slot `sync` for the environment integration's
    sync deployments that `prefect deploy --all` made."""
    check_block_names(names)
    spec = deployment_spec(root, names, platform_wide=platform_wide)
    unset = unset_env_templates(spec)
    spec = drop_env_templates(spec, unset)
    if not spec["deployments"]:
        return Deployed(deployments=[], unset=unset, integrations=names)
    run_prefect_deploy(spec, root)
    from pmsync.runs.sync_slots import ENVIRONMENT_SYNC_LIMIT, share_environment_sync_slot, share_sync_slot

    slots = {SYNC_LIMIT.format(name=name): share_sync_slot(name) for name in names}
    if platform_wide:  # and the environment integration's, made by `prefect deploy --all` (README, production)
        slots[ENVIRONMENT_SYNC_LIMIT] = share_environment_sync_slot(sync_deployment_names(root))
    return Deployed(deployments=spec["deployments"], unset=unset, integrations=names,
                    sync_slots={slot: sharing for slot, sharing in slots.items() if sharing})


def deployment_spec(root: Path, names: list[str], *, platform_wide: bool) -> dict:
    """The deployment file for `names` (and the platform's deployments when `platform_wide`), from root's prefect.yaml."""
    import yaml

    project = yaml.safe_load((root / PROJECT_FILE).read_text(encoding="utf-8"))
    spec = per_integration_spec(project, names)
    if platform_wide:
        platform = [copy.deepcopy(d) for d in project.get("deployments", []) if is_platform_wide(d)]
        spec["deployments"] = [*platform, *spec["deployments"]]
    return spec


def run_prefect_deploy(spec: dict, root: Path) -> None:
    """`prefect deploy --all` of the spec, written to a scratch file, from the project directory (it imports every
    entrypoint), in this process (pmsync/runs/prefect_deploy.py); the deployments' pull step takes
    PMSYNC_PROJECT_DIR = root."""
    import httpx
    import yaml

    from pmsync.runs.prefect_deploy import PrefectDeployRefused, apply_deployment_file

    timeout = max(DEPLOY_TIMEOUT_SECONDS, SECONDS_PER_DEPLOYMENT * len(spec["deployments"]))
    with tempfile.TemporaryDirectory(prefix="pmsync-deploy-") as scratch:
        generated = Path(scratch) / PROJECT_FILE
        generated.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
        try:
            apply_deployment_file(generated, root, timeout)
        except TimeoutError:
            raise DeployFailed(f"prefect deploy took longer than {timeout} s; check that the Prefect server "
                               "answers (`curl $PREFECT_API_URL/health`)") from None
        except (PrefectDeployRefused, httpx.HTTPError) as refused:
            raise DeployFailed(f"prefect deploy failed ({type(refused).__name__}: {one_line(str(refused))}); for all "
                               f"it says, run `pmsync deploy --show > deployments.yaml` and `prefect deploy --all "
                               f"--prefect-file deployments.yaml` in {root}") from None


def is_platform_wide(deployment: dict) -> bool:
    """Whether a prefect.yaml deployment serves the whole platform (tagged `platform`) rather than one integration."""
    return PLATFORM_TAG in (deployment.get("tags") or [])


def per_integration_spec(project: dict, names: list[str]) -> dict:
    """prefect.yaml with its deployments replaced by one copy per integration: name suffix, parameter, tag, and each
    cron schedule moved by the integration's minute offset (pmsync/runs/schedules.py), so integrations do not all start
    in the same minute. The platform's own deployments (tagged `platform`) are not copied."""
    check_sync_limits(project)
    deployments = []
    for name in names:
        for original in project.get("deployments", []):
            if is_platform_wide(original):
                continue
            deployment = copy.deepcopy(original)
            deployment["name"] = f"{original['name']}-{name}"
            deployment["parameters"] = {**(original.get("parameters") or {}), "integration": name}
            deployment["tags"] = [*(original.get("tags") or []), f"integration:{name}"]
            deployment["description"] = f"{original.get('description', '').rstrip()} Integration {name}.".lstrip()
            if deployment.get("schedules"):
                deployment["schedules"] = [_staggered(schedule, name) for schedule in deployment["schedules"]]
            deployments.append(deployment)
    return {**{k: v for k, v in project.items() if k not in ("deployments", "definitions")}, "deployments": deployments}


def sync_deployment_names(root: Path) -> list[str]:
    """The names of root's prefect.yaml deployments tagged `sync` (as written, without an integration's suffix)."""
    import yaml

    project = yaml.safe_load((root / PROJECT_FILE).read_text(encoding="utf-8"))
    return [d["name"] for d in project.get("deployments", []) if SYNC_TAG in (d.get("tags") or []) and not is_platform_wide(d)]


def check_sync_limits(project: dict) -> None:
    """Refuse a sync deployment (tagged `sync`) whose concurrency limit is not 1 with a collision strategy: all sync
    deployments of an integration share its one slot, which `prefect deploy` would resize, or delete for a deployment
    given no limit."""
    for deployment in project.get("deployments", []):
        if is_platform_wide(deployment) or SYNC_TAG not in (deployment.get("tags") or []):
            continue
        limit = deployment.get("concurrency_limit")
        if not isinstance(limit, dict) or limit.get("limit") != 1 or not limit.get("collision_strategy"):
            raise DeployMisconfigured(
                f"{PROJECT_FILE}: deployment {deployment.get('name')!r} is tagged {SYNC_TAG!r}, so it shares its "
                "integration's one concurrency slot: give it `concurrency_limit: {limit: 1, collision_strategy: "
                "ENQUEUE}` (wait for the running sync) or CANCEL_NEW (skip this run)")


def _staggered(schedule: dict, integration: str) -> dict:
    if "cron" not in schedule:
        return schedule
    try:
        return {**schedule, "cron": staggered_cron(schedule["cron"], integration)}
    except ValueError as problem:
        raise DeployMisconfigured(f"{PROJECT_FILE}: {problem}") from None


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


def check_registered(names: list[str]) -> None:
    """Raise DeployMisconfigured, naming them, when blocks given with --integration are not on the server."""
    from pmsync.integrations.block_wording import block_kind, other_block_kinds
    from pmsync.integrations.enrollment import integration_blocks

    check_block_names(names)
    missing = sorted(set(names) - set(integration_blocks()))
    if missing:
        nor = "".join(f", nor a {other}" for other in other_block_kinds())
        raise DeployMisconfigured(f"no {block_kind()} named {', '.join(missing)} on the Prefect server{nor}; create it "
                                  "in the Prefect UI (Blocks) or with `pmsync integration add`")
