"""Source values made storable: ids and amounts the platform's columns hold, date-times as UTC within Python's range,
text without what databases refuse, and the key a refused record is quarantined under."""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import date, datetime, timezone
from decimal import Decimal
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

EARLIEST = datetime.min.replace(tzinfo=timezone.utc)
LATEST = datetime.max.replace(tzinfo=timezone.utc)
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)
MONEY_LIMIT = Decimal("999999999999.99")
"""The largest amount the platform's NUMERIC(14,2) money columns hold (either sign)."""
KEY_LENGTH = 40
"""quarantine.source_id is VARCHAR(40): a refused record's key never exceeds it."""


def _within(low: Any, high: Any, rule: str) -> AfterValidator:
    def check(value: Any) -> Any:
        if low <= value <= high:
            return value
        raise PydanticCustomError("out_of_range", rule)

    return AfterValidator(check)


SourceId = Annotated[int, Field(strict=True), _within(*INT64, "beyond int64, the spec's integer format (a BIGINT)")]
"""An id, or a reference to another record: the spec's `integer` (`int64`), what the platform's BIGINT columns hold.
Strict: a string, a float or a boolean is a wrong type."""
Int32 = Annotated[int, Field(strict=True), _within(*INT32, "beyond int32, the spec's integer format (an INTEGER)")]
"""A number the spec declares `int32` (a work order's number), what the platform's INTEGER columns hold."""
MoneyAmount = Annotated[Decimal, _within(-MONEY_LIMIT, MONEY_LIMIT, "beyond ±999,999,999,999.99, what the platform's "
                                                                    "NUMERIC(14,2) holds")]
"""A `number` (`double`) the platform keeps as money: finite, and within what NUMERIC(14,2) holds."""


def as_utc(moment: datetime) -> datetime:
    """A moment in UTC; one whose offset carries it past year 1 or 9999 is pinned to that end (Python's range)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        return EARLIEST if moment.year == 1 else LATEST


def _iso_text(value: Any) -> Any:
    """The spec's `date` and `date-time` are strings: a number (which pydantic would read as a Unix time) is a wrong
    type, not a moment."""
    if isinstance(value, (str, date)):
        return value
    raise PydanticCustomError("iso_text_type", "a date or date-time must be an ISO 8601 string (the spec's format)")


UtcMoment = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(as_utc)]
"""The vendor documents its date-times as UTC; a moment without an offset is read as UTC."""
SourceDate = Annotated[date, BeforeValidator(_iso_text)]
"""A calendar date the spec declares `format: date`, sent as an ISO 8601 string."""


def storable(value: Any) -> Any:
    """The value with NUL characters dropped and lone surrogates replaced by U+FFFD, in nested dicts and lists too;
    a NaN or an infinity (which JSON has no place for) becomes its name as text.

    Valid JSON can carry both (\\u0000, \\ud800); PostgreSQL text and JSONB refuse NUL, and no database driver can
    encode a lone surrogate, so either would fail a whole page. A lenient parser reads `NaN`, which JSONB refuses.
    """
    if isinstance(value, str):
        if value.isascii():
            return value.replace("\x00", "") if "\x00" in value else value
        return LONE_SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
    return value


def is_source_id(value: Any) -> bool:
    """Whether `value` is an id a platform row can have (an int64, not a boolean)."""
    return type(value) is int and INT64[0] <= value <= INT64[1]


def id_as_sent(value: Any) -> str | None:
    """A record's id as the source sent it, as text (a JSON string as it is, any other JSON value as JSON); None for
    no id at all (absent, null or empty)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return storable(value)
    return json.dumps(storable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def key_of(text: str) -> str:
    """The quarantine key of an id given as text: the text itself when it fits KEY_LENGTH, else its first 21
    characters, `~` and a digest of the whole (so `pmsync explain ENTITY ID` finds it from the id as sent)."""
    return text if len(text) <= KEY_LENGTH else f"{text[:21]}~{_digest(text)}"


def record_key(record: dict[str, Any], scrub: Callable[[str], str] = str, key: str = "id") -> str:
    """The key a record is quarantined under: its id as sent (see key_of; `scrub`bed first, so a cut never keeps part
    of what it removes); a record without any id is keyed `no-id~` and a digest of its content (the same record keeps
    its key from run to run). `key` is the raw field that holds the id."""
    text = id_as_sent(record.get(key))
    if text is not None:
        return key_of(scrub(text))
    return "no-id~" + _digest(json.dumps(storable(record), sort_keys=True, separators=(",", ":"), default=str))


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).hexdigest()
