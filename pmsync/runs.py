"""Run bookkeeping: the integration row, sync_runs and their per-entity counts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from pmsync.integrations import Integration
from pmsync.platform import upsert
from schemas.tables import integrations, sync_run_entities, sync_runs

COUNTS = ("fetched", "created", "updated", "unchanged", "excluded", "parked")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def ensure_integration(connection: Connection, integration: Integration) -> int:
    """The platform id of the integration, registering or refreshing it (never its credentials)."""
    now = utc_now()
    row = {
        "name": integration.name,
        "source_system": integration.source_system,
        "base_url": integration.base_url,
        "system_id": integration.system_id,
        "integration_user": integration.integration_user,
        "created_at": now,
        "updated_at": now,
    }
    upsert(connection, integrations, [row], ["name"], ["base_url", "system_id", "integration_user", "updated_at"])
    return connection.execute(select(integrations.c.id).where(integrations.c.name == integration.name)).scalar_one()


def start_run(
    engine: Engine, integration_id: int, flow: str, entities: list[str], window: tuple[datetime | None, datetime | None]
) -> int:
    with engine.begin() as connection:
        run_id = connection.execute(
            sync_runs.insert().values(
                integration_id=integration_id,
                flow=flow,
                status="running",
                started_at=utc_now(),
                window_start=window[0],
                window_end=window[1],
                source_requests=0,
            )
        ).inserted_primary_key[0]
        connection.execute(
            sync_run_entities.insert(), [{"run_id": run_id, "entity": e, **dict.fromkeys(COUNTS, 0)} for e in entities]
        )
    return run_id


def add_counts(connection: Connection, run_id: int, counts: dict[str, Counter]) -> None:
    """Add a page's counts to its run, in the page's own transaction."""
    table = sync_run_entities
    for entity, numbers in counts.items():
        connection.execute(
            update(table)
            .where(table.c.run_id == run_id, table.c.entity == entity)
            .values({name: table.c[name] + numbers.get(name, 0) for name in COUNTS})
        )


def finish_run(engine: Engine, run_id: int, *, error: str | None, source_requests: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(sync_runs)
            .where(sync_runs.c.id == run_id)
            .values(
                status="failed" if error else "succeeded",
                finished_at=utc_now(),
                error=error,
                source_requests=source_requests,
            )
        )


def run_counts(connection: Connection, run_id: int) -> dict[str, dict[str, int]]:
    rows = connection.execute(select(sync_run_entities).where(sync_run_entities.c.run_id == run_id))
    return {row.entity: {name: getattr(row, name) for name in COUNTS} for row in rows}


def recent_runs(engine: Engine, limit: int = 10) -> list[dict[str, Any]]:
    """Newest runs first, each with its per-entity counts."""
    with engine.connect() as connection:
        runs = connection.execute(
            select(sync_runs, integrations.c.name.label("integration"))
            .join(integrations, integrations.c.id == sync_runs.c.integration_id)
            .order_by(sync_runs.c.id.desc())
            .limit(limit)
        ).all()
        return [{**run._asdict(), "counts": run_counts(connection, run.id)} for run in runs]
