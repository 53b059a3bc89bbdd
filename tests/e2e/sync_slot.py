"""End to end, on test_deployments' server (issue 23, item 7): a forced sync arriving while its integration's delta runs
waits in Prefect, held by the integration's one sync slot, and another integration's does not."""

from __future__ import annotations

import re
import subprocess
import time
from datetime import datetime

import sqlalchemy as sa

from sandbox.slowdowns import Slowdown
from schemas.tables import integrations, sync_runs
from tests.e2e.prefect_api import (BIN, FINAL_STATES, REPO, api, deployment, pmsync, python, stop, wait_for_state,
                                   watch_until)

HOLD_SECONDS = 300.0
"""The most the held block's delta waits in its lease listing: the test cuts the wait short once it has seen the held
block's forced sync waiting and the other block's completed, however slow a loaded machine makes them."""


def check_a_forced_sync_waits_in_prefect_while_its_integrations_delta_runs(env: dict[str, str], sandbox, platform_engine,
                                                                           report_measurement, held: str, free: str) -> None:
    """Item 7 of issue 23: `pmsync sync now` for a block whose delta runs (held in its lease listing) is held by Prefect
    (Scheduled / AwaitingConcurrencySlot, never Running) and starts after it; the other block's is not held. Every
    sync deployment of a block shares its slot `sync:<block>`, which a second `pmsync deploy` keeps and removal does
    not delete while a run holds it."""
    tags = [f"integration:{name}" for name in (held, free)]
    scheduled = [d for d in api(env, "POST", "/deployments/filter", {"deployments": {"tags": {"any_": tags}}}) if d["schedules"]]
    python(env, "from prefect.client.orchestration import get_client\n"  # their crons would start runs on the worker
                f"with get_client(sync_client=True) as client: [client.pause_deployment(d) for d in {[d['id'] for d in scheduled]!r}]\n")
    delta = deployment(env, "delta-sync", f"delta-{held}")
    worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "pmsync", "--name", "e2e-slots"], env=env,
                              cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sandbox.store.slowdowns.add(Slowdown(HOLD_SECONDS, "/leases", "GET", times=1))
        running = api(env, "POST", f"/deployments/{delta['id']}/create_flow_run", {})["id"]
        wait_for_state(env, running, "RUNNING", timeout=120)
        deadline = time.monotonic() + 60
        while sandbox.store.slowdowns.listed():  # the delta is in its lease listing now
            assert time.monotonic() < deadline and api(env, "GET", f"/flow_runs/{running}")["state_type"] == "RUNNING"
            time.sleep(0.2)
        holding = time.monotonic()
        waiting, other = trigger_forced_syncs_at_once(env, held, free)
        assert api(env, "GET", f"/v2/concurrency_limits/sync:{held}")["active_slots"] == 1
        python(env, "from pmsync.runs.sync_slots import delete_sync_limit\n"  # removal never deletes a slot a run holds
                    f"assert delete_sync_limit({held!r}) is False\n")
        ours = [delta["id"], deployment(env, "delta-sync", f"now-{held}")["id"], deployment(env, "delta-sync", f"now-{free}")["id"]]
        seen_held = watch_until(env, ours, lambda s: s.get(waiting, ("", ""))[1] == "AwaitingConcurrencySlot"
                                and s.get(other, ("", ""))[0] == "COMPLETED", timeout=HOLD_SECONDS - 60)
        assert seen_held[-1][running][0] == "RUNNING", "the held delta ended before the forced syncs were seen"
        held_for = time.monotonic() - holding
        sandbox.store.slowdowns.cut_short()
        checked = (running, waiting, other)  # a cron run the scheduler made before the pause may come and go beside them
        snapshots = seen_held + watch_until(env, ours, lambda s: all(s.get(run, ("", ""))[0] in FINAL_STATES for run in checked),
                                            timeout=300)
    finally:
        stop([worker])
    assert {snapshots[-1].get(run, ("", ""))[0] for run in checked} == {"COMPLETED"}, snapshots[-1]
    while_delta_ran = [s for s in snapshots if s[running][0] == "RUNNING"]
    held_states = {s[waiting] for s in while_delta_ran if waiting in s}
    assert held_states and {state for state, _ in held_states} == {"SCHEDULED"}, held_states
    assert ("SCHEDULED", "AwaitingConcurrencySlot") in held_states, held_states
    assert all(s.get(other, ("", ""))[1] != "AwaitingConcurrencySlot" for s in snapshots)
    assert any(s.get(other, ("", ""))[0] in ("RUNNING", "COMPLETED") for s in while_delta_ran), "the other block's forced sync waited"
    runs = {run_id: api(env, "GET", f"/flow_runs/{run_id}") for run_id in (running, waiting, other)}
    moment = {run_id: {key: datetime.fromisoformat(run[key]) for key in ("start_time", "end_time")} for run_id, run in runs.items()}
    assert moment[waiting]["start_time"] >= moment[running]["end_time"]
    report_measurement(f"e2e: the other block's forced sync started {(moment[running]['end_time'] - moment[other]['start_time']).total_seconds():.1f} s "
                       f"before the held delta ended (its lease listing was held {held_for:.0f} s)")
    assert runs[other]["deployment_id"] == ours[2] and runs[other]["parameters"] == {"integration": free}
    with platform_engine.connect() as connection:
        rows = connection.execute(sa.select(sync_runs).join(integrations, integrations.c.id == sync_runs.c.integration_id)
                                  .where(integrations.c.name == held).order_by(sync_runs.c.started_at)).all()
    assert [(row.flow, row.status) for row in rows] == [("delta", "succeeded")] * 2
    assert rows[1].started_at >= rows[0].finished_at
    slot = api(env, "GET", f"/v2/concurrency_limits/sync:{held}")["id"]
    redeployed = pmsync(env, "deploy", "--integration", held)
    assert redeployed.returncode == 0, redeployed.stdout[-3000:] + redeployed.stderr[-3000:]
    assert f"concurrency limit sync:{held} (one sync at a time): " in redeployed.stdout
    assert api(env, "GET", f"/v2/concurrency_limits/sync:{held}")["id"] == slot, "deploying again made another slot"
    check_sync_slots(env, [held, free])


