"""How a source speaks offset paging: the key its listings are ordered by, the page cap, its error body, its 401 hint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OffsetDialect:
    """What a source package tells the shared offset kit (pmsync.source.http, .offset_client, .listing, .paging) about
    its API; everything else (overlap, step back, progress proof, retries, the request budget) is shared.

    `key` is the raw field every listing is ordered by and that holds a record's id; `order` the query that orders a
    listing on it (the paging proof needs a unique, ascending key); `credential_settings` and `base_url_setting` name
    the package's own settings where an error asks the operator to fix them (a 401, a header a credential cannot be
    sent in, a redirect); `message_field` is the field of an error body that carries the source's message."""

    key: str
    order: Mapping[str, str]
    max_page: int
    credential_settings: str
    base_url_setting: str
    message_field: str
    limit_param: str = "limit"
    offset_param: str = "offset"
    total_header: str = "X-Total-Count"
    headers: Mapping[str, str] = field(default_factory=lambda: {"Accept": "application/json"})
