"""The CSV's neutralising rule: formula-like cells become text, and one leading quote less restores the value."""

from __future__ import annotations

import io

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from pmsync.export import COLUMNS, csv_text, neutralise, restore

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


SPACED_AND_FULL_WIDTH = [" =1+1", "  @SUM(A1)", "\u00a0+1", "\u3000-1", "\n=x", "\uff1dHYPERLINK(\"http://x\")", "\uff0b1",
                         "\uff0d1", "\uff20cmd", " \uff1dx", "' =x", "'\uff1dx"]


def test_cells_starting_with_whitespace_then_a_sign_or_with_a_full_width_sign_are_neutralised_too():
    assert [neutralise(v) for v in SPACED_AND_FULL_WIDTH] == ["'" + v for v in SPACED_AND_FULL_WIDTH]
    assert [restore(neutralise(v)) for v in SPACED_AND_FULL_WIDTH] == SPACED_AND_FULL_WIDTH
    assert [neutralise(v) for v in (" plain", "a =b", "\uff21", "x\uff1d", " ' =x")] == [" plain", "a =b", "\uff21", "x\uff1d", " ' =x"]


@given(st.text(alphabet=st.sampled_from(list("'= +-@\t\r\n\u00a0\u3000xy1\uff1d\uff0b\uff0d\uff20")), max_size=8) | st.text())
def test_restore_undoes_neutralise_for_any_text_and_no_neutralised_cell_is_formula_like_after_its_quote(value):
    cell = neutralise(value)
    assert restore(cell) == value
    assert not cell.lstrip().startswith(("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\t", "\r"))
