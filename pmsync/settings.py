"""Typed settings, resolved once at the edge (CLI, flow entry) from PMSYNC_* variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PlatformSettings(BaseSettings):
    """Where the platform database lives."""

    model_config = SettingsConfigDict(env_prefix="PMSYNC_", extra="ignore")

    database_url: str = "sqlite:///pmsync.db"
    parked_alert_hours: float = 24.0
    expectations_dir: Path = Path(__file__).resolve().parents[1] / "expectations"
    quality_max_failure_share: float = 0.2
    lock_lease_minutes: float = 15.0
    lock_wait_minutes: float = 360.0
    push_claim_minutes: float = 10.0


class IntegrationSettings(BaseSettings):
    """One source account (the default integration) as the PMSYNC_* environment describes it."""

    model_config = SettingsConfigDict(env_prefix="PMSYNC_", extra="ignore")

    integration_name: str = "default"
    source_system: str = "propertyware"
    pw_base_url: str = "http://127.0.0.1:8765/pw/api/rest/v1"
    pw_client_id: str = ""
    pw_client_secret: SecretStr = SecretStr("")
    pw_system_id: str = ""
    integration_user: str = ""
    pw_max_attempts: int = 6
    pw_backoff_seconds: float = 0.5
    pw_page_size: int = 500

    def missing(self) -> list[str]:
        """Names of the variables a sync needs that are empty."""
        wanted = {
            "PMSYNC_PW_CLIENT_ID": self.pw_client_id,
            "PMSYNC_PW_CLIENT_SECRET": self.pw_client_secret.get_secret_value(),
            "PMSYNC_PW_SYSTEM_ID": self.pw_system_id,
            "PMSYNC_INTEGRATION_USER": self.integration_user,
        }
        return [name for name, value in wanted.items() if not value.strip()]


class ImportSettings(BaseSettings):
    """What a `csv-import` deployment may touch on a worker: files inside one directory, uploads up to a size."""

    model_config = SettingsConfigDict(env_prefix="PMSYNC_", extra="ignore")

    import_dir: Path = Path(__file__).resolve().parents[1] / "imports"
    import_max_bytes: int = 20 * 1024 * 1024
