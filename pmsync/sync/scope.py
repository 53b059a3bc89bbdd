"""A sync run's scope: where it reads, where it writes, its run id and lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from pmsync.integrations import Integration
from pmsync.source import PropertywareClient


@dataclass(frozen=True)
class SyncSession:
    """One run of one integration: where it reads, where it writes, and its run id."""

    integration: Integration
    client: PropertywareClient
    engine: Engine
    integration_id: int
    run_id: int
    flow: str
    started_at: datetime
    parked_alert: timedelta
    expectations_dir: Path
    max_failure_share: float
    lock_holder: str
    lock_lease: timedelta
