"""Run bookkeeping: the integration row, sync_runs and their per-entity counts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.engine import Connection

from pmsync.integrations.identity import refuse_other_identity, registered_row, run_remedy
from pmsync.platform.database import upsert
from schemas.tables import integrations, sync_run_entities, sync_runs, unapplied_records

if TYPE_CHECKING:
    from pmsync.integrations.integration import Integration

COUNTS = ("fetched", "created", "updated", "unchanged", "excluded", "parked", "quarantined")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def ensure_integration(connection: Connection, integration: Integration) -> int:
    """The platform id of the integration: its first run registers it, later runs refresh it (never its credentials).

    A run whose configuration names another source account, or another place (a block named like the environment's
    integration), than the one registered is refused (IntegrationNeedsRepoint) before anything is written; the base
    URL's path, the rule table of the same vendor and the integration user may change. A row registered before its
    origin was recorded adopts this run's, when the account matches."""
    now = utc_now()
    row = {
        "name": integration.name,
        "source_system": integration.source_system,
        "base_url": integration.base_url,
        "system_id": integration.account,
        "integration_user": integration.integration_user,
        "configured_in": integration.configured_in,
        "created_at": now,
        "updated_at": now,
    }
    upsert(connection, integrations, [row], ["name"], [])
    registered = registered_row(connection, integration.name, lock=True)
    refuse_other_identity(registered, integration, run_remedy(integration.name, integration.configured_in))
    refreshed = {name: row[name] for name in ("source_system", "base_url", "integration_user", "configured_in", "updated_at")}
    connection.execute(update(integrations).where(integrations.c.id == registered.id).values(refreshed))
    return registered.id


def start_run(
    engine: Engine, integration_id: int, flow: str, entities: list[str], window: tuple[datetime | None, datetime | None],
    flow_run_id: str | None = None,
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
                prefect_flow_run_id=flow_run_id,
            )
        ).inserted_primary_key[0]
        connection.execute(
            sync_run_entities.insert(), [{"run_id": run_id, "entity": e, **dict.fromkeys(COUNTS, 0)} for e in entities]
        )
    return run_id


def record_window_start(connection: Connection, run_id: int, start: datetime | None) -> None:
    connection.execute(update(sync_runs).where(sync_runs.c.id == run_id).values(window_start=start))


def run_window_start(connection: Connection, run_id: int) -> datetime | None:
    return connection.execute(select(sync_runs.c.window_start).where(sync_runs.c.id == run_id)).scalar_one()


def stale_parked(connection: Connection, integration_id: int, older_than: datetime) -> int:
    """Parked records first seen before `older_than`: parents that may never come."""
    table = unapplied_records
    return connection.execute(
        select(func.count()).where(
            table.c.integration_id == integration_id, table.c.status == "parked", table.c.first_seen_at < older_than
        )
    ).scalar_one()


def stale_parked_by_entity(engine: Engine, older_than: datetime, integration: str | None = None) -> list[dict[str, Any]]:
    """Per integration (the one named, or all) and entity: parked records first seen before `older_than`, and the
    oldest one's time."""
    table = unapplied_records
    query = (
        select(
            integrations.c.name.label("integration"),
            table.c.entity,
            func.count().label("records"),
            func.min(table.c.first_seen_at).label("oldest"),
        )
        .join(integrations, integrations.c.id == table.c.integration_id)
        .where(table.c.status == "parked", table.c.first_seen_at < older_than)
        .group_by(integrations.c.name, table.c.entity)
        .order_by(integrations.c.name, table.c.entity)
    )
    if integration is not None:
        query = query.where(integrations.c.name == integration)
    with engine.connect() as connection:
        return [row._asdict() for row in connection.execute(query)]


def add_counts(connection: Connection, run_id: int, counts: dict[str, Counter]) -> None:
    """Add a page's counts to its run, in the page's own transaction."""
    table = sync_run_entities
    for entity, numbers in counts.items():
        connection.execute(
            update(table)
            .where(table.c.run_id == run_id, table.c.entity == entity)
            .values({name: table.c[name] + numbers.get(name, 0) for name in COUNTS})
        )


