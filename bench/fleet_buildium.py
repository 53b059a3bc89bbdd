"""The fleet bench's Buildium integrations (issue 26): their sandbox accounts, blocks, deployments and what an initial
sync of each lands."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.buildium import SPEC_RATE, start_buildium_sandbox
from bench.processes import BIN, Service
from sandbox.buildium import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_STAFF_USER_ID, SANDBOX_VENDOR_ID
from sandbox.buildium.store import BuildiumStore

REPO = Path(__file__).resolve().parents[1]


def buildium_block_names(count: int) -> list[str]:
    return [f"fleet-buildium-{n:0{len(str(count))}d}" for n in range(1, count + 1)]


def start_buildium_sandboxes(count: int, units: int, work: Path) -> list[tuple[Service, str]]:
    """One Buildium sandbox account per integration (seeds 1…count), each enforcing the spec's 10 requests a second."""
    sandboxes = []
    for seed in range(1, count + 1):
        sandboxes.append(start_buildium_sandbox(units, SPEC_RATE, work, seed=seed))
    return sandboxes


def save_buildium_blocks(env: dict[str, str], names: list[str], roots: list[str]) -> None:
    """A Buildium Integration block per sandbox account."""
    script = "from pmsync.integrations.blocks import BuildiumIntegration as B\n" + "".join(
        f"B(base_url={root!r}, client_id={SANDBOX_CLIENT_ID!r}, client_secret={SANDBOX_CLIENT_SECRET!r}, "
        f"staff_user_id={SANDBOX_STAFF_USER_ID}, vendor_id={SANDBOX_VENDOR_ID}).save({name!r}, overwrite=True)\n"
        for name, root in zip(names, roots))
    run_checked([str(BIN / "python"), "-c", script], env, "saving the Buildium integration blocks")


def deploy_buildium(env: dict[str, str], names: list[str]) -> None:
    """prefect.yaml's deployments for the Buildium blocks, as `pmsync deploy` makes them for Propertyware blocks
    (`pmsync deploy` deploys every Propertyware Integration block; it does not list Buildium ones yet)."""
    script = ("from pmsync.runs.deployments import deploy_integrations, project_root\n"
              f"deploy_integrations({names!r}, project_root())\n")
    run_checked([str(BIN / "python"), "-c", script], env, "deploying the Buildium integrations")


def landed_buildium_units(units: int, seed: int) -> int:
    """What an initial sync of that Buildium sandbox lands: the units of its active rentals and active associations."""
    store = BuildiumStore(units=units, seed=seed, rate_limit=None)
    rentals = {r["Id"] for r in store.records("rentals") if r["IsActive"]}
    associations = {a["Id"] for a in store.records("associations") if a["IsActive"]}
    return (sum(1 for unit in store.records("rentalunits") if unit["PropertyId"] in rentals)
            + sum(1 for unit in store.records("associationunits") if unit["AssociationId"] in associations))


def run_checked(args: list[str], env: dict[str, str], what: str, timeout: float = 600) -> None:
    done = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"{what} failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")
