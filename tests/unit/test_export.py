"""The CSV's neutralising rule (formula-like cells become text, one leading quote less restores the value), its byte-order
mark, analysts' headers and UTC moments for Excel, the workbook's text and date-time cells read back with openpyxl, and
the download names."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from pmsync.exports.snapshots import csv_text, format_utc, neutralise, restore, without_bidi_controls
from pmsync.exports.files import download_name
from pmsync.exports.xlsx import EXCEL_MOMENT_FORMAT, moment_cell, text_cell

ROW_KEYS = ("integration", "snapshot_id", "change", "property_id", "property_name", "unit_id", "unit_name", "reason", "evidence")
"""What a report row holds (pmsync.exports.snapshots.iter_changes), besides its moment `changed_at`."""
HEADER = ["Integration", "Snapshot", "Change", "Property ID", "Property name", "Unit ID", "Unit name", "Changed at (UTC)",
          "Reason", "Evidence"]

VALUES = ['=HYPERLINK("http://x","y")', "+1-555", "-5", "@cmd", "\tx", "\rx", "'=x", "''+x", "'plain", "plain", "", "1-555"]


def test_formula_like_cells_get_one_leading_quote_and_restore_undoes_it():
    assert [neutralise(v) for v in VALUES] == [
        '\'=HYPERLINK("http://x","y")', "'+1-555", "'-5", "'@cmd", "'\tx", "'\rx", "''=x", "'''+x", "'plain", "plain", "", "1-555",
    ]
    assert [restore(neutralise(v)) for v in VALUES] == VALUES
    assert neutralise(None) == "" and neutralise(42) == "42"


MOMENT = datetime(2026, 11, 30, 23, 59, 58, 987654, tzinfo=timezone(timedelta(hours=-5)))
"""A moment given with another offset: the report shows it in UTC, to the second (the next day, 04:59:58)."""


def test_pandas_reads_every_cell_back():
    rows = [{**dict.fromkeys(ROW_KEYS, value), "changed_at": MOMENT} for value in VALUES]
    text = csv_text(rows)
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert text.startswith("\ufeffIntegration,") and list(frame.columns) == HEADER, "pandas skips the mark"
    assert [restore(cell) for cell in frame["Unit name"]] == VALUES
    assert set(frame["Changed at (UTC)"]) == {"2026-12-01 04:59:58"}


def test_the_csv_opens_with_a_byte_order_mark_and_analysts_headers_naming_its_utc_moment_column():
    encoded = csv_text([{**dict.fromkeys(ROW_KEYS, "x"), "changed_at": MOMENT}]).encode("utf-8")

    assert encoded.startswith(
        b"\xef\xbb\xbfIntegration,Snapshot,Change,Property ID,Property name,Unit ID,Unit name,Changed at (UTC),Reason,Evidence\r\n"
    )
    frame = pd.read_csv(io.BytesIO(encoded), encoding="utf-8-sig", dtype=str, parse_dates=["Changed at (UTC)"])
    assert frame["Changed at (UTC)"][0] == pd.Timestamp("2026-12-01 04:59:58")
    assert format_utc(MOMENT) == "2026-12-01 04:59:58"


def test_workbook_cells_keep_formula_like_text_as_text_and_moments_as_utc_date_times(tmp_path):
    hostile = [*VALUES, *SPACED_AND_FULL_WIDTH, "#N/A", "#DIV/0!", "=1+1", "bell\x07 and nul\x00"]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("cells")
    sheet.append([text_cell(sheet, value) for value in hostile])
    sheet.append([moment_cell(sheet, MOMENT)])
    workbook.save(tmp_path / "cells.xlsx")

    read = load_workbook(tmp_path / "cells.xlsx")["cells"]
    texts, (moment, *_) = list(read.iter_rows(max_row=1))[0], list(read.iter_rows(min_row=2))[0]
    written = [cell for cell in texts if cell.value is not None]
    assert [cell.data_type for cell in written] == ["s"] * len(written), "no formula, no error value"
    assert [cell.value for cell in written] == [
        v.replace("\x07", "\ufffd").replace("\x00", "\ufffd").replace("\r", "\n") for v in hostile if v
    ], "characters a worksheet cannot hold replaced; a carriage return is a line break"
    assert (moment.data_type, moment.number_format) == ("d", EXCEL_MOMENT_FORMAT)
    assert moment.value == datetime(2026, 12, 1, 4, 59, 58), "naive UTC, to the second like the CSV"


SPACED_AND_FULL_WIDTH = [" =1+1", "  @SUM(A1)", "\u00a0+1", "\u3000-1", "\n=x", "\uff1dHYPERLINK(\"http://x\")", "\uff0b1",
                         "\uff0d1", "\uff20cmd", " \uff1dx", "' =x", "'\uff1dx"]


def test_cells_starting_with_whitespace_then_a_sign_or_with_a_full_width_sign_are_neutralised_too():
    assert [neutralise(v) for v in SPACED_AND_FULL_WIDTH] == ["'" + v for v in SPACED_AND_FULL_WIDTH]
    assert [restore(neutralise(v)) for v in SPACED_AND_FULL_WIDTH] == SPACED_AND_FULL_WIDTH
    assert [neutralise(v) for v in (" plain", "a =b", "\uff21", "x\uff1d", " ' =x")] == [" plain", "a =b", "\uff21", "x\uff1d", " ' =x"]


BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""Left-to-right and right-to-left embeddings, their pop, the two overrides; the three isolates and their pop."""


