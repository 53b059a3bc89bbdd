"""Export: any table of rows (dicts keyed by human column names) as the analysts' CSV or a one-sheet Excel workbook.

The same guards as a snapshot's report (pmsync.exports.snapshots, pmsync.exports.xlsx): CSV cells lose bidirectional controls and
formula-like cells get a leading `'`; workbook text cells are always text; moments are UTC to the second. A value that
is neither text, a number, a moment nor empty (a list, a mapping) is written as its JSON text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from pmsync.exports.snapshots import BOM, format_utc, neutralise
from pmsync.exports.xlsx import moment_cell, text_cell


def _plain(value: Any) -> Any:
    """Text, a number, a moment or None as it is; anything else as its JSON text."""
    if value is None or isinstance(value, (str, bool, int, float, datetime)):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


def csv_cell(value: Any) -> str:
    """One value as a neutralised CSV cell (a moment as UTC text, empty for None)."""
    value = _plain(value)
    return neutralise(format_utc(value) if isinstance(value, datetime) else value)


def table_csv_chunks(columns: Sequence[str], rows: Iterable[dict[str, Any]], chunk_rows: int = 500) -> Iterator[str]:
    """The CSV as text pieces: the byte-order mark and header, then neutralised rows, `chunk_rows` at a time."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow([neutralise(column) for column in columns])
    for count, row in enumerate(rows, 1):
        writer.writerow([csv_cell(row.get(column)) for column in columns])
        if count % chunk_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, datetime):
        return moment_cell(sheet, value)
    return text_cell(sheet, value) if isinstance(value, str) else value


def write_table_workbook(
    columns: Sequence[str], rows: Iterable[dict[str, Any]], out: Path | IO[bytes], sheet_title: str,
    widths: dict[str, int] | None = None,
) -> int:
    """Write the rows as a one-sheet .xlsx to `out` (row by row, write-only mode), header frozen and filtered; the rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title[:31])
    for index, column in enumerate(columns, 1):
        sheet.column_dimensions[get_column_letter(index)].width = (widths or {}).get(column, 14)
    sheet.freeze_panes = "A2"
    sheet.append([text_cell(sheet, column) for column in columns])
    written = 0
    for row in rows:
        sheet.append([_cell(sheet, row.get(column)) for column in columns])
        written += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{written + 1}"
    workbook.save(out)
    return written
