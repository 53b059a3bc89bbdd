"""Thread-safe in-memory record store behind the sandbox server, with mutation, request-log and fault APIs."""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Any

from .clock import now_text, to_vendor
from .constants import ENTITIES, PATH_ENTITIES
from .data import FIRST_IDS, generate_portfolio
from .entity_tables import EntityTables, RecordTable, clone

_NESTED_ID_SEQUENCES = {"leases": ("contacts", "contacts"), "portfolios": ("owners", "owners")}


class SandboxStore(EntityTables):
    """Records per entity sorted by id. The store takes ownership of the dicts it is given (no copy is made)."""

    def __init__(self, data: dict[str, list[dict]] | None = None, *, units: int = 50, seed: int = 7,
                 anchor: datetime | None = None, ledger: bool = True):
        if data is None:
            data = generate_portfolio(units, seed, anchor, ledger=ledger)
        unknown = set(data) - set(ENTITIES)
        if unknown:
            raise KeyError(f"unknown entities: {', '.join(sorted(unknown))}")
        super().__init__(ENTITIES, {entity: RecordTable(data.get(entity, [])) for entity in ENTITIES})
        self._sequences = {entity: max(table.ids[-1] + 1 if table.ids else 0, FIRST_IDS[entity])
                           for entity, table in self._tables.items()}
        for entity, (key, sequence) in _NESTED_ID_SEQUENCES.items():
            nested = [item.get("id") or 0 for r in self._tables[entity].by_id.values() for item in r.get(key) or ()]
            self._sequences[sequence] = max(max(nested, default=0) + 1, FIRST_IDS[sequence])
        self.work_order_tasks: dict[int, list[dict]] = {}
        self._task_ids = 70_000_001

    def next_id(self, entity: str) -> int:
        with self.lock:
            self.table(entity)
            return self._sequences[entity]

    def update(self, entity: str, id: int | str, at: datetime | None = None, **fields: Any) -> dict:
        with self.lock:
            table = self.table(entity)
            current = table.by_id.get(int(id))
            if current is None:
                raise KeyError(f"{entity} {id} does not exist")
            changed = {key: to_vendor(value) for key, value in fields.items()}
            changed.setdefault("lastModifiedDateTime", to_vendor(at) if at else now_text())
            changed["id"] = current["id"]
            table.by_id[current["id"]] = {**current, **changed}
            self._version += 1
            return clone(table.by_id[current["id"]])

    def add(self, entity: str, record: dict, at: datetime | None = None) -> dict:
        with self.lock:
            table = self.table(entity)
            record = {key: to_vendor(value) for key, value in clone(record).items()}
            record_id = int(record.get("id") or self._sequences[entity])
            if record_id in table.by_id:
                raise ValueError(f"{entity} {record_id} already exists")
            record["id"] = record_id
            stamp = to_vendor(at) if at else now_text()
            record.setdefault("createdDateTime", stamp)
            record.setdefault("lastModifiedDateTime", stamp)
            if entity in _NESTED_ID_SEQUENCES:
                key, sequence = _NESTED_ID_SEQUENCES[entity]
                for item in record.get(key) or ():
                    if not item.get("id"):
                        item["id"] = self._sequences[sequence]
                    self._sequences[sequence] = max(self._sequences[sequence], item["id"] + 1)
            table.by_id[record_id] = record
            if table.ids and record_id < table.ids[-1]:
                bisect.insort(table.ids, record_id)
            else:
                table.ids.append(record_id)
            self._sequences[entity] = max(self._sequences[entity], record_id + 1)
            self._version += 1
            return clone(record)

    def deactivate(self, entity: str, id: int | str, at: datetime | None = None, *, cascade: bool = False) -> dict:
        """active=false; with cascade a building's units are deactivated too."""
        with self.lock:
            record = self.update(entity, id, at, active=False)
            if cascade and entity == "buildings":
                units = self.table("units")
                for unit_id in [u["id"] for u in units.by_id.values() if u.get("buildingID") == record["id"]]:
                    self.update("units", unit_id, at, active=False)
            return record

    def spawn(self, entity: str, count: int, at: datetime | None = None) -> list[dict]:
        """Adds `count` new records modelled on the newest active one (new ids, created and modified now)."""
        with self.lock:
            table = self.table(entity)
            if not table.ids or count <= 0:
                return []
            newest_first = (table.by_id[i] for i in reversed(table.ids))
            template = next((r for r in newest_first if r.get("active") is not False), table.by_id[table.ids[-1]])
            added = []
            for _ in range(count):
                record = clone(template)
                for key in ("id", "createdDateTime", "lastModifiedDateTime"):
                    record.pop(key, None)
                if entity in _NESTED_ID_SEQUENCES:
                    for item in record.get(_NESTED_ID_SEQUENCES[entity][0]) or ():
                        item.pop("id", None)
                if "name" in record and isinstance(record["name"], str):
                    record["name"] = f"{record['name']} (new {self._sequences[entity]})"
                added.append(self.add(entity, record, at))
            return added

    def delete_front(self, entity: str, count: int) -> list[int]:
        with self.lock:
            doomed = list(self.table(entity).ids[:max(count, 0)])
            for record_id in doomed:
                self.delete(entity, record_id)
            return doomed

    def next_task_id(self) -> int:
        with self.lock:
            self._task_ids += 1
            return self._task_ids - 1

    def before_list_page(self, path: str) -> None:
        """Drift bookkeeping: count pages served, and apply the drift when its page comes."""
        with self.lock:
            fault = self.pending_fault(path, "GET")
            if fault is None or fault.kind != "drift":
                return
            if fault.pages_seen < fault.after_pages:
                fault.pages_seen += 1
                return
            entity = PATH_ENTITIES[path]
            self.consume_fault(fault)
            self.delete_front(entity, fault.delete_front)
            self.spawn(entity, fault.insert)

