"""Typed settings, resolved once at the edge (CLI, flow entry) from PMSYNC_* variables.

PlatformSettings lives in pmsync.platform.settings (re-exported here), so that a command reading only the platform
does not load the source's HTTP client with the source settings' checks.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pmsync.platform.settings import IntegrationNameSettings, PlatformSettings, invalid_settings
from pmsync.source.base_url import check_base_url
from pmsync.source.budget import (DEFAULT_CONCURRENCY, DEFAULT_MAX_REQUESTS_PER_SECOND, MAX_CONCURRENCY, check_concurrency,
                                  check_request_rate)
from pmsync.source.exchange import (DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_DEADLINE_SECONDS, check_deadline,
                                    check_max_bytes)
from pmsync.source.buildium.credentials import DEFAULT_BASE_URL as BUILDIUM_BASE_URL
from pmsync.source.buildium.dialect import MAX_PAGE_SIZE as BUILDIUM_MAX_PAGE_SIZE
from pmsync.source.buildium.dialect import check_page_size as check_buildium_page_size
from pmsync.source.propertyware.credentials import EXAMPLE_BASE_URL as PROPERTYWARE_EXAMPLE_BASE_URL
from pmsync.source.propertyware.dialect import check_page_size

__all__ = [
    "BUILDIUM_BASE_URL", "CREDENTIAL_VARIABLES", "ImportSettings", "IntegrationSettings", "PROPERTYWARE_EXAMPLE_BASE_URL",
    "PlatformSettings", "credential_problem", "invalid_settings",
]

CREDENTIAL_VARIABLES = {
    "pw_client_id": "PMSYNC_PW_CLIENT_ID",
    "pw_client_secret": "PMSYNC_PW_CLIENT_SECRET",
    "pw_system_id": "PMSYNC_PW_SYSTEM_ID",
    "buildium_client_id": "PMSYNC_BUILDIUM_CLIENT_ID",
    "buildium_client_secret": "PMSYNC_BUILDIUM_CLIENT_SECRET",
}
INT32_MAX = 2**31 - 1


def credential_problem(value: str | SecretStr) -> str | None:
    """Why a credential cannot go into an HTTP header (it never says what the value is), or None when it can."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if any(character in "\r\n" for character in text):
        return "contains a line break (CR or LF)"
    if any(character.isspace() for character in text):
        return "contains whitespace"
    return None


