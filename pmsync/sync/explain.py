"""Explain one record: is it on the platform, what did the last run do with it, and why (live source compared)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, select

from pmsync.integrations.identity import differences, identity_of, registered_identity, registered_row
from pmsync.integrations.integration import Integration
from pmsync.journal.read import change_line, record_history
from pmsync.sync.quality import record_quarantine
from pmsync.source import SourceDataError
from pmsync.source.protocol import Source, one_record
from schemas.source_values import is_source_id
from schemas.entity_rows import addressed, rows_of
from schemas.tables import integrations, leases, sync_runs, sync_state, unapplied_records

HIDDEN_COLUMNS = {"source_data", "source_modified_at", "source_id"}
RECENT_CHANGES = 5
"""How many of a record's newest journal rows `explain` shows."""


def explain(engine: Engine, integration: Integration, entity: str, source_id: int | str,
            source: Source | None) -> list[str]:
    """Plain-language lines answering "why isn't this record on the platform / why didn't it change".

    `source_id` as the source sent it: an id no platform row can have (beyond int64, not a number) can only be in
    quarantine, refused by its record model; it is looked up there alone."""
    number = as_source_id(source_id)
    if number is None:
        return _explain_refused(engine, integration, entity, str(source_id))
    source_id = number
    rules = integration.rules
    if entity not in rules.rules:
        return [f"unknown entity {entity!r}; use one of: {', '.join(rules.entities())}"]
    rows = rows_of(entity)
    table = rows.table
    with engine.connect() as connection:
        registered = registered_row(connection, integration.name)
        if registered is None:
            return [f"no sync has run for integration {integration.name!r} yet"]
        integration_id = registered.id
        row = connection.execute(
            select(table).where(rows.mine(integration_id), table.c.source_id == source_id)
        ).one_or_none()
        held = connection.execute(
            select(unapplied_records, sync_runs.c.flow)
            .join(sync_runs, sync_runs.c.id == unapplied_records.c.run_id)
            .where(
                unapplied_records.c.integration_id == integration_id,
                unapplied_records.c.entity == entity,
                unapplied_records.c.source_id == source_id,
            )
        ).one_or_none()
        stream = rules.stream_of(entity)
        mark = connection.execute(
            select(sync_state.c.high_water_mark, sync_state.c.run_id).where(
                sync_state.c.integration_id == integration_id, sync_state.c.stream == stream.name
            )
        ).one_or_none()
        quarantined = record_quarantine(connection, integration_id, entity, source_id)
        lease_source_id = _lease_of_resident(connection, row, held, stream) if entity == "resident" else None
        writer = connection.execute(select(sync_runs).where(sync_runs.c.id == row.last_sync_run_id)).one_or_none() if row else None
        history = record_history(connection, integration_id, entity, source_id, RECENT_CHANGES)
    lines = []
    bound_elsewhere = differences(registered_identity(registered), identity_of(integration))
    if bound_elsewhere:
        lines.append(f"integration {integration.name!r} is bound on the platform to {registered_identity(registered)}, "
                     f"not to {identity_of(integration)} that this configuration names: its runs are refused and the "
                     f"source is not compared until `pmsync integration repoint {integration.name} --to "
                     f"{integration.configured_in}`")
    if registered.removed_at is not None:
        lines.append(f"integration {integration.name!r} was removed from the platform at "
                     f"{registered.removed_at:%Y-%m-%d %H:%M} UTC: its rows are kept, inactive, and it is not synced")
    if row is not None:
        state = "active" if row.active else f"inactive ({getattr(row, 'deactivation_reason', None) or 'deactivated'})"
        lines.append(f"{entity} {source_id} is on the platform ({state}), created {row.created_at:%Y-%m-%d %H:%M} UTC")
        if writer is not None:
            lines.append(f"last written by run {writer.id} ({writer.flow} sync, {writer.started_at:%Y-%m-%d %H:%M} UTC)")
    for change in history:
        lines.append(f"changed by run {change['run_id']} ({change['flow']}, {change['changed_at']:%Y-%m-%d %H:%M} UTC): "
                     + change_line({**change, "entity": entity, "source_id": source_id}, fields=10))
    if held is not None:
        lines.append(
            f"{entity} {source_id} was {held.status} by run {held.run_id} ({held.flow} sync, "
            f"{held.last_seen_at:%Y-%m-%d %H:%M} UTC; first seen {held.first_seen_at:%Y-%m-%d %H:%M} UTC): "
            f"{held.reason} — {held.detail}"
        )
    if quarantined is not None:
        since = f"{quarantined.first_seen_at:%Y-%m-%d %H:%M} UTC"
        if quarantined.status == "open":
            lines.append(
                f"{entity} {source_id} is quarantined since {since} (last checked by run {quarantined.run_id}): "
                f"failed {'; '.join(quarantined.expectations)} — fix it in the source; the next run that sees it releases it"
            )
        elif quarantined.status == "warning":
            lines.append(
                f"{entity} {source_id} loaded with a warning since {since} (last checked by run {quarantined.run_id}): "
                f"{'; '.join(quarantined.expectations)} — the record is on the platform; the warning clears when it passes"
            )
        else:
            lines.append(f"{entity} {source_id} was quarantined ({'; '.join(quarantined.expectations)}) and released by run {quarantined.released_by_run_id}")
    if row is None and held is None and quarantined is None:
        lines.append(f"no run has seen {entity} {source_id} for integration {integration.name!r}")
    if mark is not None:
        lines.append(f"the {stream.name} stream was last read completely up to {mark.high_water_mark:%Y-%m-%d %H:%M} UTC (run {mark.run_id})")
    if source is not None and not bound_elsewhere:
        lines.extend(_compare_with_source(source, integration, entity, source_id, row, lease_source_id))
    return lines


