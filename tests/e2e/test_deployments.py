"""End to end: a real Prefect server and two workers on loopback, `prefect deploy --all`, forced syncs that queue,\n`pmsync deploy` per integration block, a forced sync waiting in Prefect for its integration's running sync, a quality\nstop's event, `pmsync automations apply`."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa
import yaml

from pmsync.runs.schedules import minute_offset, staggered_cron
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER, SANDBOX_SYSTEM_ID
from sandbox.faults import status_fault
from sandbox.slowdowns import Slowdown
from schemas.tables import properties, sync_runs, units, work_orders
from tests.conftest import _postgres_database
from tests.e2e.prefect_api import (  # noqa: F401  (stop: tests/e2e/test_integration_lifecycle.py takes it from here)
    BIN, REPO, api, deployment, events_named, pmsync, prefect, python, runs_of, scheduled_runs, stop, task_run_names,
    wait_for_state, watch_until, watch_until_final,
)
from tests.e2e.sync_slot import check_a_forced_sync_waits_in_prefect_while_its_integrations_delta_runs

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
REPORTS_URL = "http://reports.e2e.invalid"
HOLD_SECONDS = 300.0
"""The most the first forced sync's lease listing waits: the test cuts the wait short once it has seen the two clicks
after it waiting for its slot, however slow a loaded machine makes them (a fixed 20 s, long enough for CI, was mostly
idle time)."""
BLOCKS = ["harbour-view", "lakeside"]
AUTOMATIONS = [a["name"] for a in yaml.safe_load((REPO / "automations.yaml").read_text(encoding="utf-8"))["automations"]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def prefect_server(platform_url: str, tmp_path: Path, report_measurement) -> Iterator[dict[str, str]]:
    """`prefect server start` on its own database (SQLite, or PostgreSQL when the platform is) and a home of its own."""
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "2",  # a queued run tries again at the next poll
        # No run here is marked Late: marking a CANCEL_NEW deployment's run Late cancels it when its slot is full
        # (EnforceDeploymentConcurrencyOnLate), one more way for sync_slot.py's held delta to end Cancelled, which CI
        # saw once (cause not known; wait_for_state now prints the run's states and logs). No run here waits 900 s.
        "PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS": "900",
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem",
        "PMSYNC_PROJECT_DIR": str(REPO),
    }
    databases = _postgres_database() if platform_url.startswith("postgresql") else None
    if databases is not None:
        url = sa.engine.make_url(next(databases)).set(drivername="postgresql+asyncpg")
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = url.render_as_string(hide_password=False)
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    started = time.monotonic()
    try:
        while not _healthy(port):
            assert server.poll() is None and time.monotonic() - started < 120, (tmp_path / "server.log").read_text()[-3000:]
            time.sleep(0.5)
        report_measurement(f"prefect server ({'PostgreSQL' if databases else 'SQLite'}) healthy after {time.monotonic() - started:.1f} s")
        yield env
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        if databases is not None:
            next(databases, None)


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/api/health", timeout=1).ok
    except requests.ConnectionError:
        return False


def test_deployments_queue_forced_syncs_deploy_per_integration_raise_events_and_apply_automations(prefect_server, integration_env, sandbox, platform_engine, report_measurement):
    begun = time.monotonic()
    env = {**prefect_server, **integration_env, "PMSYNC_PW_MAX_ATTEMPTS": "6", "PMSYNC_PW_BACKOFF_SECONDS": "0.4",
           "PMSYNC_REPORTS_URL": REPORTS_URL}
    prefect(env, "work-pool", "create", "pmsync", "--type", "process")
    prefect(env, "deploy", "--all")
    hourly = deployment(env, "delta-sync", "delta")["id"]
    python(env, "from prefect.client.orchestration import get_client\n"  # its :02 run would be a fourth delta run here
                f"with get_client(sync_client=True) as client: client.pause_deployment({hourly!r})\n")
    forced = deployment(env, "delta-sync", "now")
    assert forced["global_concurrency_limit"]["limit"] == 1 and forced["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    assert deployment(env, "delta-sync", "delta")["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert deployment(env, "property-reconciliation", "reconcile")["job_variables"]["env"] == {"PMSYNC_REPORTS_URL": REPORTS_URL}
    workers = [
        subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "pmsync", "--name", f"e2e-{n}"], env=env,
                         cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for n in (1, 2)
    ]
    try:
        sandbox.store.slowdowns.add(Slowdown(HOLD_SECONDS, "/leases", "GET", times=1))
        sandbox.store.inject(status_fault("/units", 503, times=2))
        first = trigger_forced_sync(env)
        wait_for_state(env, first, "RUNNING", timeout=120)
        queued = [trigger_forced_sync(env) for _ in range(2)]
        seen_waiting = watch_until(env, [forced["id"]], lambda s: not sandbox.store.slowdowns.listed()  # in its listing
                                   and s.get(first, ("", ""))[0] == "RUNNING"
                                   and all(s.get(run) == ("SCHEDULED", "AwaitingConcurrencySlot") for run in queued),
                                   timeout=HOLD_SECONDS - 60)
        sandbox.store.slowdowns.clear()
        sandbox.store.slowdowns.cut_short()
        snapshots = seen_waiting + watch_until_final(env, [forced["id"]], count=3, timeout=300)
        next_runs = scheduled_runs(env, "property-reconciliation", timeout=60)
        sweeps = scheduled_runs(env, "work-order-push", timeout=60)
    finally:
        stop(workers)
    report_measurement(f"e2e: 3 forced syncs queued and ran {time.monotonic() - begun:.1f} s after the server was up")
    assert {state for state, _ in snapshots[-1].values()} == {"COMPLETED"} and len(snapshots[-1]) == 3
    assert all(sum(1 for state, _ in s.values() if state in ("PENDING", "RUNNING")) <= 1 for s in snapshots), snapshots
    while_first_ran = [s for s in snapshots if s.get(first, ("", ""))[0] == "RUNNING"]
    waiting_states = {s[run] for s in while_first_ran for run in queued if run in s}
    assert waiting_states and all(state == "SCHEDULED" for state, _ in waiting_states), waiting_states
    assert ("SCHEDULED", "AwaitingConcurrencySlot") in waiting_states
    with platform_engine.connect() as connection:
        runs = connection.execute(sa.select(sync_runs).where(sync_runs.c.flow == "delta").order_by(sync_runs.c.started_at)).all()
        landed = connection.execute(sa.select(sa.func.count()).select_from(units)).scalar_one()
    assert [run.status for run in runs] == ["succeeded"] * 3
    assert all(later.started_at >= earlier.finished_at for earlier, later in zip(runs, runs[1:]))
    assert landed == sum(1 for u in sandbox.store.records("units") if u["active"] and sandbox.store.get("buildings", u["buildingID"])["active"])
    check_run_names(env, first)
    check_progress_reached_100(env, first)
    assert next_runs
    assert sweeps and all((moment.hour, moment.minute // 10) == (4, 4) for moment in sweeps), "the sweep: daily at 04:4x UTC"
    for moment in next_runs:
        local = moment.astimezone(LOS_ANGELES)
        assert (local.day, local.hour, local.minute) == (27, 3, 0)
        assert moment.astimezone(ZoneInfo("UTC")).hour in (10, 11)

    started = time.monotonic()
    check_deploy_per_integration(env, sandbox)
    report_measurement(f"e2e: pmsync deploy for 2 integration blocks checked in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    check_a_forced_sync_waits_in_prefect_while_its_integrations_delta_runs(env, sandbox, platform_engine, report_measurement, *BLOCKS)
    report_measurement(f"e2e: a forced sync held by its integration's running delta, another's not, in {time.monotonic() - started:.1f} s")
    started = time.monotonic()  # these break the sandbox's units: after the integrations' syncs
    check_stale_parked_records_raise_their_event(env, sandbox)
    check_a_quality_stop_raises_its_event(env, sandbox)
    check_a_refused_mass_deactivation_raises_its_event(env, sandbox, landed)
    report_measurement(f"e2e: stale parked records, quality stop, refused mass deactivation and their events in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    check_automations_apply(env)
    report_measurement(f"e2e: automations applied twice and listed in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    check_a_changed_work_order_starts_its_push(env, sandbox, platform_engine)
    report_measurement(f"e2e: a work order saved with --no-push was pushed by its event's run in {time.monotonic() - started:.1f} s")


def trigger_forced_sync(env: dict[str, str]) -> str:
    done = pmsync(env, "sync", "now")
    assert done.returncode == 0 and "forced sync queued as flow run" in done.stdout, done.stdout + done.stderr
    return re.search(r"\(([0-9a-f-]{36})\)", done.stdout).group(1)


def check_run_names(env: dict[str, str], flow_run_id: str) -> None:
    run = api(env, "GET", f"/flow_runs/{flow_run_id}")
    assert re.fullmatch(r"delta-sync · default · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", run["name"]), run["name"]
    names = task_run_names(env, flow_run_id)
    assert "extract · leases · batch 1" in names, names
    assert any(re.fullmatch(r"load · leases · pages? 1(–\d+)?", name) for name in names), names


def check_progress_reached_100(env: dict[str, str], flow_run_id: str) -> None:
    """The completed forced sync's progress artifact (one per flow run, updated per batch) ends at 100 %."""
    body = {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}, "type": {"any_": ["progress"]}}}
    artifacts = api(env, "POST", "/artifacts/filter", body)
    assert len(artifacts) == 1 and artifacts[0]["data"] == 100, artifacts


