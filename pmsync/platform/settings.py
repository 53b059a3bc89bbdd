"""Where the platform database lives (PMSYNC_* variables), apart from the source's settings and their HTTP client."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger("pmsync.settings")


class PlatformSettings(BaseSettings):
    """Where the platform database lives, and how runs share an integration's lock.

    lock_lease_seconds: how long after its holder's last heartbeat (every third of it) a lock counts as abandoned;
    the deprecated PMSYNC_LOCK_LEASE_MINUTES still sets it, with a warning. changes_retention_days: how long the change
    journal (record_changes) keeps a run's rows; each run prunes older ones when it ends."""

    model_config = SettingsConfigDict(env_prefix="PMSYNC_", extra="ignore", hide_input_in_errors=True)

    database_url: str = "sqlite:///pmsync.db"
    parked_alert_hours: float = 24.0
    expectations_dir: Path = Path(__file__).resolve().parents[2] / "expectations"
    quality_max_failure_share: float = 0.2
    lock_lease_seconds: float = Field(60.0, gt=0)
    lock_lease_minutes: float | None = Field(None, gt=0)
    lock_wait_minutes: float = 360.0
    push_claim_minutes: float = 10.0
    changes_retention_days: int = 90

    @field_validator("changes_retention_days")
    @classmethod
    def _journal_kept_at_least_a_day(cls, value: int) -> int:
        if value < 1:
            raise ValueError("PMSYNC_CHANGES_RETENTION_DAYS must be at least 1 (days each run's change journal is kept)")
        return value

    @model_validator(mode="after")
    def _lease_from_the_deprecated_minutes(self) -> PlatformSettings:
        if self.lock_lease_minutes is None:
            return self
        if "lock_lease_seconds" in self.model_fields_set:
            raise ValueError(
                "PMSYNC_LOCK_LEASE_MINUTES and PMSYNC_LOCK_LEASE_SECONDS are both set: keep PMSYNC_LOCK_LEASE_SECONDS "
                "only (the minutes are its deprecated older form)"
            )
        _warn_lease_minutes()
        self.lock_lease_seconds = self.lock_lease_minutes * 60
        return self

    @property
    def lock_lease(self) -> timedelta:
        return timedelta(seconds=self.lock_lease_seconds)


@cache
def _warn_lease_minutes() -> None:
    log.warning(
        "PMSYNC_LOCK_LEASE_MINUTES is deprecated: the lock is now renewed by a heartbeat while its run lives, so the "
        "lease only says how soon a dead run's lock is taken over; set PMSYNC_LOCK_LEASE_SECONDS instead (default 60)"
    )


class IntegrationNameSettings(BaseSettings):
    """The environment's default integration by name only (no credentials read or checked): a run's label."""

    model_config = SettingsConfigDict(env_prefix="PMSYNC_", extra="ignore", hide_input_in_errors=True)

    integration_name: str = "default"


def invalid_settings(invalid: ValidationError, prefix: str = "PMSYNC_") -> str:
    """What is wrong with PMSYNC_* settings (or a block's fields, with no prefix), naming each variable and never
    its value (it may be a secret)."""
    problems = []
    for error in invalid.errors(include_url=False, include_input=False, include_context=False):
        field = "_".join(str(part) for part in error["loc"])
        variable = f"{prefix}{field.upper()}" if prefix else field
        message = error["msg"].removeprefix("Value error, ")
        problems.append(message if variable in message else f"{variable}: {message}")
    return "; ".join(problems)
