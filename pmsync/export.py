"""Export: reconciliation snapshots and their deactivated units, as the analysts' CSV (formula-like cells neutralised).

Neutralising rule: a cell that, after any leading `'`, starts with a tab or a carriage return, or with `=`, `+`, `-`, `@`
or their full-width forms `＝ ＋ － ＠` (after any whitespace), gets one more leading `'`, so a spreadsheet shows it as
text; removing one leading `'` from such a cell restores the value.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection

from schemas.tables import integrations, properties, reconciliation_snapshots, snapshot_deactivated_units, units

COLUMNS = ("integration", "property_id", "property_name", "unit_id", "unit_name", "deactivated_at", "reason", "snapshot_id")
FORMULA_STARTS = ("\t", "\r")
FORMULA_SIGNS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")


class UnknownSnapshot(LookupError):
    """No such reconciliation snapshot; the message says where to look."""


def formula_like(text: str) -> bool:
    """Whether a spreadsheet could read the cell (its leading `'` set aside) as a formula."""
    unquoted = text.lstrip("'")
    return unquoted.startswith(FORMULA_STARTS) or unquoted.lstrip().startswith(FORMULA_SIGNS)


def neutralise(value: Any) -> str:
    """The cell as text a spreadsheet will not evaluate (see the module's rule)."""
    text = "" if value is None else str(value)
    return "'" + text if formula_like(text) else text


def restore(cell: str) -> str:
    """The exported value back from a neutralised cell (the inverse of `neutralise`)."""
    return cell[1:] if cell.startswith("'") and formula_like(cell) else cell


def recent_snapshots(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    """The newest snapshots first, with their integration and how many units each deactivated."""
    snap = reconciliation_snapshots
    deactivated = (
        select(func.count())
        .where(snapshot_deactivated_units.c.snapshot_id == snap.c.id)
        .scalar_subquery()
        .label("deactivated_units")
    )
    query = (
        select(snap, integrations.c.name.label("integration"), deactivated)
        .join(integrations, integrations.c.id == snap.c.integration_id)
        .order_by(snap.c.taken_at.desc(), snap.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        return [row._asdict() for row in connection.execute(query)]


def _snapshot(connection: Connection, snapshot_id: int | None, integration: str | None) -> dict[str, Any]:
    snap = reconciliation_snapshots
    query = select(snap, integrations.c.name.label("integration")).join(integrations, integrations.c.id == snap.c.integration_id)
    if snapshot_id is not None:
        query = query.where(snap.c.id == snapshot_id)
    if integration is not None:
        query = query.where(integrations.c.name == integration)
    row = connection.execute(query.order_by(snap.c.taken_at.desc(), snap.c.id.desc()).limit(1)).first()
    if row is None:
        scope = f" of integration {integration!r}" if integration else ""
        if snapshot_id is not None:
            raise UnknownSnapshot(f"there is no reconciliation snapshot {snapshot_id}{scope}; `pmsync report snapshots` lists them")
        raise UnknownSnapshot(f"no reconciliation snapshot{scope} yet; run `pmsync reconcile` first")
    return row._asdict()


def snapshot_units(
    engine: Engine, snapshot_id: int | None = None, integration: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A snapshot (the newest when no id is given) and its deactivated units as CSV rows, by property then unit."""
    sdu = snapshot_deactivated_units
    with engine.connect() as connection:
        snapshot = _snapshot(connection, snapshot_id, integration)
        rows = connection.execute(
            select(
                properties.c.source_id.label("property_id"), properties.c.name.label("property_name"),
                units.c.source_id.label("unit_id"), units.c.name.label("unit_name"), sdu.c.deactivated_at, sdu.c.reason,
            )
            .join(units, units.c.id == sdu.c.unit_id)
            .join(properties, properties.c.id == sdu.c.property_id)
            .where(sdu.c.snapshot_id == snapshot["id"])
            .order_by(properties.c.source_id, units.c.source_id)
        )
        found = [
            {"integration": snapshot["integration"], **row._asdict(), "snapshot_id": snapshot["id"]}
            for row in rows
        ]
    for row in found:
        row["deactivated_at"] = format_moment(row["deactivated_at"])
    return snapshot, found


def format_moment(moment: datetime) -> str:
    """ISO 8601 in UTC with its offset, microseconds kept (so a reader gets the stored value back)."""
    return moment.astimezone(timezone.utc).isoformat()


def write_csv(rows: list[dict[str, Any]], out: TextIO) -> None:
    """The analysts' CSV: a header row, then one neutralised row per deactivated unit."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([neutralise(row[column]) for column in COLUMNS])


def csv_text(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO(newline="")
    write_csv(rows, buffer)
    return buffer.getvalue()


def export_deactivated_units(
    engine: Engine, out: Path, snapshot_id: int | None = None, integration: str | None = None
) -> tuple[dict[str, Any], int]:
    """Write a snapshot's deactivated units (the newest snapshot unless one is chosen) to `out` as UTF-8 CSV."""
    snapshot, rows = snapshot_units(engine, snapshot_id, integration)
    with out.open("w", encoding="utf-8", newline="") as file:
        write_csv(rows, file)
    return snapshot, len(rows)
