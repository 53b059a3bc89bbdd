"""The Prefect block types for a source integration (Propertyware, Buildium), their secrets kept secret."""

from __future__ import annotations

import math
from typing import ClassVar

from prefect.blocks.core import Block
from pydantic import ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from pmsync.settings import BUILDIUM_BASE_URL, PROPERTYWARE_EXAMPLE_BASE_URL, credential_problem
from pmsync.source.base_url import check_base_url
from pmsync.source.budget import MAX_CONCURRENCY
from pmsync.source.registry import SOURCE_PACKAGES

PROPERTYWARE = SOURCE_PACKAGES["propertyware"]
BUILDIUM = SOURCE_PACKAGES["buildium"]


class PropertywareIntegration(Block):
    """One Propertyware account to sync; the block's name is the integration's name on the platform."""

    _block_type_name = PROPERTYWARE.block_type_name
    vendor: ClassVar[str] = PROPERTYWARE.vendor
    _block_type_slug = PROPERTYWARE.block_type_slug
    _description = "A Propertyware account pmsync keeps the platform in step with (REST API v1)."

    base_url: str = Field(description="API root including the version path, e.g. https://api.propertyware.com/pw/api/rest/v1")
    client_id: str = Field(description="API key client id (x-propertyware-client-id).")
    client_secret: SecretStr = Field(description="API key secret (x-propertyware-client-secret); never logged.")
    system_id: str = Field(description="Organisation / system id (x-propertyware-system-id).")
    integration_user: str = Field(description="E-mail of the integration user: work orders sync when managedBy is this user.")
    source_system: str = Field(default="propertyware", description="Rule table: propertyware or propertyware-contact-updates.")
    concurrency: int | None = Field(
        default=None, description=f"List requests in flight per listing, 1–{MAX_CONCURRENCY} (unset: PMSYNC_PW_CONCURRENCY)."
    )
    max_requests_per_second: float | None = Field(
        default=None, description="The most requests a second this account gets (unset: PMSYNC_PW_MAX_REQUESTS_PER_SECOND)."
    )

    model_config = ConfigDict(hide_input_in_errors=True)

    @field_validator("base_url")
    @classmethod
    def _base_url_credentials_may_go_to(cls, value: str) -> str:
        return check_base_url(value, "base_url", PROPERTYWARE_EXAMPLE_BASE_URL)

    @field_validator("client_id", "client_secret", "system_id")
    @classmethod
    def _credential_fits_a_header(cls, value: str | SecretStr, info: ValidationInfo) -> str | SecretStr:
        problem = credential_problem(value)
        if problem:
            raise ValueError(f"{info.field_name} {problem}; remove it (the value is not shown)")
        return value

    @field_validator("concurrency")
    @classmethod
    def _concurrency_within_the_cap(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY} (or unset)")
        return value

    @field_validator("max_requests_per_second")
    @classmethod
    def _request_rate_above_zero(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError("max_requests_per_second must be a number above 0 (or unset)")
        return value


class BuildiumIntegration(Block):
    """One Buildium account to sync; the block's name is the integration's name on the platform."""

    _block_type_name = BUILDIUM.block_type_name
    vendor: ClassVar[str] = BUILDIUM.vendor
    _block_type_slug = BUILDIUM.block_type_slug
    _description = "A Buildium account pmsync keeps the platform in step with (API v1)."

    base_url: str = Field(default=BUILDIUM_BASE_URL, description=f"API root, e.g. {BUILDIUM_BASE_URL}.")
    client_id: str = Field(description="API key client id (x-buildium-client-id).")
    client_secret: SecretStr = Field(description="API key secret (x-buildium-client-secret); never logged.")
    staff_user_id: int = Field(gt=0, le=2**31 - 1,
                               description="The integration's staff user: work orders sync when their task is assigned to it.")
    vendor_id: int | None = Field(default=None, gt=0, le=2**31 - 1,
                                  description="The vendor a pushed work order names when the platform gave none.")
    source_system: str = Field(default="buildium", description="Rule table: buildium.")
    concurrency: int | None = Field(
        default=None,
        description=f"List requests in flight per listing, 1–{MAX_CONCURRENCY} (unset: PMSYNC_BUILDIUM_CONCURRENCY, 2).",
    )
    max_requests_per_second: float | None = Field(
        default=None,
        description="The most requests a second this account gets (unset: PMSYNC_BUILDIUM_MAX_REQUESTS_PER_SECOND, 10).",
    )

    model_config = ConfigDict(hide_input_in_errors=True)

    @property
    def integration_user(self) -> str:
        """The staff user's id: what the work-order rule compares a task's assignee with."""
        return str(self.staff_user_id)

    @field_validator("base_url")
    @classmethod
    def _base_url_credentials_may_go_to(cls, value: str) -> str:
        return check_base_url(value, "base_url", BUILDIUM_BASE_URL)

    @field_validator("client_id", "client_secret")
    @classmethod
    def _credential_fits_a_header(cls, value: str | SecretStr, info: ValidationInfo) -> str | SecretStr:
        problem = credential_problem(value)
        if problem:
            raise ValueError(f"{info.field_name} {problem}; remove it (the value is not shown)")
        return value

    @field_validator("concurrency")
    @classmethod
    def _concurrency_within_the_cap(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY} (or unset)")
        return value

    @field_validator("max_requests_per_second")
    @classmethod
    def _request_rate_above_zero(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError("max_requests_per_second must be a number above 0 (or unset)")
        return value


INTEGRATION_BLOCKS: dict[str, type[Block]] = {
    block.vendor: block for block in (PropertywareIntegration, BuildiumIntegration)
}
"""Each vendor's integration block type, in the source registry's order (pmsync.source.registry; a new source adds its
block type here)."""