class IntegrationSettings(IntegrationNameSettings):
    """One source account (the default integration) as the PMSYNC_* environment describes it.

    Credentials with whitespace, CR or LF, a base URL that is not https (plain http only to a loopback host), a page
    size outside 1–500, a concurrency outside 1–4, a request rate or a deadline that is not above 0 and a size cap
    under 1 KiB are refused here; errors never show the input.
    """

    model_config = SettingsConfigDict(env_prefix="PMSYNC_", extra="ignore", hide_input_in_errors=True)

    source_system: str = "propertyware"
    pw_base_url: str = "http://127.0.0.1:8765/pw/api/rest/v1"
    pw_client_id: str = ""
    pw_client_secret: SecretStr = SecretStr("")
    pw_system_id: str = ""
    integration_user: str = ""
    pw_max_attempts: int = 6
    pw_backoff_seconds: float = 0.5
    pw_page_size: int = 500
    pw_concurrency: int = DEFAULT_CONCURRENCY
    pw_max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND
    pw_request_deadline_seconds: float = DEFAULT_REQUEST_DEADLINE_SECONDS
    pw_max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    buildium_base_url: str = BUILDIUM_BASE_URL
    buildium_client_id: str = ""
    buildium_client_secret: SecretStr = SecretStr("")
    buildium_staff_user_id: str = ""
    buildium_vendor_id: str = ""
    buildium_page_size: int = BUILDIUM_MAX_PAGE_SIZE
    buildium_max_requests_per_second: float = 10.0
    buildium_backoff_seconds: float = 0.2
    buildium_max_attempts: int = 8
    buildium_concurrency: int = DEFAULT_CONCURRENCY

    @field_validator("pw_base_url")
    @classmethod
    def _base_url_credentials_may_go_to(cls, value: str) -> str:
        return check_base_url(value, "PMSYNC_PW_BASE_URL", PROPERTYWARE_EXAMPLE_BASE_URL)

    @field_validator("buildium_base_url")
    @classmethod
    def _buildium_base_url_credentials_may_go_to(cls, value: str) -> str:
        return check_base_url(value, "PMSYNC_BUILDIUM_BASE_URL", BUILDIUM_BASE_URL)

    @field_validator("buildium_staff_user_id", "buildium_vendor_id")
    @classmethod
    def _buildium_user_id(cls, value: str, info: ValidationInfo) -> str:
        variable = f"PMSYNC_{(info.field_name or '').upper()}"
        text = value.strip()
        if text and not (text.isascii() and text.isdigit() and 0 < int(text) <= INT32_MAX):
            raise ValueError(f"{variable} must be a Buildium id: a whole number from 1 to {INT32_MAX}")
        return text

    @field_validator("buildium_page_size")
    @classmethod
    def _buildium_page_size_the_vendor_accepts(cls, value: int) -> int:
        return check_buildium_page_size(value)

    @field_validator("buildium_max_requests_per_second")
    @classmethod
    def _buildium_request_rate_above_zero(cls, value: float) -> float:
        try:
            return check_request_rate(value)
        except ValueError:
            raise ValueError(f"PMSYNC_BUILDIUM_MAX_REQUESTS_PER_SECOND must be a number above 0, got {value!r}") from None

    @field_validator("buildium_backoff_seconds")
    @classmethod
    def _buildium_backoff_above_zero(cls, value: float) -> float:
        if not 0 < value <= 60:
            raise ValueError(f"PMSYNC_BUILDIUM_BACKOFF_SECONDS must be above 0 and at most 60, got {value!r}")
        return value

    @field_validator("buildium_max_attempts")
    @classmethod
    def _buildium_attempts_at_least_one(cls, value: int) -> int:
        if not 1 <= value <= 20:
            raise ValueError(f"PMSYNC_BUILDIUM_MAX_ATTEMPTS must be a whole number from 1 to 20, got {value!r}")
        return value

    @field_validator("buildium_concurrency")
    @classmethod
    def _buildium_concurrency_within_the_cap(cls, value: int) -> int:
        try:
            return check_concurrency(value)
        except ValueError:
            raise ValueError(f"PMSYNC_BUILDIUM_CONCURRENCY must be a whole number from 1 to {MAX_CONCURRENCY}, "
                             f"got {value!r}") from None

    @field_validator("pw_client_id", "pw_client_secret", "pw_system_id", "buildium_client_id", "buildium_client_secret")
    @classmethod
    def _credential_fits_a_header(cls, value: str | SecretStr, info: ValidationInfo) -> str | SecretStr:
        problem = credential_problem(value)
        if problem:
            variable = CREDENTIAL_VARIABLES[info.field_name or ""]
            raise ValueError(f"{variable} {problem}; remove it (the value is not shown)")
        return value

    @field_validator("pw_page_size")
    @classmethod
    def _page_size_the_vendor_accepts(cls, value: int) -> int:
        return check_page_size(value)

    @field_validator("pw_concurrency")
    @classmethod
    def _concurrency_within_the_cap(cls, value: int) -> int:
        return check_concurrency(value)

    @field_validator("pw_max_requests_per_second")
    @classmethod
    def _request_rate_above_zero(cls, value: float) -> float:
        return check_request_rate(value)

    @field_validator("pw_request_deadline_seconds")
    @classmethod
    def _deadline_above_zero(cls, value: float) -> float:
        return check_deadline(value)

    @field_validator("pw_max_response_bytes")
    @classmethod
    def _size_cap_of_at_least_a_kibibyte(cls, value: int) -> int:
        return check_max_bytes(value)

    def missing(self) -> list[str]:
        """Names of the variables a sync of PMSYNC_SOURCE_SYSTEM needs that are empty."""
        if self.source_system == "buildium":
            return [name for name, value in {
                "PMSYNC_BUILDIUM_CLIENT_ID": self.buildium_client_id,
                "PMSYNC_BUILDIUM_CLIENT_SECRET": self.buildium_client_secret.get_secret_value(),
                "PMSYNC_BUILDIUM_STAFF_USER_ID": self.buildium_staff_user_id,
            }.items() if not value.strip()]
        wanted = {
            "PMSYNC_PW_CLIENT_ID": self.pw_client_id,
            "PMSYNC_PW_CLIENT_SECRET": self.pw_client_secret.get_secret_value(),
            "PMSYNC_PW_SYSTEM_ID": self.pw_system_id,
            "PMSYNC_INTEGRATION_USER": self.integration_user,
        }
        return [name for name, value in wanted.items() if not value.strip()]


class ImportSettings(BaseSettings):
    """What a `csv-import` deployment may touch on a worker: files inside one directory, uploads up to a size; and how
    long the files pmsync writes there (uploads, fix-ups) are kept."""

    model_config = SettingsConfigDict(env_prefix="PMSYNC_", extra="ignore", hide_input_in_errors=True)

    import_dir: Path = Path(__file__).resolve().parents[1] / "imports"
    import_max_bytes: int = 20 * 1024 * 1024
    import_retention_days: int = 30

    @field_validator("import_retention_days")
    @classmethod
    def _kept_at_least_a_day(cls, value: int) -> int:
        if value < 1:
            raise ValueError("PMSYNC_IMPORT_RETENTION_DAYS must be at least 1 (days an uploaded or fix-up file is kept)")
        return value