def as_source_id(text: int | str) -> int | None:
    """The id a platform row would have for `text` (an int64 written as digits), else None."""
    if isinstance(text, int):
        return text if is_source_id(text) else None
    number = int(text) if re.fullmatch(r"-?[0-9]+", text.strip()) else None
    return number if is_source_id(number) else None


def _explain_refused(engine: Engine, integration: Integration, entity: str, sent: str) -> list[str]:
    """A record whose id no platform row can have: only its quarantine row can say anything."""
    with engine.connect() as connection:
        integration_id = connection.execute(
            select(integrations.c.id).where(integrations.c.name == integration.name)
        ).scalar_one_or_none()
        quarantined = record_quarantine(connection, integration_id, entity, sent) if integration_id is not None else None
    if quarantined is None or quarantined.status != "open":
        return [f"{entity} {sent} is not an id a platform row can have (an int64), and no run quarantined a record sent "
                f"with that id for integration {integration.name!r}"]
    return [f"{entity} {sent} is quarantined since {quarantined.first_seen_at:%Y-%m-%d %H:%M} UTC (last checked by run "
            f"{quarantined.run_id}): failed {'; '.join(quarantined.expectations)} — fix it in the source"]


def _lease_of_resident(connection, row, held, stream) -> int | None:
    """The source id of the lease a resident comes from: its platform row's lease, else the id of the record (of
    `stream`, the resident's) a held resident was parked with."""
    if row is not None and row.lease_id is not None:
        return connection.execute(select(leases.c.source_id).where(leases.c.id == row.lease_id)).scalar_one_or_none()
    if held is not None and held.payload:
        return stream.record.raw_id(held.payload)
    return None


def _compare_with_source(
    source: Source, integration: Integration, entity: str, source_id: int, row: Any, lease_source_id: int | None
) -> list[str]:
    rules = integration.rules
    stream = rules.stream_of(entity)
    record_id = lease_source_id if entity == "resident" else source_id
    if record_id is None:
        return ["the source record cannot be looked up (its lease is unknown)"]
    if not stream.readable_by_id:
        return [f"the source has no endpoint to read one {stream.name} record; `pmsync balance LEASE_ID` re-reads a lease's"]
    try:
        page = source.get(stream, record_id)
        if page is None:
            return [f"the source has no {stream.name} record {record_id} (404)"]
        record = one_record(page)
    except SourceDataError as refused:
        return [f"source now: its record is refused by the {stream.record.__name__} model ({refused})"]
    raw = record.model_dump(mode="json", exclude_none=True)
    found = [c for c in addressed(record.candidates(raw)) if c.entity == entity and c.source_id == source_id]
    if not found:
        return [f"the source's {stream.name} record {record_id} no longer lists {entity} {source_id}"]
    candidate = found[0]
    exclusion = rules.rules[entity].include.exclusion(candidate, integration.integration_user)
    lines = [f"source now: {'excluded — ' + exclusion.detail if exclusion else 'included by the ' + entity + ' rule'}"]
    if row is None:
        return lines
    rule = rules.rules[entity]
    for column, value in candidate.columns.items():
        if column in HIDDEN_COLUMNS or not hasattr(row, column) or getattr(row, column) == value:
            continue
        verdict = "applied by the next run that sees it" if rule.updatable(column) else "not updatable by policy"
        lines.append(f"{column}: platform {getattr(row, column)!r}, source {value!r} — {verdict}")
    if len(lines) == 1:
        lines.append("the platform matches the source in every field the rule maps")
    return lines
