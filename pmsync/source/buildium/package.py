"""Buildium's row in the source registry: its rule tables, its credentials and how a source is opened."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pmsync.source.buildium.credentials import BuildiumCredentials
from pmsync.source.buildium.rules import BUILDIUM_RULES

if TYPE_CHECKING:
    from pmsync.integrations.integration import Integration
    from pmsync.source.buildium.client import BuildiumClient


class BuildiumPackage:
    """Buildium's registry row (pmsync.source.protocol.SourcePackage)."""

    vendor = "buildium"
    rule_tables = (BUILDIUM_RULES,)
    block_type_slug = "buildium-integration"
    block_type_name = "Buildium Integration"

    def credentials(self, **fields: Any) -> BuildiumCredentials:
        return BuildiumCredentials(**fields)

    def credentials_from_settings(self, settings: Any) -> BuildiumCredentials:
        """From the PMSYNC_BUILDIUM_* environment (pmsync.settings.IntegrationSettings)."""
        return BuildiumCredentials(settings.buildium_base_url, settings.buildium_client_id,
                                   settings.buildium_client_secret, int(settings.buildium_staff_user_id),
                                   int(settings.buildium_vendor_id) if settings.buildium_vendor_id else None)

    def tuning_from_settings(self, settings: Any) -> dict[str, Any]:
        """The integration's fields Buildium sets from its own PMSYNC_BUILDIUM_* settings: the staff user is the
        integration user (work orders sync when their task is assigned to it), its page cap, request rate (10 a
        second by default, the spec's limit per account), the backoff a 429 starts from (~200 ms), the attempts a
        request gets and the pages a listing has in flight."""
        return {
            "integration_user": settings.buildium_staff_user_id,
            "page_size": settings.buildium_page_size,
            "max_attempts": settings.buildium_max_attempts,
            "concurrency": settings.buildium_concurrency,
            "backoff_seconds": settings.buildium_backoff_seconds,
            "max_requests_per_second": settings.buildium_max_requests_per_second,
        }

    def credentials_from_block(self, block: Any) -> BuildiumCredentials:
        """From a Buildium Integration block."""
        return BuildiumCredentials(block.base_url, block.client_id, block.client_secret, int(block.staff_user_id),
                                   block.vendor_id)

    def open(self, integration: Integration) -> BuildiumClient:
        """A client within the integration's budget: `concurrency` pages in flight per listing, at most
        `max_requests_per_second` requests a second across all its threads (a 429 pauses them all and backs off
        from `backoff_seconds`, ~200 ms by default), each answer within `answer_limits`."""
        from pmsync.source.buildium.client import BuildiumClient  # the HTTP stack loads only to read
        from pmsync.source.retry import RetryPolicy

        account: BuildiumCredentials = integration.credentials  # type: ignore[assignment]
        retry = RetryPolicy(max_attempts=integration.max_attempts, backoff_base=integration.backoff_seconds)
        return BuildiumClient(
            account.base_url, account.client_id, account.client_secret, account.staff_user_id, retry=retry,
            page_size=integration.page_size, concurrency=integration.concurrency,
            max_requests_per_second=integration.max_requests_per_second, limits=integration.answer_limits,
            vendor_id=account.vendor_id,
        )


BUILDIUM = BuildiumPackage()