def scrub_credentials(text: str | None, integration: Integration) -> str | None:
    """A run's error text without the integration's secrets, as its source package names them (pmsync.source.scrub,
    the scrubber the client already applies to every error it builds from a source answer): a second line of defence."""
    if not text:
        return text
    from pmsync.source.scrub import CredentialScrubber

    return CredentialScrubber(integration.secrets()).text(text)


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


LOCKED_FLOWS = ("initial", "delta", "lease", "reconcile")
"""The runs that hold the integration's lock (balance and CSV-import runs write a few rows and take none)."""


def abandon_dead_runs(connection: Connection, integration_id: int, holder: str) -> int:
    """Locked runs still marked running when a new run holds the integration's lock died (killed, crashed): say so."""
    return connection.execute(
        update(sync_runs)
        .where(
            sync_runs.c.integration_id == integration_id,
            sync_runs.c.status == "running",
            sync_runs.c.flow.in_(LOCKED_FLOWS),
        )
        .values(
            status="abandoned",
            finished_at=utc_now(),
            error=f"the run stopped without finishing (process killed or crashed); {holder} took over the integration",
        )
    ).rowcount


def run_counts(connection: Connection, run_id: int) -> dict[str, dict[str, int]]:
    rows = connection.execute(select(sync_run_entities).where(sync_run_entities.c.run_id == run_id))
    return {row.entity: {name: getattr(row, name) for name in COUNTS} for row in rows}


def unapplied_reasons(engine: Engine, run_id: int) -> list[dict[str, Any]]:
    """How many records the run left unapplied, per entity, status and reason."""
    with engine.connect() as connection:
        return runs_unapplied_reasons(connection, [run_id]).get(run_id, [])


def runs_unapplied_reasons(connection: Connection, run_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Per run of `run_ids`: how many records it left unapplied, per entity, status and reason (one query)."""
    table = unapplied_records
    rows = connection.execute(
        select(table.c.run_id, table.c.entity, table.c.status, table.c.reason, func.count().label("records"))
        .where(table.c.run_id.in_(run_ids))
        .group_by(table.c.run_id, table.c.entity, table.c.status, table.c.reason)
        .order_by(table.c.run_id, table.c.entity, table.c.status, table.c.reason)
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row.run_id, []).append(
            {"entity": row.entity, "status": row.status, "reason": row.reason, "records": row.records}
        )
    return found


def runs_counts(connection: Connection, run_ids: list[int]) -> dict[int, dict[str, dict[str, int]]]:
    """Per run of `run_ids`: its counts per entity (one query)."""
    table = sync_run_entities
    rows = connection.execute(
        select(table).where(table.c.run_id.in_(run_ids)).order_by(table.c.run_id, table.c.entity)
    )
    found: dict[int, dict[str, dict[str, int]]] = {}
    for row in rows:
        found.setdefault(row.run_id, {})[row.entity] = {name: getattr(row, name) for name in COUNTS}
    return found


def recent_runs(engine: Engine, limit: int = 10, integration: str | None = None) -> list[dict[str, Any]]:
    """Newest runs first (of the integration named, or all), each with its per-entity counts and its unapplied records'
    reasons (three queries)."""
    query = (
        select(sync_runs, integrations.c.name.label("integration"))
        .join(integrations, integrations.c.id == sync_runs.c.integration_id)
        .order_by(sync_runs.c.id.desc())
        .limit(limit)
    )
    if integration is not None:
        query = query.where(integrations.c.name == integration)
    with engine.connect() as connection:
        runs = connection.execute(query).all()
        run_ids = [run.id for run in runs]
        counts = runs_counts(connection, run_ids)
        reasons = runs_unapplied_reasons(connection, run_ids)
    return [
        {**run._asdict(), "counts": counts.get(run.id, {}), "reasons": reasons.get(run.id, [])} for run in runs
    ]
