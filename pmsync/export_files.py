"""Export: a snapshot's report written to a file, CSV or Excel workbook by the file's suffix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from pmsync.export import CHANGES, csv_chunks, find_snapshot, iter_report
from pmsync.export_xlsx import write_workbook

FORMATS = (".csv", ".xlsx")


class UnsupportedFormat(ValueError):
    """The output file's suffix names no format the report is written in; the message lists them."""


def export_report(
    engine: Engine, out: Path, snapshot_id: int | None = None, integration: str | None = None, property_id: int | None = None
) -> tuple[dict[str, Any], dict[str, int]]:
    """Write a snapshot's report (the newest snapshot unless one is chosen) to `out`: `.csv` (UTF-8 with a byte-order
    mark, one `change` column) or `.xlsx` (a sheet per kind of change). The snapshot and its rows per kind."""
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise UnsupportedFormat(f"cannot write {out.name!r}: name the file .csv or .xlsx")
    with engine.connect() as connection:
        snapshot = find_snapshot(connection, snapshot_id, integration)
        if suffix == ".xlsx":
            return snapshot, write_workbook(connection, snapshot, out, property_id)
        counts = dict.fromkeys(CHANGES, 0)

        def counted():
            for row in iter_report(connection, snapshot, property_id):
                counts[row["change"]] += 1
                yield row

        with out.open("w", encoding="utf-8", newline="") as file:
            for chunk in csv_chunks(counted()):
                file.write(chunk)
    return snapshot, counts
