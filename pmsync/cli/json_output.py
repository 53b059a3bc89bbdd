"""`--json` output of the read-only commands: one JSON document on stdout, moments in UTC with `Z`, decimals as strings."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, is_dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import typer

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout (for scripts) instead of tables.")


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # exact: a float could change the cents
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(data: Any) -> str:
    """The JSON text of `data`: keys as given, datetimes as ISO 8601 UTC ending in `Z`, dates as ISO dates,
    decimals as strings."""
    return json.dumps(data, default=_encode, ensure_ascii=False, indent=2)


def print_json(data: Any) -> None:
    """Write `data` as one JSON document (and a newline) to stdout, nothing else."""
    sys.stdout.write(to_json(data) + "\n")
