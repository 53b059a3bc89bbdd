"""Reports settings, resolved once at the edge (CLI, flow entry) from PMSYNC_REPORTS_* variables."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReportsSettings(BaseSettings):
    """Where analysts reach the Reports page, and the token it demands off this machine."""

    model_config = SettingsConfigDict(env_prefix="PMSYNC_REPORTS_", extra="ignore")

    url: str = "http://127.0.0.1:8780"
    """PMSYNC_REPORTS_URL: the Reports site as analysts open it; a reconciliation's link artifact points to its snapshot
    page there (set per deployment in prefect.yaml's job_variables.env). It carries no token."""
    token: SecretStr | None = None
