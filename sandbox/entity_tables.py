"""Records per entity sorted by key, shared by every vendor's sandbox store: read, sample, touch and delete them."""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .traffic import Traffic


def clone(value: Any) -> Any:
    """Deep copy of JSON-like data (dicts and lists; scalars are shared)."""
    if isinstance(value, dict):
        return {k: clone(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


class RecordTable:
    """One entity's records by key (`by_id`) and their keys ascending (`ids`)."""

    def __init__(self, records: list[dict], key: str = "id"):
        self.key = key
        self.by_id: dict[int, dict] = {record[key]: record for record in records}
        self.ids: list[int] = sorted(self.by_id)


class EntityTables(Traffic):
    """A store's tables, one per entity of `entities`, and the reads and bulk changes both vendors' sandboxes share.
    The store takes ownership of the dicts it is given (no copy is made); `version` grows with every change."""

    def __init__(self, entities: Iterable[str], tables: dict[str, RecordTable]) -> None:
        super().__init__()
        self._entities = tuple(entities)
        self._tables = tables
        self._version = 0

    @property
    def version(self) -> int:
        return self._version

    def table(self, entity: str) -> RecordTable:
        """The live table (hold `lock` while reading it; never mutate it directly)."""
        try:
            return self._tables[entity]
        except KeyError:
            raise KeyError(f"unknown entity {entity!r}; expected one of {', '.join(self._entities)}") from None

    def count(self, entity: str) -> int:
        return len(self.table(entity).ids)

    def records(self, entity: str) -> list[dict]:
        """Every record of the entity in key order, as stored (hidden fields included)."""
        with self.lock:
            table = self.table(entity)
            return [clone(table.by_id[i]) for i in table.ids]

    def get(self, entity: str, record_id: int | str) -> dict | None:
        with self.lock:
            record = self.table(entity).by_id.get(int(record_id))
            return clone(record) if record is not None else None

    def delete(self, entity: str, record_id: int | str) -> None:
        """Removes the record without a trace (it leaves every listing)."""
        with self.lock:
            self._delete_many(entity, [int(record_id)], missing=f"{entity} {record_id} does not exist")

    def sample_ids(self, entity: str, share: float, seed: int = 5) -> list[int]:
        """A reproducible random `share` (0..1) of the entity's ids, ascending (at least one when share > 0)."""
        if not 0 <= share <= 1:
            raise ValueError("share must be between 0 and 1")
        with self.lock:
            ids = self.table(entity).ids
            count = min(len(ids), max(1, round(len(ids) * share))) if share > 0 else 0
            return sorted(random.Random(seed).sample(ids, count))

    def touch_sample(self, entity: str, share: float, seed: int = 5, at: datetime | None = None) -> list[int]:
        """Marks a share of the records modified now (as a user editing them in the source would): the store's
        `update` with no field changed."""
        with self.lock:
            touched = self.sample_ids(entity, share, seed)
            for record_id in touched:
                self.update(entity, record_id, at)
            return touched

    def delete_sample(self, entity: str, share: float, seed: int = 5) -> list[int]:
        """Deletes a share of the records (they leave every listing, as units removed in the source do)."""
        with self.lock:
            doomed = self.sample_ids(entity, share, seed)
            self._delete_many(entity, doomed)
            return doomed

    def _delete_many(self, entity: str, record_ids: list[int], missing: str | None = None) -> None:
        table = self.table(entity)
        if missing is not None and any(record_id not in table.by_id for record_id in record_ids):
            raise KeyError(missing)
        for record_id in record_ids:
            del table.by_id[record_id]
        if len(record_ids) == 1:
            del table.ids[bisect.bisect_left(table.ids, record_ids[0])]
        else:
            gone = set(record_ids)
            table.ids = [record_id for record_id in table.ids if record_id not in gone]
        self._forget(entity, record_ids)
        self._version += 1

    def _forget(self, entity: str, record_ids: list[int]) -> None:
        """What a vendor's store keeps about deleted records besides their rows (nothing, unless it says so)."""