def check_stale_parked_records_raise_their_event(env: dict[str, str], sandbox) -> None:
    """A delta run by the CLI on the server parks a unit whose property never came, with an alert age of 0 hours."""
    store = sandbox.store
    template = {k: v for k, v in next(u for u in store.records("units") if u["active"]).items()
                if k not in {"id", "createdDateTime", "lastModifiedDateTime"}}
    store.add("units", {**template, "buildingID": store.next_id("buildings") + 50, "name": "Parked 1"})
    done = pmsync({**env, "PMSYNC_PARKED_ALERT_HOURS": "0"}, "sync", "delta")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    events = events_named(env, "pmsync.parked-records.stale", timeout=60)
    assert len(events) == 1, (events, done.stderr[-3000:], server_log_problems(env))
    assert events[0]["resource"]["prefect.resource.id"] == "pmsync.integration.default"
    assert events[0]["payload"]["stale_parked"] >= 1 and events[0]["payload"]["alert_hours"] == 0
    assert set(events[0]["payload"]) == {"run_id", "flow", "stale_parked", "alert_hours"}


def check_a_quality_stop_raises_its_event(env: dict[str, str], sandbox) -> None:
    """A delta run by the CLI on the server (not on a worker) stops on a batch with half its units broken."""
    broken = [u["id"] for u in sandbox.store.records("units") if u["active"]][::2]
    for unit_id in broken:
        sandbox.store.update("units", unit_id, buildingID=None)
    done = pmsync(env, "sync", "delta")
    assert done.returncode == 4, done.stdout[-2000:] + done.stderr[-2000:]
    events = events_named(env, "pmsync.quality.stopped", timeout=60)
    assert len(events) == 1, (events, done.stderr[-3000:], server_log_problems(env))
    event = events[0]
    assert event["resource"]["prefect.resource.id"] == "pmsync.integration.default"
    assert event["payload"]["error_class"] == "DataQualityError" and event["payload"]["flow"] == "delta"
    assert event["payload"]["entity"] == "unit" and event["payload"]["failed"] == len(broken) <= event["payload"]["checked"]
    assert set(event["payload"]) == {"run_id", "flow", "error_class", "entity", "failed", "checked"}
    assert any(related["prefect.resource.id"].startswith("prefect.flow-run.") for related in event["related"])
    assert SANDBOX_CLIENT_SECRET not in json.dumps(event)


