"""What a phase of the fleet bench sent the Prefect server: flow runs, task runs, logs, artifacts and events, counted on the server."""

from __future__ import annotations

import time
from datetime import datetime

import requests

PAGE = 200


def _paged(url: str, body: dict) -> list[dict]:
    found, offset = [], 0
    while True:
        page = requests.post(url, json={**body, "limit": PAGE, "offset": offset}, timeout=60).json()
        found += page
        if len(page) < PAGE:
            return found
        offset += PAGE


def _count(api: str, path: str, body: dict) -> int:
    return int(requests.post(f"{api}/{path}/count", json=body, timeout=60).json())


def settled_traffic(api: str, since: datetime, until: datetime, patience: float = 60.0) -> dict[str, int]:
    """`phase_traffic`, read again every 2 s until two reads agree (Prefect 3 records task runs from their events a
    while after the flow ends; longer on a loaded server), or after `patience` seconds."""
    deadline = time.monotonic() + patience
    last = phase_traffic(api, since, until)
    while time.monotonic() < deadline:
        time.sleep(2)
        now = phase_traffic(api, since, until)
        if now == last:
            return now
        last = now
    return last


def phase_traffic(api: str, since: datetime, until: datetime) -> dict[str, int]:
    """Flow runs started between `since` and `until` (a batch's subflows too), their task runs, log lines and
    artifacts, and the events the server recorded in the window, by kind (`events: prefect.task-run`, …)."""
    window = {"after_": since.isoformat(), "before_": until.isoformat()}
    runs = _paged(f"{api}/flow_runs/filter", {"flow_runs": {"start_time": window}})
    ids = [run["id"] for run in runs]
    traffic = {"flow runs": len(ids), "task runs": 0, "logs": 0, "artifacts": 0}
    for first in range(0, len(ids), PAGE):
        chunk = {"any_": ids[first:first + PAGE]}
        traffic["task runs"] += _count(api, "task_runs", {"flow_runs": {"id": chunk}})
        traffic["artifacts"] += _count(api, "artifacts", {"artifacts": {"flow_run_id": chunk}})
        traffic["logs"] += len(_paged(f"{api}/logs/filter", {"logs": {"flow_run_id": chunk}}))
    counted = requests.post(f"{api}/events/count-by/event", timeout=60, json={
        "filter": {"occurred": {"since": since.isoformat(), "until": until.isoformat()}}}).json()
    for bucket in counted:
        kind = ".".join(bucket["value"].split(".")[:2]) if bucket["value"].startswith("prefect.") else "pmsync"
        traffic[f"events: {kind}"] = traffic.get(f"events: {kind}", 0) + bucket["count"]
    return traffic
