"""Export: a snapshot's report as an Excel workbook, one sheet per kind of change, written row by row (write-only mode).

Text cells are always stored as text (a name like `=HYPERLINK(…)` or `#N/A` is shown, never evaluated); characters a
worksheet cannot hold (control characters but tab and line breaks) become U+FFFD, carriage returns line feeds (XML
reads them so anyway), and bidirectional controls are removed (as in the CSV: pmsync.exports.snapshots). Moments are real Excel
date-times in UTC to the second (`yyyy-mm-dd hh:mm:ss`), in columns headed "… (UTC)". Headers and their order are the
CSV's (pmsync.exports.snapshots.REPORT_COLUMNS), without its "Change" column.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy.engine import Connection

from pmsync.exports.snapshots import (
    CHANGES, MOMENT, PROPERTY_DEACTIVATED, UNIT_DEACTIVATED, UNIT_REACTIVATED, ReportColumn, iter_changes, report_columns,
    without_bidi_controls,
)

EXCEL_MOMENT_FORMAT = "yyyy-mm-dd hh:mm:ss"
SHEETS = {UNIT_DEACTIVATED: "Units deactivated", UNIT_REACTIVATED: "Units reactivated", PROPERTY_DEACTIVATED: "Properties deactivated"}


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


def _cell(sheet: WriteOnlyWorksheet, column: ReportColumn, row: dict[str, Any]) -> Any:
    if column.key == MOMENT:
        return moment_cell(sheet, row[MOMENT])
    value = row[column.key]
    return text_cell(sheet, value) if isinstance(value, str) else value


def write_workbook(
    connection: Connection, snapshot: dict[str, Any], out: Path | IO[bytes], property_id: int | None = None
) -> dict[str, int]:
    """Write the snapshot's report (one property's rows only, when given) as .xlsx to `out`; the rows per kind."""
    workbook = Workbook(write_only=True)
    counts = {}
    for change in CHANGES:
        sheet = workbook.create_sheet(SHEETS[change])
        columns = report_columns(change)
        for index, (column, _) in enumerate(columns):
            sheet.column_dimensions[chr(ord("A") + index)].width = column.width
        sheet.freeze_panes = "A2"
        sheet.append([text_cell(sheet, header) for _, header in columns])
        counts[change] = 0
        for row in iter_changes(connection, snapshot, change, property_id):
            sheet.append([_cell(sheet, column, row) for column, _ in columns])
            counts[change] += 1
        sheet.auto_filter.ref = f"A1:{chr(ord('A') + len(columns) - 1)}{counts[change] + 1}"
    workbook.save(out)
    return counts
