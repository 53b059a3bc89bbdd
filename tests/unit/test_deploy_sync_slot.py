"""One sync of an integration at a time, held by Prefect: prefect.yaml tags `sync` exactly the deployments whose flows
take the integration's platform lock, each with a limit of 1 (the slot `pmsync deploy` makes them share) and its own
collision strategy; `pmsync deploy` refuses a sync deployment that could not share it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.unit.test_cli_exit_codes import error_line, run_pmsync

REPO = Path(__file__).resolve().parents[2]
LOCKING_ENTRYPOINTS = {
    "flows/initial_sync.py:initial_sync", "flows/delta_sync.py:delta_sync", "flows/lease_sync.py:lease_sync",
    "flows/reconciliation.py:reconcile",
}
"""The flows whose runs take the integration's lock (pmsync/runs/bookkeeping.py LOCKED_FLOWS: initial, delta, lease, reconcile)."""


def project() -> dict:
    return yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))


def test_the_sync_deployments_are_those_whose_flows_take_the_integrations_lock_each_with_a_limit_of_one():
    deployments = project()["deployments"]
    sync = {d["name"]: d for d in deployments if "sync" in d["tags"]}

    assert {d["entrypoint"] for d in sync.values()} == LOCKING_ENTRYPOINTS
    assert not [d["name"] for d in deployments if d["entrypoint"] in LOCKING_ENTRYPOINTS and d["name"] not in sync]
    assert {name: (d["concurrency_limit"]["limit"], d["concurrency_limit"]["collision_strategy"]) for name, d in sync.items()} == {
        "initial": (1, "ENQUEUE"), "delta": (1, "CANCEL_NEW"), "now": (1, "ENQUEUE"), "leases": (1, "ENQUEUE"),
        "reconcile": (1, "ENQUEUE"),
    }


@pytest.mark.parametrize("limit", [None, 2, {"limit": 1}], ids=["no limit", "a bare 2", "no collision strategy"])
def test_deploy_refuses_a_sync_deployment_that_could_not_share_its_integrations_slot(limit, tmp_path):
    changed = project()
    [delta] = [d for d in changed["deployments"] if d["name"] == "delta"]
    if limit is None:
        del delta["concurrency_limit"]
    else:
        delta["concurrency_limit"] = limit
    (tmp_path / "prefect.yaml").write_text(yaml.safe_dump(changed, sort_keys=False), encoding="utf-8")

    refused = run_pmsync("deploy", "--show", "--project-dir", str(tmp_path), "--integration", "acme-west", env={})

    assert refused.returncode == 2, refused.stdout[-2000:] + refused.stderr[-2000:]
    assert error_line(refused).startswith("error: prefect.yaml: deployment 'delta' is tagged 'sync', so it shares its "
                                          "integration's one concurrency slot: give it `concurrency_limit: {limit: 1, "
                                          "collision_strategy: ENQUEUE}`"), refused.stderr