def check_a_refused_mass_deactivation_raises_its_event(env: dict[str, str], sandbox, active_units: int) -> None:
    """A reconciliation by the CLI on the server finds 40 % of the platform's active units gone from the source."""
    store = sandbox.store
    landed = [u["id"] for u in store.records("units")
              if u["active"] and u["buildingID"] is not None and (store.get("buildings", u["buildingID"]) or {}).get("active")]
    gone = landed[: int(active_units * 0.4)]
    for unit_id in gone:
        store.update("units", unit_id, active=False)
    done = pmsync(env, "reconcile")
    assert done.returncode == 4, done.stdout[-2000:] + done.stderr[-2000:]
    events = events_named(env, "pmsync.reconciliation.mass-deactivation-refused", timeout=60)
    assert len(events) == 1, (events, done.stderr[-3000:], server_log_problems(env))
    payload = events[0]["payload"]
    assert events[0]["resource"]["prefect.resource.id"] == "pmsync.integration.default"
    assert payload["error_class"] == "MassDeactivationRefused" and payload["flow"] == "reconcile"
    assert (payload["kind"], payload["would_deactivate"], payload["active"]) == ("units", len(gone), active_units)


def server_log_problems(env: dict[str, str]) -> list[str]:
    log = Path(env["PREFECT_HOME"]).parent / "server.log"
    return [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line or "WARNING" in line][-20:]


