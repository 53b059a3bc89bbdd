"""Sync state stored with the data: each stream's high-water mark, read, advanced and reset."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.engine import Connection

from pmsync.runs.parameters import check_overlap
from pmsync.platform.database import upsert
from schemas.tables import sync_runs, sync_state

OVERLAP = timedelta(hours=72)


def mark_stream_complete(connection: Connection, integration_id: int, stream: str, upper: datetime, run_id: int) -> None:
    """Advance the stream's mark to the run's frozen upper bound (call inside the last page's transaction)."""
    row = {"integration_id": integration_id, "stream": stream, "high_water_mark": upper, "run_id": run_id, "updated_at": upper}
    upsert(connection, sync_state, [row], ["integration_id", "stream"], ["high_water_mark", "run_id", "updated_at"])


def high_water_marks(connection: Connection, integration_id: int) -> dict[str, datetime]:
    rows = connection.execute(
        select(sync_state.c.stream, sync_state.c.high_water_mark).where(sync_state.c.integration_id == integration_id)
    )
    return {row.stream: row.high_water_mark for row in rows}


def window_start(now: datetime, high_water_mark: datetime | None, overlap: timedelta = OVERLAP) -> datetime | None:
    """min(now − overlap, mark − overlap): never after the mark nor after now; None (read everything) when the stream
    never completed. An overlap outside 0 to OVERLAP_HOURS_MAX hours raises ParameterRejected: it would open the
    window after the mark, and the run would still advance the mark past changes it never read."""
    check_overlap(overlap)
    if high_water_mark is None:
        return None
    return min(now - overlap, high_water_mark - overlap)


def state_rows(engine: Engine, integration_id: int) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(sync_state, sync_runs.c.flow, sync_runs.c.finished_at)
            .join(sync_runs, sync_runs.c.id == sync_state.c.run_id)
            .where(sync_state.c.integration_id == integration_id)
            .order_by(sync_state.c.stream)
        )
        return [row._asdict() for row in rows]


def reset_stream(engine: Engine, integration_id: int, stream: str) -> int:
    """Forget one stream's mark so the next run re-reads it fully; returns rows removed."""
    with engine.begin() as connection:
        return connection.execute(
            delete(sync_state).where(sync_state.c.integration_id == integration_id, sync_state.c.stream == stream)
        ).rowcount
