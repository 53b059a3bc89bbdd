"""Export: reconciliation snapshots and what each changed, as the analysts' CSV (Excel-ready, formula-like cells neutralised).

The report lists, per snapshot, the units it deactivated, the units it reactivated and the properties it deactivated,
each with its property; the CSV holds all three in one table with a "Change" column, by change, property, unit. One
column table (REPORT_COLUMNS) gives the CSV and the workbook their headers, in analysts' words, and their order; each
row's reason is in business words, the source's answer that proves it in its own "Evidence" column.

CSV for Excel: UTF-8 with a byte-order mark (so Excel reads it as UTF-8), moments as `YYYY-MM-DD HH:MM:SS` in UTC in
columns headed "… (UTC)" (Excel reads them as date-times).

Neutralising rule: a cell that, after any leading `'`, starts with a tab or a carriage return, or with `=`, `+`, `-`, `@`
or their full-width forms `＝ ＋ － ＠` (after any whitespace), gets one more leading `'`, so a spreadsheet shows it as
text; removing one leading `'` from such a cell restores the value. Before that, every cell pmsync writes to a CSV or a
workbook loses its bidirectional embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069), which would
make it read as other text (a name shown backwards, `gpj.exe` as `exe.jpg`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import islice
from typing import Any

from sqlalchemy import Engine, func, null, select, union
from sqlalchemy.engine import Connection

from pmsync.reconcile.reasons import DEACTIVATED, DELETED, REACTIVATED
from schemas.entity_rows import rows_of
from schemas.tables import (
    integrations,
    properties,
    reconciliation_snapshots,
    snapshot_deactivated_properties,
    snapshot_deactivated_units,
    snapshot_reactivated_units,
    units,
)

UNIT_DEACTIVATED, UNIT_REACTIVATED, PROPERTY_DEACTIVATED = "unit deactivated", "unit reactivated", "property deactivated"
CHANGES = (UNIT_DEACTIVATED, UNIT_REACTIVATED, PROPERTY_DEACTIVATED)
"""The kinds of change a snapshot lists, in the report's order (the CSV's "Change" column holds them)."""
MOMENT = "changed_at"
"""The row key of the moment of a change; its header names the change: "Deactivated at (UTC)", …"""


@dataclass(frozen=True)
class ReportColumn:
    """A column of the report's CSV and workbook: the row's key, the analysts' header, its width in the workbook; a
    unit column only where units are listed, the change column only in the CSV (the workbook has a sheet per change)."""

    key: str
    header: str
    width: int = 14
    units_only: bool = False
    csv_only: bool = False


REPORT_COLUMNS = (
    ReportColumn("integration", "Integration"),
    ReportColumn("snapshot_id", "Snapshot"),
    ReportColumn("change", "Change", 20, csv_only=True),
    ReportColumn("property_id", "Property ID"),
    ReportColumn("property_name", "Property name", 30),
    ReportColumn("unit_id", "Unit ID", units_only=True),
    ReportColumn("unit_name", "Unit name", 30, units_only=True),
    ReportColumn(MOMENT, "Changed at (UTC)", 20),
    ReportColumn("reason", "Reason", 40),
    ReportColumn("evidence", "Evidence", 40),
)
MOMENT_HEADERS = {
    UNIT_DEACTIVATED: "Deactivated at (UTC)", UNIT_REACTIVATED: "Reactivated at (UTC)", PROPERTY_DEACTIVATED: "Deactivated at (UTC)",
}


def report_columns(change: str | None = None) -> list[tuple[ReportColumn, str]]:
    """The columns, each with its header, of the CSV (`change` None: every kind in one table) or of one kind's sheet."""
    return [
        (column, MOMENT_HEADERS[change] if column.key == MOMENT and change else column.header)
        for column in REPORT_COLUMNS
        if not (change and column.csv_only) and not (change == PROPERTY_DEACTIVATED and column.units_only)
    ]


COLUMNS = tuple(header for _, header in report_columns())
"""The CSV's header row."""
REASONS = {
    DELETED: ("deleted in the source, confirmed missing", "GET {path} → 404"),
    DEACTIVATED: ("deactivated in the source, confirmed inactive", "GET {path} → active: false"),
    None: (REACTIVATED, "listed again by GET /units"),
}
"""Per source evidence (None: a reactivation), the reason in business words and the technical evidence."""
MOMENT_FORMAT = "%Y-%m-%d %H:%M:%S"
BOM = "\ufeff"
FORMULA_STARTS = ("\t", "\r")
FORMULA_SIGNS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
STREAMED_ROWS = 2000
BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
"""U+202A–U+202E (embeddings, overrides, their pop) and U+2066–U+2069 (isolates, their pop), mapped to nothing."""