def check_deploy_per_integration(env: dict[str, str], sandbox) -> None:
    python(env, "from pmsync.integrations.blocks import PropertywareIntegration as P\n" + "".join(  # registers the type
        f"P(base_url={sandbox.base_url!r}, client_id={SANDBOX_CLIENT_ID!r}, client_secret={SANDBOX_CLIENT_SECRET!r}, "
        f"system_id={SANDBOX_SYSTEM_ID!r}, integration_user={SANDBOX_INTEGRATION_USER!r}).save({name!r}, overwrite=True)\n"
        for name in BLOCKS
    ))
    done = pmsync(env, "deploy")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"for 2 integration(s): {', '.join(BLOCKS)}" in done.stdout
    for name in BLOCKS:
        delta = deployment(env, "delta-sync", f"delta-{name}")
        now = deployment(env, "delta-sync", f"now-{name}")
        reconcile = deployment(env, "property-reconciliation", f"reconcile-{name}")
        assert delta["parameters"] == now["parameters"] == reconcile["parameters"] == {"integration": name}
        assert f"integration:{name}" in delta["tags"] and "sync" in delta["tags"]
        assert delta["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
        assert now["concurrency_options"]["collision_strategy"] == "ENQUEUE" and now["global_concurrency_limit"]["limit"] == 1
        assert reconcile["job_variables"]["env"] == {"PMSYNC_REPORTS_URL": REPORTS_URL}
        deadline = time.monotonic() + 60
        while not (scheduled := runs_of(env, [delta["id"]], ["SCHEDULED"])) and time.monotonic() < deadline:
            time.sleep(1)
        assert scheduled and all(run["parameters"] == {"integration": name} for run in scheduled)
        assert all(datetime.fromisoformat(run["expected_start_time"]).minute == 2 + minute_offset(name) for run in scheduled)
    check_deployed_as_prefect_deploy_makes_them(env, BLOCKS[0])
    missing = pmsync(env, "deploy", "--integration", "no-such-block")
    assert missing.returncode == 2 and "no Propertyware Integration block named no-such-block" in missing.stderr


PER_INTEGRATION_FIELDS = {"name", "parameters", "tags", "description", "schedules", "global_concurrency_limit"}
"""What `pmsync deploy` sets per integration; every other field of a deployment but those the server sets itself is
what `prefect deploy --all` made of prefect.yaml as written."""
SERVER_FIELDS = {"id", "created", "updated", "created_by", "updated_by", "last_polled", "status", "paused"}
"""`paused`: the test paused the hourly `delta` that `prefect deploy --all` made."""
SCHEDULE_SERVER_FIELDS = {"id", "created", "updated", "deployment_id"}


def check_deployed_as_prefect_deploy_makes_them(env: dict[str, str], name: str) -> None:
    """`pmsync deploy` applies prefect.yaml in its own process (pmsync/runs/prefect_deploy.py): each of a block's
    deployments is, but for its per-integration fields, the one `prefect deploy --all` made from prefect.yaml."""
    written = [d["name"] for d in yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
               if "platform" not in d["tags"]]
    found = {d["name"]: d for d in api(env, "POST", "/deployments/filter", {"limit": 200})}
    for base in written:
        by_prefect, by_pmsync = found[base], found[f"{base}-{name}"]
        differing = {key for key in by_prefect.keys() | by_pmsync.keys() if by_prefect.get(key) != by_pmsync.get(key)}
        assert not differing - PER_INTEGRATION_FIELDS - SERVER_FIELDS, {
            key: (by_prefect.get(key), by_pmsync.get(key)) for key in differing - PER_INTEGRATION_FIELDS - SERVER_FIELDS}
        [by_prefect_schedules, by_pmsync_schedules] = [
            [{k: v for k, v in s.items() if k not in SCHEDULE_SERVER_FIELDS} for s in d["schedules"]] for d in (by_prefect, by_pmsync)]
        assert by_pmsync_schedules == [{**s, "schedule": {**s["schedule"], "cron": staggered_cron(s["schedule"]["cron"], name)}}
                                       for s in by_prefect_schedules], base
        assert by_pmsync["description"].startswith(by_prefect["description"].rstrip()), base


def check_a_changed_work_order_starts_its_push(env: dict[str, str], sandbox, platform_engine) -> None:
    """`pmsync workorder create --no-push` saves and announces the change; the `work-order-push/changed` trigger starts
    one push run for that work order, a worker runs it, and the source has the work order."""
    changed = deployment(env, "work-order-push", "changed")
    before = {run["id"] for run in runs_of(env, [changed["id"]])}
    with platform_engine.connect() as connection:
        property_source_id = connection.execute(
            sa.select(properties.c.source_id).where(properties.c.active.is_(True)).order_by(properties.c.id).limit(1)
        ).scalar_one()
    saved = pmsync(env, "workorder", "create", "--property", str(property_source_id), "--description",
                   "Dripping tap in the laundry (announced by event)", "--no-push")
    assert saved.returncode == 0, saved.stdout[-2000:] + saved.stderr[-2000:]
    with platform_engine.connect() as connection:
        order = connection.execute(sa.select(work_orders).order_by(work_orders.c.id.desc()).limit(1)).one()
    assert order.description.startswith("Dripping tap") and order.source_id is None
    worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "pmsync", "--name", "e2e-push"],
                              env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while not (done := [run for run in runs_of(env, [changed["id"]], ["COMPLETED", "FAILED", "CRASHED"])
                            if run["id"] not in before]):
            assert time.monotonic() < deadline, (runs_of(env, [changed["id"]]), server_log_problems(env))
            time.sleep(1)
    finally:
        stop([worker])
    [run] = done
    assert run["state_type"] == "COMPLETED" and run["parameters"] == {"work_order_id": order.id, "integration": None}
    with platform_engine.connect() as connection:
        pushed = connection.execute(sa.select(work_orders).where(work_orders.c.id == order.id)).one()
    assert pushed.sync_status == "synced" and sandbox.store.get("workorders", pushed.source_id) is not None


