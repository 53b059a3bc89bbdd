"""The source system's client and its errors (no Prefect here)."""

from pmsync.source.client import PropertywareClient, RetryPolicy, SourcePage
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
