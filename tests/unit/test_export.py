"""The CSV's neutralising rule: formula-like cells become text, and one leading quote less restores the value."""

from __future__ import annotations

import io

import pandas as pd

from tasks.export import COLUMNS, csv_text, neutralise, restore

VALUES = ['=HYPERLINK("http://x","y")', "+1-555", "-5", "@cmd", "\tx", "\rx", "'=x", "''+x", "'plain", "plain", "", "1-555"]


def test_formula_like_cells_get_one_leading_quote_and_restore_undoes_it():
    assert [neutralise(v) for v in VALUES] == [
        '\'=HYPERLINK("http://x","y")', "'+1-555", "'-5", "'@cmd", "'\tx", "'\rx", "''=x", "'''+x", "'plain", "plain", "", "1-555",
    ]
    assert [restore(neutralise(v)) for v in VALUES] == VALUES
    assert neutralise(None) == "" and neutralise(42) == "42"


def test_pandas_reads_every_cell_back():
    rows = [dict.fromkeys(COLUMNS, value) for value in VALUES]
    frame = pd.read_csv(io.StringIO(csv_text(rows)), dtype=str, keep_default_na=False)
    assert list(frame.columns) == list(COLUMNS)
    assert [restore(cell) for cell in frame["unit_name"]] == VALUES
