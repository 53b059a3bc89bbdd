"""Propertyware's row in the source registry: its rule tables, its credentials and how a source is opened."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pmsync.source.propertyware.credentials import PropertywareCredentials
from pmsync.source.propertyware.rules import CONTACT_UPDATING_RULES, PROPERTYWARE_RULES

if TYPE_CHECKING:
    from pmsync.integrations.integration import Integration
    from pmsync.source.propertyware.client import PropertywareClient


class PropertywarePackage:
    """Propertyware's registry row (pmsync.source.protocol.SourcePackage)."""

    vendor = "propertyware"
    rule_tables = (PROPERTYWARE_RULES, CONTACT_UPDATING_RULES)
    block_type_slug = "propertyware-integration"
    block_type_name = "Propertyware Integration"

    def credentials(self, **fields: Any) -> PropertywareCredentials:
        return PropertywareCredentials(**fields)

    def credentials_from_settings(self, settings: Any) -> PropertywareCredentials:
        """From the PMSYNC_PW_* environment (pmsync.settings.IntegrationSettings)."""
        return PropertywareCredentials(settings.pw_base_url, settings.pw_client_id, settings.pw_client_secret,
                                       settings.pw_system_id)

    def credentials_from_block(self, block: Any) -> PropertywareCredentials:
        """From a Propertyware Integration block."""
        return PropertywareCredentials(block.base_url, block.client_id, block.client_secret, block.system_id)

    def open(self, integration: Integration) -> PropertywareClient:
        """A client within the integration's budget: `concurrency` pages in flight per listing, at most
        `max_requests_per_second` requests a second across all its threads, each answer within `answer_limits`."""
        from pmsync.source.propertyware.client import PropertywareClient  # the HTTP stack loads only to read
        from pmsync.source.retry import RetryPolicy

        account: PropertywareCredentials = integration.credentials  # type: ignore[assignment]
        retry = RetryPolicy(max_attempts=integration.max_attempts, backoff_base=integration.backoff_seconds)
        return PropertywareClient(
            account.base_url, account.client_id, account.client_secret, account.system_id, retry=retry,
            page_size=integration.page_size, concurrency=integration.concurrency,
            max_requests_per_second=integration.max_requests_per_second, limits=integration.answer_limits,
        )


PROPERTYWARE = PropertywarePackage()
