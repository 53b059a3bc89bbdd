"""Thread-safe in-memory Buildium account behind the sandbox: records by entity and key, hidden change times, the
rate limiter, and the request-side bookkeeping shared with the Propertyware sandbox."""

from __future__ import annotations

import bisect
import collections
import time
from datetime import datetime, timezone
from typing import Any

from ..clock import format_datetime
from ..entity_tables import EntityTables, RecordTable, clone
from .constants import ENTITIES, RATE_LIMIT_PER_SECOND, key_field
from .data import FIRST_IDS, UPDATED, generate_account

DEACTIVATABLE = ("rentals", "associations", "rentalowners", "vendors")
"""Entities with IsActive: deactivating keeps them listed (Buildium lists inactive ones by default)."""


def _epoch(at: datetime | None) -> int:
    if at is None:
        return int(time.time())
    return int((at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp())


class BuildiumStore(EntityTables):
    """The account's records per entity, sorted by key. Records keep their hidden change time under `_updated`."""

    def __init__(self, data: dict[str, list[dict]] | None = None, *, units: int = 50, seed: int = 7,
                 anchor: datetime | None = None, rate_limit: int | None = RATE_LIMIT_PER_SECOND):
        if data is None:
            data = generate_account(units, seed, anchor)
        unknown = set(data) - set(ENTITIES)
        if unknown:
            raise KeyError(f"unknown Buildium sandbox entities: {', '.join(sorted(unknown))}")
        super().__init__(ENTITIES, {entity: RecordTable(data.get(entity, []), key_field(entity)) for entity in ENTITIES})
        self._sequences = {entity: max(table.ids[-1] + 1 if table.ids else 1, FIRST_IDS.get(entity, 1))
                           for entity, table in self._tables.items()}
        self.unlisted: dict[str, set[int]] = {entity: set() for entity in ENTITIES}
        """Records left out of their listing but still read by id (`unlist`)."""
        self.rate_limit = rate_limit
        """Requests per second per client id beyond which the sandbox answers 429 (None: no limit)."""
        self._recent: dict[str, collections.deque] = {}
        self.rate_limited = 0

    def next_id(self, entity: str) -> int:
        with self.lock:
            self.table(entity)
            self._sequences[entity] += 1
            return self._sequences[entity] - 1

    def _changed(self, record: dict, at: datetime | None) -> None:
        record[UPDATED] = _epoch(at)
        if "LastUpdatedDateTime" in record:
            record["LastUpdatedDateTime"] = format_datetime(record[UPDATED])
        self._version += 1

    def update(self, entity: str, record_id: int | str, at: datetime | None = None, **fields: Any) -> dict:
        """Changes fields (none: a touch) and marks the record changed at `at` (default now)."""
        with self.lock:
            table = self.table(entity)
            current = table.by_id.get(int(record_id))
            if current is None:
                raise KeyError(f"{entity} {record_id} does not exist")
            if table.key in fields and fields[table.key] != current[table.key]:
                raise ValueError(f"{table.key} cannot be changed")
            current.update(clone(fields))
            self._changed(current, at)
            return clone(current)

    def add(self, entity: str, record: dict, at: datetime | None = None) -> dict:
        with self.lock:
            table = self.table(entity)
            record = clone(record)
            record_id = int(record.get(table.key) or self.next_id(entity))
            if record_id in table.by_id:
                raise ValueError(f"{entity} {record_id} already exists")
            record[table.key] = record_id
            table.by_id[record_id] = record
            bisect.insort(table.ids, record_id)
            self._sequences[entity] = max(self._sequences[entity], record_id + 1)
            self._changed(record, at)
            return clone(record)

    def _forget(self, entity: str, record_ids: list[int]) -> None:
        self.unlisted[entity].difference_update(record_ids)

    def unlist(self, entity: str, record_id: int | str) -> None:
        """Leaves the record out of its listing while GET by id still answers it (a listing that lost a record: a
        reconciliation must confirm before deactivating, and find it there)."""
        with self.lock:
            if int(record_id) not in self.table(entity).by_id:
                raise KeyError(f"{entity} {record_id} does not exist")
            self.unlisted[entity].add(int(record_id))
            self._version += 1

    def deactivate(self, entity: str, record_id: int | str, at: datetime | None = None) -> dict:
        if entity not in DEACTIVATABLE:
            raise ValueError(f"{entity} have no IsActive; deactivatable: {', '.join(DEACTIVATABLE)}")
        return self.update(entity, record_id, at, IsActive=False)

    def spawn(self, entity: str, count: int, at: datetime | None = None) -> list[dict]:
        """Adds `count` copies of the newest record under new keys (changed now)."""
        with self.lock:
            table = self.table(entity)
            if not table.ids or count <= 0:
                return []
            template = table.by_id[table.ids[-1]]
            return [self.add(entity, {k: v for k, v in clone(template).items() if k != table.key}, at)
                    for _ in range(count)]

    def admit(self, client_id: str) -> bool:
        """Whether one more request of this client id fits the rate limit (a refused request does not count)."""
        if self.rate_limit is None:
            return True
        now = time.monotonic()
        with self.lock:
            recent = self._recent.setdefault(client_id, collections.deque())
            while recent and now - recent[0] >= 1.0:
                recent.popleft()
            if len(recent) >= self.rate_limit:
                self.rate_limited += 1
                return False
            recent.append(now)
            return True
