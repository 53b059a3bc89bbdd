"""Where the Propertyware client used to live: kept so older imports work (pmsync.source.propertyware.client)."""

from pmsync.source.paging import PageCursor, SourcePage
from pmsync.source.propertyware.client import PropertywareClient
from pmsync.source.propertyware.dialect import MAX_PAGE_SIZE, format_source_time
from pmsync.source.retry import RetryPolicy

__all__ = ["MAX_PAGE_SIZE", "PageCursor", "PropertywareClient", "RetryPolicy", "SourcePage", "format_source_time"]
