"""A flow run's name, the same whoever gives it: pmsync when it creates the run, or the flow as the run starts."""

from __future__ import annotations

from datetime import datetime, timezone


def run_name(flow: str, integration: str | None = None, started: datetime | None = None) -> str:
    """`delta-sync · acme · 2026-11-30 23:30:00 UTC`: the flow, the integration (None: the environment's, as a run
    given no integration syncs it) and the start in UTC (default: now, when a command or a page creates the run)."""
    if integration is None:
        from pmsync.platform.settings import IntegrationNameSettings

        integration = IntegrationNameSettings().integration_name
    when = (started or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{flow} · {integration} · {when:%Y-%m-%d %H:%M:%S} UTC"


def run_name_prefix(flow: str, integration: str) -> str:
    """What every name `run_name` gives a run of `flow` over `integration` starts with."""
    return f"{flow} · {integration} · "
