"""Quarantine bookkeeping: record what the quality gate kept out or warned about, release it when it passes, list it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from pmsync.platform.database import among, upsert
from schemas.source_values import key_of
from schemas.tables import integrations, quarantine

HELD = ("open", "warning")
"""Quarantine statuses of records the gate flagged at their last check: "open" (kept out) or "warning" (loaded)."""


def quarantine_records(connection: Connection, integration_id: int, run_id: int, now: datetime, failures: Iterable[Any]) -> None:
    """Open (or refresh) a quarantine row per failed record, in the page's transaction (copies merged): status "open"
    for a record kept out, "warning" for one that loaded despite a warning-severity expectation."""
    merged: dict[tuple[str, str], Any] = {}
    for failure in failures:
        key = (failure.entity, failure.source_id)
        seen = merged.get(key)
        labels = sorted(set(failure.expectations) | set(seen.expectations if seen else []))
        severity = "error" if "error" in (failure.severity, seen.severity if seen else None) else failure.severity
        merged[key] = replace(failure, expectations=labels, severity=severity)
    rows = [
        {
            "integration_id": integration_id,
            "entity": failure.entity,
            "source_id": failure.source_id,
            "status": "open" if failure.severity == "error" else "warning",
            "expectations": failure.expectations,
            "record": failure.record,
            "run_id": run_id,
            "first_seen_at": now,
            "last_seen_at": now,
            "released_at": None,
            "released_by_run_id": None,
        }
        for failure in merged.values()
    ]
    changing = ["status", "expectations", "record", "run_id", "last_seen_at", "released_at", "released_by_run_id"]
    upsert(connection, quarantine, rows, ["integration_id", "entity", "source_id"], changing)


def release_passing(connection: Connection, integration_id: int, run_id: int, now: datetime, entity: str, source_ids: list[str]) -> None:
    """Records that now pass every expectation leave quarantine or lose their warning (kept as released, for history)."""
    if not source_ids:
        return
    connection.execute(
        update(quarantine)
        .where(
            quarantine.c.integration_id == integration_id,
            quarantine.c.entity == entity,
            among(connection, quarantine.c.source_id, source_ids),
            quarantine.c.status.in_(HELD),
        )
        .values(status="released", released_at=now, released_by_run_id=run_id)
    )


def open_items(engine: Engine, limit: int = 20, integration_name: str | None = None) -> tuple[list[dict], list[dict]]:
    """Counts per integration (the one named, or all), entity, status (open = kept out, warning = loaded) and
    expectation, and the most recent items of both (only those read whole, with their records)."""
    integration = integrations.c.name.label("integration")
    shown = quarantine.c.status.in_(HELD)
    if integration_name is not None:
        shown = shown & (integrations.c.name == integration_name)
    held = (
        select(quarantine.c.entity, quarantine.c.status, quarantine.c.expectations, integration)
        .join(integrations, integrations.c.id == quarantine.c.integration_id)
        .where(shown)
    )
    newest = (
        select(quarantine, integration)
        .join(integrations, integrations.c.id == quarantine.c.integration_id)
        .where(shown)
        # a page's records share one moment: ties listed in key order, the same on both databases
        .order_by(quarantine.c.last_seen_at.desc(), quarantine.c.integration_id, quarantine.c.entity,
                  quarantine.c.source_id)
        .limit(limit)
    )
    with engine.connect() as connection:
        counts: dict[tuple, int] = {}
        for item in connection.execute(held):
            for expectation in item.expectations:
                key = (item.integration, item.entity, item.status, expectation)
                counts[key] = counts.get(key, 0) + 1
        items = [dict(item) for item in connection.execute(newest).mappings()]
    summary = [
        {"integration": i, "entity": e, "status": s, "expectation": x, "records": n}
        for (i, e, s, x), n in sorted(counts.items())
    ]
    return summary, items


def run_quality(connection: Connection, run_id: int, status: str = "open") -> dict[str, Counter]:
    """Failing expectations per entity of the records a run quarantined (status "open") or warned about ("warning")."""
    rows = connection.execute(
        select(quarantine.c.entity, quarantine.c.expectations).where(quarantine.c.run_id == run_id, quarantine.c.status == status)
    )
    found: dict[str, Counter] = {}
    for row in rows:
        found.setdefault(row.entity, Counter()).update(row.expectations)
    return found


def run_warned(connection: Connection, run_id: int) -> Counter:
    """How many records of each entity a run loaded with a warning."""
    rows = connection.execute(select(quarantine.c.entity).where(quarantine.c.run_id == run_id, quarantine.c.status == "warning"))
    return Counter(row.entity for row in rows)


def record_quarantine(connection: Connection, integration_id: int, entity: str, source_id: int | str) -> Any:
    """The quarantine row of a record, by its id (or its id as sent, for a record whose id no platform row can have:
    schemas.source_values.key_of)."""
    return connection.execute(
        select(quarantine).where(
            quarantine.c.integration_id == integration_id,
            quarantine.c.entity == entity,
            quarantine.c.source_id == key_of(str(source_id)),
        )
    ).one_or_none()