def check_automations_apply(env: dict[str, str]) -> None:
    missing = pmsync(env, "automations", "apply", "--notify-block", "custom-webhook/nowhere")
    assert missing.returncode == 2 and "no custom-webhook block named 'nowhere'" in missing.stderr, missing.stderr
    python(env, "from prefect.blocks.notifications import CustomWebhookNotificationBlock as W\n"
                "W(name='pmsync', url='http://127.0.0.1:9/alerts').save('pmsync-alerts', overwrite=True)\n")
    for _ in range(2):
        done = pmsync(env, "automations", "apply")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("updated automation") == len(AUTOMATIONS)
    everything = api(env, "POST", "/automations/filter", {})
    triggers = [a for a in everything if a["name"] not in AUTOMATIONS]  # Prefect's own, of deployments' `triggers:`
    assert [a["name"] for a in triggers] == ["changed__automation_1"], "the work-order-push/changed deployment's trigger"
    assert {"pmsync.work-order.changed", "pmsync.work-orders.pending"} <= set(triggers[0]["trigger"]["expect"])
    listed = [a for a in everything if a["name"] in AUTOMATIONS]
    assert sorted(a["name"] for a in listed) == sorted(AUTOMATIONS)
    block_id = api(env, "GET", "/block_types/slug/custom-webhook/block_documents/name/pmsync-alerts")["id"]
    assert all(action["block_document_id"] == block_id for a in listed for action in a["actions"]
               if action["type"] == "send-notification")
    expected = {a["trigger"]["expect"][0] for a in listed}
    assert {"pmsync.quality.stopped", "pmsync.reconciliation.mass-deactivation-refused", "pmsync.parked-records.stale"} <= expected
