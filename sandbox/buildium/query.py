"""Buildium list parameters (limit, offset, orderby, repeated array filters, date and date-time windows) parsed from
a query string and evaluated over a table's records."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Callable

from .filters import FILTERS, LEASE_FILTER, LEDGER_FILTERS, OWNER_ENTITY_ID, Filter
from .ledger import LEASE_OF_PATH, LEDGER_ENTITY

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|z|[+-]\d{2}:\d{2})?$")
_ORDER_TERM = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*)(?:\s+(asc|desc))?\s*$", re.IGNORECASE)


class QueryError(ValueError):
    """A malformed list request: the parameter and what is wrong with it (answered 400)."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


@dataclass
class ListQuery:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    order: list[tuple[str, bool]] = field(default_factory=list)
    """(field, descending) terms with the record's own field names."""
    tests: list[Callable[[dict], bool]] = field(default_factory=list)


def _integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise QueryError(name, f"The value '{text}' is not valid for {name}: expected an integer.") from None


def _epoch(name: str, text: str, *, date_only: bool, end: bool) -> int:
    """Epoch seconds of a date (its first second, or its last when `end`) or date-time (naive is UTC)."""
    if _DATE.match(text):
        day = datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc)
        return int(day.timestamp()) + (86_399 if end else 0)
    if date_only or not _DATETIME.match(text):
        expected = "a date (yyyy-MM-dd)" if date_only else "a date-time (yyyy-MM-ddTHH:mm:ssZ)"
        raise QueryError(name, f"The value '{text}' is not valid for {name}: expected {expected}.")
    moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "Zz" else text)
    return int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp())


def _enum_value(name: str, text: str, choices: tuple[str, ...]) -> str:
    for choice in choices:
        if choice.lower() == text.lower():
            return choice
    raise QueryError(name, f"The value '{text}' is not valid for {name}: expected one of {', '.join(choices)}.")


def _parsed(spec: Filter, name: str, values: list[str]):
    """The filter's argument: one value, or every repeated value for an array parameter."""
    if not spec.array and len(values) > 1:
        raise QueryError(name, f"{name} takes one value; it was sent {len(values)} times.")
    def one(text: str):
        if spec.kind == "int":
            return _integer(name, text)
        if spec.kind == "enum":
            return _enum_value(name, text, spec.choices)
        if spec.kind == "bool":
            if text.lower() not in ("true", "false"):
                raise QueryError(name, f"The value '{text}' is not valid for {name}: expected true or false.")
            return text.lower() == "true"
        if spec.kind in ("since", "until"):
            return _epoch(name, text, date_only=spec.date_only, end=spec.kind == "until")
        if spec.kind == "number":
            try:
                return float(text)
            except ValueError:
                raise QueryError(name, f"The value '{text}' is not valid for {name}: expected a number.") from None
        return text
    parsed = [one(text) for text in values]
    return set(parsed) if spec.array else parsed[0]


def parse_list_query(entity: str, pairs: list[tuple[str, str]], sortable: set[str]) -> ListQuery:
    """The list request's query; `sortable` are the top-level scalar fields of the entity's records."""
    query = ListQuery()
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    if "limit" in grouped:
        query.limit = _integer("limit", grouped["limit"][-1])
        if query.limit < 1:
            raise QueryError("limit", f"limit must be from 1 to {MAX_LIMIT}, got {query.limit}.")
        query.limit = min(query.limit, MAX_LIMIT)
    if "offset" in grouped:
        query.offset = _integer("offset", grouped["offset"][-1])
        if query.offset < 0:
            raise QueryError("offset", f"offset must be 0 or more, got {query.offset}.")
    if "orderby" in grouped:
        query.order = _order(grouped["orderby"][-1], sortable)
    filters = {**LEDGER_FILTERS, LEASE_OF_PATH: LEASE_FILTER} if entity == LEDGER_ENTITY else FILTERS[entity]
    if entity == "leasebalances" and [v.lower() for v in grouped.get("entitytype", ())] == ["rentalowner"]:
        filters = {**filters, "entityid": OWNER_ENTITY_ID}
    for name, values in grouped.items():
        spec = filters.get(name.lower())
        if spec is not None:
            query.tests.append(spec.test(_parsed(spec, name, values)))
    return query


def _order(text: str, sortable: set[str]) -> list[tuple[str, bool]]:
    by_lower = {name.lower(): name for name in sortable}
    terms = []
    for part in text.split(","):
        match = _ORDER_TERM.match(part)
        if match is None or match.group(1).lower() not in by_lower:
            raise QueryError("orderby", f"orderby term '{part.strip()}' is not a sortable property of this resource.")
        terms.append((by_lower[match.group(1).lower()], (match.group(2) or "asc").lower() == "desc"))
    return terms


def _sort_key(value):
    return (value is not None, value.casefold() if isinstance(value, str) else value)


def ordered(views: list[dict], query: ListQuery, unique: str, shuffle_seed: str) -> list[dict]:
    """The records in the requested order. Ties that no unique property breaks come out in an order that changes
    from request to request, so that paging without a unique sort can skip and repeat records, as the spec warns."""
    records = list(views)
    if not any(name == unique for name, _ in query.order):
        random.Random(shuffle_seed).shuffle(records)
    for name, descending in reversed(query.order):
        records.sort(key=lambda record: _sort_key(record.get(name)), reverse=descending)
    return records
