"""Bulk parameters: rows turned into a driver's parameter tuples, converted as SQLAlchemy would, a column at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from operator import itemgetter
from typing import Any

from sqlalchemy import Column

from schemas.tables import UtcDateTime

_NOTHING = object()


def bind_processor(column: Column, dialect: Any) -> Callable[[Any], Any] | None:
    """What SQLAlchemy does to a Python value of `column` before the driver gets it (None: nothing)."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return None
    if isinstance(column.type, UtcDateTime) and dialect.name == "sqlite":
        return _sqlite_utc_text
    return process


def bind_converter(column: Column, dialect: Any) -> Callable[[Any], Any] | None:
    """bind_processor, remembering the last value it converted (a page's rows share their `created_at`)."""
    process = bind_processor(column, dialect)
    if process is None:
        return None
    last: list[Any] = [_NOTHING, None]

    def convert(value: Any) -> Any:
        if value is last[0]:
            return last[1]
        last[1] = process(value)
        last[0] = value
        return last[1]

    return convert


def converted_column(process: Callable[[Any], Any], values: tuple) -> list:
    """`process` of each value, called once per run of the same object (a page's rows share their stamps)."""
    converted: list = []
    append = converted.append
    last, result = _NOTHING, None
    for value in values:
        if value is not last:
            result, last = process(value), value
        append(result)
    return converted


def parameter_builder(
    names: tuple[str, ...], processors: list[Callable[[Any], Any] | None], defaults: tuple
) -> Callable[[list[dict[str, Any]]], list[tuple]]:
    """What turns rows (dicts holding `names`) into parameter tuples: each value through its column's processor,
    then the `defaults` (already converted). Rows are taken apart into columns, each column converted in one loop,
    and zipped back: no Python call per value but the processor's own."""
    values_of = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    converted = [(index, process) for index, process in enumerate(processors) if process is not None]

    def parameters(rows: list[dict[str, Any]]) -> list[tuple]:
        if not converted:
            return [(*values_of(row), *defaults) for row in rows]
        if not rows:
            return []
        columns: list = list(zip(*map(values_of, rows)))
        for index, process in converted:
            columns[index] = converted_column(process, columns[index])
        columns.extend([default] * len(rows) for default in defaults)
        return list(zip(*columns))

    return parameters


def _sqlite_utc_text(value: datetime | None) -> str | None:
    """UtcDateTime's bind value on SQLite, as SQLAlchemy's own processors make it (UTC, "YYYY-MM-DD HH:MM:SS.ffffff")
    at a fraction of their cost."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pmsync stores timezone-aware UTC only")
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
