"""A unit and a property named with every bidirectional control (U+202A–U+202E, U+2066–U+2069) come out of the
reconciliation report without them, as CSV and as a workbook read back with openpyxl, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv

from openpyxl import load_workbook

from pmsync.exports.files import export_report
from pmsync.jobs import JOBS

initial_sync, reconcile = JOBS["initial-sync"], JOBS["property-reconciliation"]
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_a_report_of_names_with_bidirectional_controls_holds_none_in_either_format(
    integration_env, sandbox, platform_engine, tmp_path
):
    store = sandbox.store
    unit = next(u for u in store.records("units")
                if u.get("active") is not False and store.get("buildings", u["buildingID"])["active"])
    store.update("units", unit["id"], name="Flat\u202e3A" + BIDI_CONTROLS)
    store.update("buildings", unit["buildingID"], name=f"{BIDI_CONTROLS}Court\u2067 House")
    initial_sync()
    store.delete("units", unit["id"])
    reconcile()

    export_report(platform_engine, tmp_path / "report.csv")
    export_report(platform_engine, tmp_path / "report.xlsx")

    with (tmp_path / "report.csv").open(encoding="utf-8-sig", newline="") as file:
        header, *rows = list(csv.reader(file))
    [row] = [dict(zip(header, row)) for row in rows if row[header.index("Unit ID")] == str(unit["id"])]
    workbook = load_workbook(tmp_path / "report.xlsx")
    cells = [str(cell.value) for sheet in workbook for line in sheet.iter_rows() for cell in line if cell.value is not None]
    [(property_name, unit_name)] = [
        (line[3].value, line[5].value) for line in workbook["Units deactivated"].iter_rows(min_row=2)
        if line[4].value == unit["id"]
    ]
    assert (row["Property name"], row["Unit name"]) == (property_name, unit_name) == ("Court House", "Flat3A")
    assert not set(BIDI_CONTROLS) & set((tmp_path / "report.csv").read_text(encoding="utf-8"))
    assert not set(BIDI_CONTROLS) & set("".join(cells))
