"""Export: a snapshot's report as an Excel workbook, one sheet per kind of change, written row by row (write-only mode).

Text cells are always stored as text (a name like `=HYPERLINK(…)` or `#N/A` is shown, never evaluated); characters a
worksheet cannot hold (control characters but tab and line breaks) become U+FFFD, carriage returns line feeds (XML
reads them so anyway), and bidirectional controls are removed (as in the CSV: pmsync.export). Moments are real Excel
date-times in UTC to the second (`yyyy-mm-dd hh:mm:ss`), in columns named `…_utc`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy.engine import Connection

from pmsync.export import (
    CHANGES, PROPERTY_DEACTIVATED, UNIT_DEACTIVATED, UNIT_REACTIVATED, iter_changes, without_bidi_controls,
)

EXCEL_MOMENT_FORMAT = "yyyy-mm-dd hh:mm:ss"
SHEETS = {UNIT_DEACTIVATED: "Units deactivated", UNIT_REACTIVATED: "Units reactivated", PROPERTY_DEACTIVATED: "Properties deactivated"}
UNIT_COLUMNS = ("integration", "snapshot_id", "property_id", "property_name", "unit_id", "unit_name")
SHEET_COLUMNS = {
    UNIT_DEACTIVATED: (*UNIT_COLUMNS, "deactivated_at_utc", "reason"),
    UNIT_REACTIVATED: (*UNIT_COLUMNS, "reactivated_at_utc", "reason"),
    PROPERTY_DEACTIVATED: ("integration", "snapshot_id", "property_id", "property_name", "deactivated_at_utc", "reason"),
}
WIDTHS = {"property_name": 30, "unit_name": 30, "reason": 60, "deactivated_at_utc": 20, "reactivated_at_utc": 20}


def text_cell(sheet: WriteOnlyWorksheet, value: str) -> WriteOnlyCell:
    """A cell Excel shows as this text and never evaluates (openpyxl would make `=…` a formula, `#N/A` an error)."""
    text = without_bidi_controls(value).replace("\r\n", "\n").replace("\r", "\n")
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", text))
    cell.data_type = "s"
    return cell


def moment_cell(sheet: WriteOnlyWorksheet, moment: datetime) -> WriteOnlyCell:
    """A UTC moment as an Excel date-time to the second, like the CSV (Excel keeps no time zone: the column name says UTC)."""
    cell = WriteOnlyCell(sheet, value=moment.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0))
    cell.number_format = EXCEL_MOMENT_FORMAT
    return cell


def _cell(sheet: WriteOnlyWorksheet, column: str, row: dict[str, Any]) -> Any:
    if column.endswith("_at_utc"):
        return moment_cell(sheet, row["changed_at"])
    value = row[column]
    return text_cell(sheet, value) if isinstance(value, str) else value


def write_workbook(
    connection: Connection, snapshot: dict[str, Any], out: Path | IO[bytes], property_id: int | None = None
) -> dict[str, int]:
    """Write the snapshot's report (one property's rows only, when given) as .xlsx to `out`; the rows per kind."""
    workbook = Workbook(write_only=True)
    counts = {}
    for change in CHANGES:
        sheet = workbook.create_sheet(SHEETS[change])
        columns = SHEET_COLUMNS[change]
        for index, column in enumerate(columns):
            sheet.column_dimensions[chr(ord("A") + index)].width = WIDTHS.get(column, 14)
        sheet.freeze_panes = "A2"
        sheet.append([text_cell(sheet, column) for column in columns])
        counts[change] = 0
        for row in iter_changes(connection, snapshot, change, property_id):
            sheet.append([_cell(sheet, column, row) for column in columns])
            counts[change] += 1
        sheet.auto_filter.ref = f"A1:{chr(ord('A') + len(columns) - 1)}{counts[change] + 1}"
    workbook.save(out)
    return counts
