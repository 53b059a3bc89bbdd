"""Source systems: the engine's view of one (protocol), the shared offset kit, the errors, and one package per vendor
(no Prefect here)."""

from typing import Any

from pmsync.source.paging import SourcePage
from pmsync.source.errors import (
    SourceAuthError,
    SourceDataError,
    SourceError,
    SourceListingUnstable,
    SourceOutcomeUnknown,
    SourcePagingBroken,
    SourceRequestRejected,
    SourceRequestUnsendable,
    SourceUnavailable,
)

__all__ = [
    "PropertywareClient",
    "RetryPolicy",
    "SourcePage",
    "SourceAuthError",
    "SourceDataError",
    "SourceError",
    "SourceListingUnstable",
    "SourceOutcomeUnknown",
    "SourcePagingBroken",
    "SourceRequestRejected",
    "SourceRequestUnsendable",
    "SourceUnavailable",
]


def __getattr__(name: str) -> Any:
    """`PropertywareClient` and `RetryPolicy`, for older imports, loaded only when asked for: the engine never needs a
    vendor, and a command that reads only the platform loads no HTTP client."""
    if name == "PropertywareClient":
        from pmsync.source.propertyware.client import PropertywareClient

        return PropertywareClient
    if name == "RetryPolicy":
        from pmsync.source.retry import RetryPolicy

        return RetryPolicy
    raise AttributeError(f"module 'pmsync.source' has no attribute {name!r}")