@given(st.text(alphabet=st.sampled_from(list("'= +-@\t\r\n\u00a0\u3000xy1\uff1d\uff0b\uff0d\uff20" + BIDI_CONTROLS)),
               max_size=8) | st.text())
def test_restore_undoes_neutralise_for_any_text_and_no_neutralised_cell_is_formula_like_after_its_quote(value):
    cell = neutralise(value)
    assert restore(cell) == without_bidi_controls(value)
    assert not set(cell) & set(BIDI_CONTROLS)
    assert not cell.lstrip().startswith(("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\t", "\r"))


SPOOFED = ["Unit 4\u202eA3", "\u202b=1+1", *(f"Court{control}House" for control in BIDI_CONTROLS)]
"""Names with each bidirectional control, one hiding a formula behind an embedding."""


def test_no_bidirectional_control_reaches_a_csv_or_workbook_cell(tmp_path):
    rows = [{**dict.fromkeys(ROW_KEYS, "x"), "property_name": name, "unit_name": name, "changed_at": MOMENT} for name in SPOOFED]
    frame = pd.read_csv(io.StringIO(csv_text(rows)), dtype=str, keep_default_na=False)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("cells")
    for name in SPOOFED:
        sheet.append([text_cell(sheet, name)])
    workbook.save(tmp_path / "cells.xlsx")
    read = [row[0].value for row in load_workbook(tmp_path / "cells.xlsx")["cells"].iter_rows()]

    plain = ["Unit 4A3", "=1+1", *["CourtHouse"] * len(BIDI_CONTROLS)]
    assert list(frame["Unit name"]) == list(frame["Property name"]) == ["Unit 4A3", "'=1+1", *plain[2:]]
    assert read == plain


def test_download_names_carry_the_integration_the_date_and_the_snapshot():
    taken = datetime(2026, 12, 7, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    snapshot = {"id": 12, "integration": "acme", "taken_at": taken}

    assert download_name(snapshot, "csv") == "acme-deactivated-units-2026-12-08-snapshot-12.csv", "the date in UTC"
    assert download_name(snapshot, "xlsx", 150001) == "acme-deactivated-units-2026-12-08-snapshot-12-property-150001.xlsx"
    odd = {**snapshot, "integration": 'Acme "North"/../x'}
    assert download_name(odd, "csv") == "Acme-North-..-x-deactivated-units-2026-12-08-snapshot-12.csv"
