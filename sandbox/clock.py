"""Vendor date and date-time formats (YYYY-MM-DD and YYYY-MM-dd'T'HH:mm:ssXXX) and their parsing."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

_DATETIME_PARAM = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}:?\d{2})$")
_DATE_PARAM = re.compile(r"^\d{4}-\d{2}-\d{2}$")


_DAY = 86_400
_day_texts: dict[int, str] = {}


def format_date(ts: int) -> str:
    day = ts // _DAY
    text = _day_texts.get(day)
    if text is None:
        text = _day_texts[day] = datetime.fromtimestamp(day * _DAY, timezone.utc).strftime("%Y-%m-%d")
    return text


def format_datetime(ts: int) -> str:
    """Vendor date-time for epoch seconds, always written in UTC with a Z."""
    seconds = ts % _DAY
    return f"{format_date(ts)}T{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}Z"


def to_vendor(value: object) -> object:
    """Datetimes and dates in the vendor's text form; anything else unchanged."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def now_text() -> str:
    return to_vendor(datetime.now(timezone.utc))


def parse_datetime_param(text: str) -> datetime:
    """An ISO-8601 date-time with an explicit offset (Z or +hh:mm); ValueError otherwise."""
    if not _DATETIME_PARAM.match(text):
        raise ValueError(text)
    normalized = text[:-1] + "+00:00" if text[-1] in "Zz" else text
    if re.search(r"[+-]\d{4}$", normalized):
        normalized = normalized[:-2] + ":" + normalized[-2:]
    return datetime.fromisoformat(normalized).astimezone(timezone.utc)


def parse_date_param(text: str) -> str:
    if not _DATE_PARAM.match(text):
        raise ValueError(text)
    return date.fromisoformat(text).isoformat()
