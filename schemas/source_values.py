"""Source values made storable: date-times as UTC within Python's range, text without what databases refuse."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator

EARLIEST = datetime.min.replace(tzinfo=timezone.utc)
LATEST = datetime.max.replace(tzinfo=timezone.utc)
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def as_utc(moment: datetime) -> datetime:
    """A moment in UTC; one whose offset carries it past year 1 or 9999 is pinned to that end (Python's range)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        return EARLIEST if moment.year == 1 else LATEST


UtcMoment = Annotated[datetime, AfterValidator(as_utc)]
"""The vendor documents its date-times as UTC; a moment without an offset is read as UTC."""


def storable(value: Any) -> Any:
    """The value with NUL characters dropped and lone surrogates replaced by U+FFFD, in nested dicts and lists too.

    Valid JSON can carry both (\\u0000, \\ud800); PostgreSQL text and JSONB refuse NUL, and no database driver can
    encode a lone surrogate, so either would fail a whole page.
    """
    if isinstance(value, str):
        if value.isascii():
            return value.replace("\x00", "") if "\x00" in value else value
        return LONE_SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value