def trigger_forced_syncs_at_once(env: dict[str, str], *names: str) -> list[str]:
    """`pmsync sync now --integration NAME` for each name, all started together; the flow run ids, in that order."""
    started = [subprocess.Popen([str(BIN / "pmsync"), "sync", "now", "--integration", name], env=env, cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in names]
    flow_run_ids = []
    for process in started:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0 and "forced sync queued as flow run" in out, out + err
        flow_run_ids.append(re.search(r"\(([0-9a-f-]{36})\)", out).group(1))
    return flow_run_ids


def check_sync_slots(env: dict[str, str], names: list[str]) -> None:
    """Each block's sync deployments point at its one limit `sync:<block>` (limit 1), and those `prefect deploy --all`
    made at `sync`, each with its own collision strategy; no other deployment does, and the limits `prefect deploy`
    first gave them are gone."""
    limits = {limit["name"]: limit for limit in api(env, "POST", "/v2/concurrency_limits/filter", {"limit": 200})}
    for slot_name, suffix in [(f"sync:{name}", f"-{name}") for name in names] + [("sync", "")]:
        slot = limits[slot_name]
        assert slot["limit"] == 1 and slot["active"] and slot["active_slots"] == 0, slot
        sharing = {d["name"].removesuffix(suffix): d for d in api(env, "POST", "/deployments/filter", {})
                   if (d["global_concurrency_limit"] or {}).get("id") == slot["id"]}
        assert {base: d["concurrency_options"]["collision_strategy"] for base, d in sharing.items()} == {
            "initial": "ENQUEUE", "delta": "CANCEL_NEW", "now": "ENQUEUE", "leases": "ENQUEUE", "reconcile": "ENQUEUE"}
        assert all(d["parameters"] == ({"integration": suffix[1:]} if suffix else {}) for d in sharing.values())
        assert not {f"deployment:{d['id']}" for d in sharing.values()} & set(limits)
