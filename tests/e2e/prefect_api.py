"""What the e2e tests read from a real Prefect server: its REST API and the `prefect`/`pmsync` commands, as a user would."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
API_TIMEOUT_SECONDS = 60
"""A SQLite-backed server on a loaded 2-core machine has taken over 10 s to answer one request."""
API_READ_ATTEMPTS = 3


def prefect(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(BIN / "prefect"), "--no-prompt", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def pmsync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "pmsync"), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)


def python(env: dict[str, str], code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def api(env: dict[str, str], method: str, path: str, body: dict | None = None) -> dict | list:
    """One call of the server's REST API, asked again when the server does not answer in time (CI has seen a
    SQLite-backed server busy for over a minute while four test workers share two cores) or answers 503, which the
    Prefect server sends for a database lock it rolled back ("errors clients can retry on": nothing was written;
    Prefect's own client retries them too)."""
    for attempt in range(1, API_READ_ATTEMPTS + 1):
        try:
            response = requests.request(method, f"{env['PREFECT_API_URL']}{path}", json=body, timeout=API_TIMEOUT_SECONDS)
        except requests.ReadTimeout:
            if attempt == API_READ_ATTEMPTS:
                raise
            continue
        if response.status_code != 503 or attempt == API_READ_ATTEMPTS:
            break
        time.sleep(attempt)
    assert response.ok, f"{method} {path}: {response.status_code} {response.text[:1000]}"
    return response.json()


def deployment(env: dict[str, str], flow: str, name: str) -> dict:
    return api(env, "GET", f"/deployments/name/{flow}/{name}")


def runs_of(env: dict[str, str], deployment_ids: list[str], states: list[str] | None = None) -> list[dict]:
    body: dict = {"deployments": {"id": {"any_": deployment_ids}}, "sort": "EXPECTED_START_TIME_ASC", "limit": 50}
    if states:
        body["flow_runs"] = {"state": {"type": {"any_": states}}}
    return api(env, "POST", "/flow_runs/filter", body)


def flow_runs(env: dict[str, str], flow_name: str, states: list[str] | None) -> list[dict]:
    body: dict = {"flows": {"name": {"any_": [flow_name]}}, "sort": "EXPECTED_START_TIME_ASC", "limit": 20}
    if states:
        body["flow_runs"] = {"state": {"type": {"any_": states}}}
    return api(env, "POST", "/flow_runs/filter", body)


def scheduled_runs(env: dict[str, str], flow_name: str, timeout: float) -> list[datetime]:
    deadline = time.monotonic() + timeout
    while not (runs := flow_runs(env, flow_name, states=["SCHEDULED"])) and time.monotonic() < deadline:
        time.sleep(1)
    return [datetime.fromisoformat(run["expected_start_time"]) for run in runs]


def task_run_names(env: dict[str, str], flow_run_id: str) -> list[str]:
    body = {"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200}
    return [run["name"] for run in api(env, "POST", "/task_runs/filter", body)]


def events_named(env: dict[str, str], name: str, timeout: float) -> list[dict]:
    """Events of that name the server stored (it persists them a moment after they arrive)."""
    deadline = time.monotonic() + timeout
    while True:
        found = api(env, "POST", "/events/filter", {"filter": {"event": {"name": [name]}}, "limit": 50})["events"]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(1)


def watch_until_final(env: dict[str, str], deployment_ids: list[str], count: int, timeout: float) -> list[dict[str, tuple[str, str]]]:
    """Snapshots, twice a second, of every run of the deployments (id → (state type, state name)) until `count` of
    them are final."""
    return watch_until(env, deployment_ids, lambda snapshot: sum(1 for state, _ in snapshot.values() if state in FINAL_STATES) >= count,
                       timeout)


def watch_until(env: dict[str, str], deployment_ids: list[str], done: Callable[[dict[str, tuple[str, str]]], bool],
                timeout: float) -> list[dict[str, tuple[str, str]]]:
    """Snapshots, twice a second, of every run of the deployments (id → (state type, state name)) until one is `done`
    (or the timeout passes: the caller's asserts on the snapshots then say what never came)."""
    deadline = time.monotonic() + timeout
    snapshots = []
    while time.monotonic() < deadline:
        runs = runs_of(env, deployment_ids)
        snapshots.append({run["id"]: (run["state_type"], run["state_name"]) for run in runs})
        if done(snapshots[-1]):
            break
        time.sleep(0.5)
    return snapshots


def wait_for_state(env: dict[str, str], flow_run_id: str, state: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (run := api(env, "GET", f"/flow_runs/{flow_run_id}"))["state_type"] != state:
        assert run["state_type"] not in FINAL_STATES and time.monotonic() < deadline, why_not(env, run, state)
        time.sleep(0.5)


def why_not(env: dict[str, str], run: dict, wanted: str) -> str:
    """What a run that did not reach `wanted` went through: its states with their messages, and its last log lines."""
    states = api(env, "GET", f"/flow_run_states/?flow_run_id={run['id']}")
    history = [f"{s['timestamp']} {s['type']}/{s['name']}: {s.get('message') or ''}" for s in states]
    logs = api(env, "POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": [run["id"]]}}, "sort": "TIMESTAMP_ASC", "limit": 200})
    lines = [f"{entry['timestamp']} {entry['level']} {entry['message'][:300]}" for entry in logs][-15:]
    return "\n".join([f"flow run {run['id']} is {run['state_type']}, not {wanted}", "states:", *history, "logs:", *lines])


def stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
