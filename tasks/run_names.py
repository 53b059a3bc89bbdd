"""What a flow run is called in the Prefect UI: the flow, the integration and when it started (UTC)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import prefect.runtime

from pmsync.platform_settings import IntegrationNameSettings


def flow_run_name(flow: str) -> Callable[[], str]:
    """A `flow_run_name` for `flow`: `delta-sync · acme · 2026-11-30 23:30:00 UTC`, naming the integration block the
    run was given, else the environment's integration; the start is the run's scheduled start."""

    def name() -> str:
        parameters = prefect.runtime.flow_run.parameters
        integration = parameters.get("integration") or IntegrationNameSettings().integration_name
        started = prefect.runtime.flow_run.scheduled_start_time or datetime.now(timezone.utc)
        return f"{flow} · {integration} · {started.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"

    return name
