"""Where the platform database lives (PMSYNC_* variables), apart from the source's settings and their HTTP client."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class PlatformSettings(BaseSettings):
    """Where the platform database lives."""

    model_config = SettingsConfigDict(env_prefix="PMSYNC_", extra="ignore", hide_input_in_errors=True)

    database_url: str = "sqlite:///pmsync.db"
    parked_alert_hours: float = 24.0
    expectations_dir: Path = Path(__file__).resolve().parents[1] / "expectations"
    quality_max_failure_share: float = 0.2
    lock_lease_minutes: float = 15.0
    lock_wait_minutes: float = 360.0
    push_claim_minutes: float = 10.0


class IntegrationNameSettings(BaseSettings):
    """The environment's default integration by name only (no credentials read or checked): a run's label."""

    model_config = SettingsConfigDict(env_prefix="PMSYNC_", extra="ignore", hide_input_in_errors=True)

    integration_name: str = "default"
