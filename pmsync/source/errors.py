"""Source errors, named by what the caller must do; each names the request, never a secret."""

from __future__ import annotations


class SourceError(Exception):
    """Base: something about a request to the source went wrong."""

    retriable = False

    def __init__(self, message: str, *, request: str) -> None:
        super().__init__(f"{message} [{request}]")
        self.request = request


class SourceUnavailable(SourceError):
    """Retriable: the source kept answering 429/5xx or timing out; run again later."""

    retriable = True


class SourceOutcomeUnknown(SourceUnavailable):
    """Retriable, but look first: a write got no clear answer (timeout, dropped connection, 5xx) and may have landed."""


class SourceAuthError(SourceError):
    """Fatal: the source refused the credentials (401); fix the client id, secret or system id."""


class SourceRequestRejected(SourceError):
    """Fatal: the source rejected the request (400/403/404 …); fix the request or permissions."""

    def __init__(self, message: str, *, request: str, status: int) -> None:
        super().__init__(message, request=request)
        self.status = status


class SourceDataError(SourceError):
    """Fatal for the page: the source sent a body we cannot read; names entity, record and field."""

    def __init__(
        self,
        message: str,
        *,
        request: str,
        entity: str,
        record_id: object = None,
        field: str | None = None,
    ) -> None:
        where = f"{entity}"
        if record_id is not None:
            where += f" id={record_id}"
        if field:
            where += f" field={field}"
        super().__init__(f"{where}: {message}", request=request)
        self.entity = entity
        self.record_id = record_id
        self.field = field


class SourceListingUnstable(SourceUnavailable):
    """Retriable: a listing changed by more than a page between two pages (bulk change at the source); run again later."""


class SourcePagingBroken(SourceError):
    """Fatal: a listing made no progress (the source ignores offset or repeats pages); a rerun won't help, tell the vendor."""


class SourceRequestUnsendable(SourceError):
    """Fatal: the request could not be built or sent (e.g. a malformed base URL); fix the configuration or the request."""


class FetchAbandoned(Exception):
    """Not a failure: a speculative fetch stopped before its next attempt because its page is no longer wanted (the
    listing stepped back, ended, or was closed); nobody waits for its answer."""

    def __init__(self, request: str) -> None:
        super().__init__(f"fetch abandoned [{request}]")
        self.request = request