class UnknownSnapshot(LookupError):
    """No such reconciliation snapshot; the message says where to look."""


def formula_like(text: str) -> bool:
    """Whether a spreadsheet could read the cell (its leading `'` set aside) as a formula."""
    unquoted = text.lstrip("'")
    return unquoted.startswith(FORMULA_STARTS) or unquoted.lstrip().startswith(FORMULA_SIGNS)


def without_bidi_controls(text: str) -> str:
    """The text as a cell of a CSV or workbook pmsync writes holds it: without bidirectional controls (module rule)."""
    return text.translate(BIDI_CONTROLS)


def neutralise(value: Any) -> str:
    """The cell as text a spreadsheet will not evaluate nor show reordered (see the module's rules)."""
    text = without_bidi_controls("" if value is None else str(value))
    return "'" + text if formula_like(text) else text


def restore(cell: str) -> str:
    """The exported value back from a neutralised cell (the inverse of `neutralise`, for text without bidirectional
    controls)."""
    return cell[1:] if cell.startswith("'") and formula_like(cell) else cell


def format_utc(moment: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS` in UTC: what the reports show and Excel reads as a date-time (seconds, no offset)."""
    return moment.astimezone(timezone.utc).strftime(MOMENT_FORMAT)


def recent_snapshots(engine: Engine, limit: int = 20, integration: str | None = None) -> list[dict[str, Any]]:
    """The newest snapshots first (of one integration, or all), with their integration and how many units each deactivated."""
    snap = reconciliation_snapshots
    deactivated = (
        select(func.count())
        .where(snapshot_deactivated_units.c.snapshot_id == snap.c.id)
        .scalar_subquery()
        .label("deactivated_units")
    )
    return _newest_snapshots(engine, [snap, integrations.c.name.label("integration"), deactivated], integration, limit)


def deactivations_over_time(
    engine: Engine, integration: str | None = None, property_id: int | None = None, limit: int = 30
) -> list[dict[str, Any]]:
    """The last `limit` snapshots, oldest first: id, taken_at and the units and properties each deactivated (of one
    property only, when given by its source id)."""
    snap, sdu, sdp = reconciliation_snapshots, snapshot_deactivated_units, snapshot_deactivated_properties
    unit_count = select(func.count()).select_from(sdu).where(sdu.c.snapshot_id == snap.c.id)
    property_count = select(func.count()).select_from(sdp).where(sdp.c.snapshot_id == snap.c.id)
    if property_id is not None:
        of_property = select(properties.c.id).where(properties.c.source_id == property_id, *rows_of("property").of_kind())
        unit_count = unit_count.where(sdu.c.property_id.in_(of_property))
        property_count = property_count.where(sdp.c.property_id.in_(of_property))
    columns = [snap.c.id, snap.c.taken_at, unit_count.scalar_subquery().label("deactivated_units"),
               property_count.scalar_subquery().label("deactivated_properties")]
    return _newest_snapshots(engine, columns, integration, limit)[::-1]


def _newest_snapshots(engine: Engine, columns: list, integration: str | None, limit: int) -> list[dict[str, Any]]:
    """`columns` of the newest `limit` snapshots (of one integration, or all), newest first."""
    snap = reconciliation_snapshots
    query = (
        select(*columns)
        .join(integrations, integrations.c.id == snap.c.integration_id)
        .order_by(snap.c.taken_at.desc(), snap.c.id.desc())
        .limit(limit)
    )
    if integration is not None:
        query = query.where(integrations.c.name == integration)
    with engine.connect() as connection:
        return [row._asdict() for row in connection.execute(query)]


def find_snapshot(connection: Connection, snapshot_id: int | None, integration: str | None) -> dict[str, Any]:
    """A snapshot with its integration's name: the one asked for, or the newest (of the integration, when given)."""
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


def _change_query(change: str, snapshot_id: int):
    if change == PROPERTY_DEACTIVATED:
        sdp = snapshot_deactivated_properties
        return (
            select(properties.c.source_id.label("property_id"), properties.c.name.label("property_name"),
                   null().label("unit_id"), null().label("unit_name"), sdp.c.deactivated_at.label("changed_at"), sdp.c.reason,
                   sdp.c.source_evidence)
            .join(properties, properties.c.id == sdp.c.property_id)
            .where(sdp.c.snapshot_id == snapshot_id)
        )
    table = snapshot_deactivated_units if change == UNIT_DEACTIVATED else snapshot_reactivated_units
    moment = table.c.deactivated_at if change == UNIT_DEACTIVATED else table.c.reactivated_at
    evidence = table.c.source_evidence if change == UNIT_DEACTIVATED else null()
    return (
        select(properties.c.source_id.label("property_id"), properties.c.name.label("property_name"),
               units.c.source_id.label("unit_id"), units.c.name.label("unit_name"), moment.label("changed_at"), table.c.reason,
               evidence.label("source_evidence"))
        .join(units, units.c.id == table.c.unit_id)
        .join(properties, properties.c.id == table.c.property_id)
        .where(table.c.snapshot_id == snapshot_id)
    )


def iter_changes(
    connection: Connection, snapshot: dict[str, Any], change: str, property_id: int | None = None
) -> Iterator[dict[str, Any]]:
    """One kind of change of a snapshot, row by row (streamed from the database), by property then unit; only one
    property's rows when `property_id` (its source id) is given. `changed_at` stays a UTC datetime."""
    query = _change_query(change, snapshot["id"])
    if property_id is not None:
        query = query.where(properties.c.source_id == property_id, *rows_of("property").of_kind())
    query = query.order_by(properties.c.source_id, *([units.c.source_id] if change != PROPERTY_DEACTIVATED else []))
    for row in connection.execute(query.execution_options(yield_per=STREAMED_ROWS)):
        found = row._asdict()
        found["reason"], found["evidence"] = _reason_and_evidence(change, found)
        yield {"integration": snapshot["integration"], "change": change, **found, "snapshot_id": snapshot["id"]}


def _reason_and_evidence(change: str, row: dict[str, Any]) -> tuple[str, str]:
    """The change's reason in business words and the source's answer that proves it (REASONS); a kind of evidence it
    does not know keeps the reason stored with the change."""
    known = REASONS.get(row.pop("source_evidence"))
    if known is None:
        return row["reason"], ""
    reason, evidence = known
    path = f"/units/{row['unit_id']}" if change != PROPERTY_DEACTIVATED else f"/buildings/{row['property_id']}"
    return reason, evidence.format(path=path)


def iter_report(connection: Connection, snapshot: dict[str, Any], property_id: int | None = None) -> Iterator[dict[str, Any]]:
    """Every change of the snapshot, in the report's order."""
    for change in CHANGES:
        yield from iter_changes(connection, snapshot, change, property_id)


def snapshot_changes(
    engine: Engine, snapshot_id: int | None = None, integration: str | None = None, property_id: int | None = None,
    limit: int | None = None,
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """A snapshot (the newest when no id is given) and its rows per kind of change, for a page: at most `limit` + 1 of
    each kind when a limit is given (one more than shown tells the page there are more)."""
    with engine.connect() as connection:
        snapshot = find_snapshot(connection, snapshot_id, integration)
        stop = None if limit is None else limit + 1
        return snapshot, {
            change: list(islice(iter_changes(connection, snapshot, change, property_id), stop)) for change in CHANGES
        }


def snapshot_properties(engine: Engine, snapshot_id: int) -> list[tuple[int, str | None]]:
    """(source id, name) of every property the snapshot changed something of, by source id: the page's filter."""
    of_snapshot = union(*(
        select(table.c.property_id).where(table.c.snapshot_id == snapshot_id)
        for table in (snapshot_deactivated_units, snapshot_reactivated_units, snapshot_deactivated_properties)
    )).subquery()
    query = (select(properties.c.source_id, properties.c.name)
             .where(properties.c.id.in_(select(of_snapshot.c.property_id))).order_by(properties.c.source_id))
    with engine.connect() as connection:
        return [(row.source_id, row.name) for row in connection.execute(query)]


def csv_cells(row: dict[str, Any]) -> list[str]:
    """A report row as the CSV's neutralised cells (the moment as UTC text)."""
    return [neutralise(format_utc(row[MOMENT])) if column.key == MOMENT else neutralise(row.get(column.key))
            for column, _ in report_columns()]


def csv_chunks(rows: Iterable[dict[str, Any]], chunk_rows: int = 500) -> Iterator[str]:
    """The analysts' CSV as text pieces: the byte-order mark and header, then neutralised rows, `chunk_rows` at a time."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(COLUMNS)
    for count, row in enumerate(rows, 1):
        writer.writerow(csv_cells(row))
        if count % chunk_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_text(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(csv_chunks(rows))

