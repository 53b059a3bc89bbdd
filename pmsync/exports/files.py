"""Export: a snapshot's report written to a file, CSV or Excel workbook by the file's suffix."""

from __future__ import annotations

import re
from datetime import timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from pmsync.exports.snapshots import CHANGES, csv_chunks, find_snapshot, iter_report
from pmsync.exports.xlsx import write_workbook

FORMATS = (".csv", ".xlsx")


def download_name(snapshot: dict[str, Any], suffix: str, property_id: int | None = None) -> str:
    """The report's file name, for analysts' download folders: `acme-deactivated-units-2026-12-07-snapshot-12.csv`
    (the integration, the snapshot's date in UTC and its number; `-property-ID` when one property's). Characters
    other than letters, digits, `.`, `_` and `-` in the integration's name become `-`."""
    integration = re.sub(r"[^A-Za-z0-9._-]+", "-", str(snapshot["integration"])).strip("-.") or "integration"
    of_property = f"-property-{int(property_id)}" if property_id is not None else ""
    taken = snapshot["taken_at"].astimezone(timezone.utc)
    return f"{integration}-deactivated-units-{taken:%Y-%m-%d}-snapshot-{int(snapshot['id'])}{of_property}.{suffix}"


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
