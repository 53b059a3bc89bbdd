"""The frame the quality gate validates: one row per candidate, built column by column (pandas loads only in `pmsync.sync.gate_suites.frame_of`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from itertools import chain, repeat
from operator import attrgetter
from typing import TYPE_CHECKING

from pmsync.sync.gate_suites import frame_of
from schemas.records import Candidate

if TYPE_CHECKING:
    import pandas as pd

NOT_IN_FRAME = {"source_data"}


def columns_read(expectations: list[dict]) -> frozenset[str] | None:
    """The frame columns a suite's expectations read; None when one may read any (no column named, a row
    condition): that suite sees every column."""
    columns: set[str] = set()
    for expectation in expectations:
        kwargs = expectation.get("kwargs") or {}
        named = [kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B"), *(kwargs.get("column_list") or [])]
        named = [name for name in named if isinstance(name, str)]
        if not named or kwargs.get("row_condition"):
            return None
        columns.update(named)
    return frozenset(columns)


def candidate_frame(candidates: list[Candidate], now: datetime, columns: frozenset[str] | None = None) -> pd.DataFrame:
    """One row per candidate: its columns, its parents' source ids, and how far its last change is ahead of now
    (`candidate_columns` as a frame)."""
    return frame_of(candidate_columns(candidates, now, columns))


def candidate_columns(candidates: list[Candidate], now: datetime, columns: frozenset[str] | None = None) -> dict[str, list]:
    """The frame's columns, each a list with a value per candidate (plain values: what the gate's process is sent).

    Built column by column (C-level `map`s over the candidates' dicts); with `columns` (those a suite reads), only
    those that candidates have. Where names meet, the later wins: source_id, then the candidate's columns, its
    parents' `<parent>_source_id`, `modified_seconds_ahead`.
    """
    own_columns = list(map(attrgetter("columns"), candidates))
    own_parents = list(map(attrgetter("parents"), candidates))
    own = [name for name in _keys_in_order(own_columns) if name not in NOT_IN_FRAME]
    parents = {f"{parent}_source_id": parent for parent in _keys_in_order(own_parents)}
    names = [*dict.fromkeys(["source_id", *own, *parents, "modified_seconds_ahead"])]
    frame: dict[str, list] = {}
    for name in names if columns is None else [n for n in names if n in columns]:
        if name == "modified_seconds_ahead":
            moments = map(dict.get, own_columns, repeat("source_modified_at"))
            frame[name] = [(moment - now).total_seconds() if moment else None for moment in moments]
        elif name in parents:
            frame[name] = list(map(dict.get, own_parents, repeat(parents[name])))
        elif name in own:
            values = list(map(dict.get, own_columns, repeat(name)))
            frame[name] = [float(v) if type(v) is Decimal else v for v in values] if Decimal in set(map(type, values)) else values
        else:
            frame[name] = list(map(attrgetter("source_id"), candidates))
    return frame


def _keys_in_order(dicts: list[dict]) -> list[str]:
    """Every key of the dicts, in order of first appearance (the order of a frame built row by row)."""
    first = dicts[0].keys() if dicts else {}.keys()
    if all(map(first.__eq__, map(dict.keys, dicts))):
        return list(first)
    return list(dict.fromkeys(chain.from_iterable(dicts)))
