"""Reconciliation, the library side: compare the source's full lists with the platform, guard, confirm, commit the snapshot."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace

from sqlalchemy import and_, exists, func, select

from pmsync.runs.locks import renew
from pmsync.reconcile.parts import (
    DEACTIVATED,
    DELETED,
    REACTIVATED,
    MassDeactivationRefused,
    MassGuard,
    ReconciliationPlan,
    SourceListing,
    Target,
    log_row,
    set_active,
)
from pmsync.sync.rule_types import Stream
from pmsync.runs.bookkeeping import add_counts, utc_now
from pmsync.source.protocol import Source, one_record
from schemas.tables import (
    properties,
    property_logs,
    reconciliation_snapshots,
    snapshot_deactivated_properties,
    snapshot_deactivated_units,
    snapshot_reactivated_units,
    units,
)
from pmsync.sync.scope import SyncSession
from schemas.entity_rows import rows_of

log = logging.getLogger("pmsync.reconcile")


def _unit_targets():
    return select(
        units.c.id, units.c.source_id, units.c.name, units.c.property_id,
        properties.c.source_id.label("property_source_id"), properties.c.name.label("property_name"),
    ).join(properties, properties.c.id == units.c.property_id)


def _property_targets():
    return select(
        properties.c.id, properties.c.source_id, properties.c.name, properties.c.id.label("property_id"),
        properties.c.source_id.label("property_source_id"), properties.c.name.label("property_name"),
    )


def _collect(connection, query, entity: str, keep) -> tuple[list[Target], int]:
    """The targets whose source id `keep` accepts, and how many rows the query streamed."""
    found, seen = [], 0
    for row in connection.execute(query.execution_options(yield_per=5000)):
        seen += 1
        if keep(row.source_id):
            found.append(Target(entity, **row._asdict()))
    return found, seen


def compare_with_platform(session: SyncSession, unit_listing: SourceListing, building_listing: SourceListing) -> ReconciliationPlan:
    """Active platform units and properties the source no longer calls active, and deactivated ones it lists again;
    of the kinds the listings are of (their streams' entities: a rental unit listing compares the rental units only)."""
    unit_entity, property_entity = unit_listing.stream.entities[0], building_listing.stream.entities[0]
    mine_units = rows_of(unit_entity).mine(session.integration_id)
    mine_properties = rows_of(property_entity).mine(session.integration_id)
    listed_units, listed_buildings = unit_listing.active_ids, building_listing.active_ids
    deactivated_by_reconciliation = exists().where(snapshot_deactivated_units.c.unit_id == units.c.id)
    live_properties = and_(mine_properties, properties.c.manually_disabled.is_(False))
    with session.engine.connect() as connection:
        gone_units, active_units = _collect(
            connection, _unit_targets().where(mine_units, units.c.active.is_(True)), unit_entity,
            lambda source_id: source_id not in listed_units,
        )
        back_units, _ = _collect(
            connection,
            _unit_targets().where(
                mine_units, units.c.active.is_(False), deactivated_by_reconciliation, properties.c.manually_disabled.is_(False)
            ),
            unit_entity, listed_units.__contains__,
        )
        gone_properties, _ = _collect(
            connection, _property_targets().where(live_properties, properties.c.active.is_(True)), property_entity,
            lambda source_id: source_id not in listed_buildings,
        )
        back_properties, _ = _collect(
            connection, _property_targets().where(live_properties, properties.c.active.is_(False)), property_entity,
            listed_buildings.__contains__,
        )
        active_properties = connection.execute(
            select(func.count()).where(mine_properties, properties.c.active.is_(True))
        ).scalar_one()
    log.info(
        "%s: source lists %d active units and %d active buildings; platform has %d active units and %d active "
        "properties; %d units and %d properties to confirm as gone; %d units and %d properties are back",
        unit_listing.stream.name, len(listed_units), len(listed_buildings), active_units, active_properties,
        len(gone_units), len(gone_properties), len(back_units), len(back_properties),
    )
    return ReconciliationPlan(
        len(listed_units), active_units, active_properties, gone_units, back_units, gone_properties, back_properties,
        source_active_by_entity={unit_entity: len(listed_units)},
    )


def check_mass_deactivation(
    session: SyncSession, plan: ReconciliationPlan, listings: tuple[SourceListing, SourceListing], guard: MassGuard
) -> None:
    """Refuse, before anything is confirmed or written, a run that would deactivate more than the guard allows."""
    unit_listing, building_listing = listings
    for what, gone, active, listing in (
        (plural(unit_listing), len(plan.gone_units), plan.active_units, unit_listing),
        (plural(building_listing), len(plan.gone_properties), plan.active_properties, building_listing),
    ):
        if gone == 0:
            continue
        if listing.listed == 0:
            why = f"the source's {listing.stream.name} listing is empty"
        elif gone > guard.max_share * active:
            why = f"more than the {guard.max_share:.0%} one run may deactivate"
        else:
            continue
        message = (
            f"would deactivate {gone} of {active} active {what} ({gone / active:.0%}) of integration "
            f"{session.integration_name!r}: {why}"
        )
        if guard.allowed:
            log.warning("%s; going ahead because mass deactivation was explicitly allowed", message)
            continue
        raise MassDeactivationRefused(
            f"{message}; nothing was deactivated. If the source really lost them, run again with "
            "--allow-mass-deactivation (flow parameter allow_mass_deactivation=true)",
            facts={"kind": what, "would_deactivate": gone, "active": active},
        )


def plural(listing: SourceListing) -> str:
    """How messages name the records of a listing's entity: "units", "properties", "association units", …"""
    entity = listing.stream.entities[0]
    return {"unit": "units", "property": "properties"}.get(entity, f"{entity.replace('_', ' ')}s")


def confirm_gone(source: Source, stream: Stream, batch: list[Target]) -> list[Target]:
    """Read each record of the batch by id: 404 means deleted, active false deactivated; still-active ones are left
    alone. `stream` is the source's presence listing of the targets' entity."""
    confirmed = []
    for target in batch:
        page = source.get(stream, target.source_id)
        record = one_record(page) if page is not None else None
        if record is None or record.active is False:
            evidence = DELETED if record is None else DEACTIVATED
            confirmed.append(replace(target, evidence=evidence, request=source.request_for(stream, target.source_id)))
    if len(confirmed) < len(batch):
        kept = {t.id for t in confirmed}
        left = sorted(t.source_id for t in batch if t.id not in kept)
        log.warning(
            "%d record(s) missing from the %s listing are active when fetched one by one, left alone: %s",
            len(left), stream.name, ", ".join(map(str, left[:20])),
        )
    return confirmed


def commit_reconciliation(session: SyncSession, plan: ReconciliationPlan) -> int:
    """Deactivate, reactivate, log on each property and store the snapshot (with the units it deactivated and
    reactivated and the properties it deactivated), all in one transaction; the snapshot id."""
    now, run = utc_now(), session.run_id
    with session.engine.begin() as connection:
        renew(connection, session.integration_name, session.lock_holder, session.lock_lease)
        snapshot_id = connection.execute(
            reconciliation_snapshots.insert().values(
                integration_id=session.integration_id, run_id=run, taken_at=now,
                source_unit_count=plan.source_active_units, platform_active_unit_count=plan.active_units,
                reactivated_unit_count=len(plan.back_units), deactivated_property_count=len(plan.gone_properties),
                mass_deactivation_allowed=plan.mass_deactivation_allowed,
            )
        ).inserted_primary_key[0]
        set_active(connection, units, plan.gone_units, False, now, run)
        set_active(connection, properties, plan.gone_properties, False, now, run)
        set_active(connection, units, plan.back_units, True, now, run)
        set_active(connection, properties, plan.back_properties, True, now, run)
        if plan.gone_units:
            connection.execute(snapshot_deactivated_units.insert(), [
                {"snapshot_id": snapshot_id, "unit_id": t.id, "property_id": t.property_id, "deactivated_at": now,
                 "reason": t.reason(), "source_evidence": t.evidence}
                for t in plan.gone_units
            ])
        if plan.back_units:
            connection.execute(snapshot_reactivated_units.insert(), [
                {"snapshot_id": snapshot_id, "unit_id": t.id, "property_id": t.property_id, "reactivated_at": now,
                 "reason": REACTIVATED}
                for t in plan.back_units
            ])
        if plan.gone_properties:
            connection.execute(snapshot_deactivated_properties.insert(), [
                {"snapshot_id": snapshot_id, "property_id": t.id, "deactivated_at": now, "reason": t.reason(),
                 "source_evidence": t.evidence}
                for t in plan.gone_properties
            ])
        by = f"by reconciliation run {run}"
        logs = [
            *(log_row(t, "unit_deactivated", f"unit {t.source_id} {t.name!r} deactivated {by}: {t.reason()}", run, now)
              for t in plan.gone_units),
            *(log_row(t, "property_deactivated", f"property deactivated {by}: {t.reason()}", run, now)
              for t in plan.gone_properties),
            *(log_row(t, "unit_reactivated", f"unit {t.source_id} {t.name!r} reactivated {by}: {REACTIVATED}", run, now)
              for t in plan.back_units),
            *(log_row(t, "property_reactivated", f"property reactivated {by}: {REACTIVATED}", run, now)
              for t in plan.back_properties),
        ]
        if logs:
            connection.execute(property_logs.insert(), logs)
        add_counts(connection, run, plan.counts())
    log.info(
        "snapshot %s: deactivated %d units and %d properties, reactivated %d units and %d properties",
        snapshot_id, len(plan.gone_units), len(plan.gone_properties), len(plan.back_units), len(plan.back_properties),
    )
    return snapshot_id


