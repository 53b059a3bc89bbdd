"""Another tool's answer quoted in an `error:` line is one plain line: Rich panels (typer's and Prefect's error boxes),
tables and colours, as Rich itself draws them, come out without a box character, their wrapped words in order."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from pmsync.cli.common import fail
from pmsync.one_line import BOX_DRAWING, one_line

MESSAGE = ("Deployment 'delta-sync/delta-acme' could not be created because the work pool 'pmsync' was not found on "
           "the server.")


def drawn(*renderables: object, colour: bool = False, width: int = 48) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=colour, color_system="truecolor" if colour else None)
    for renderable in renderables:
        console.print(renderable)
    return buffer.getvalue()


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "ansi-colours"])
def test_a_wrapped_error_panel_becomes_its_title_and_its_words_on_one_line(colour):
    text = drawn("Deploying 1 deployment", Panel(MESSAGE, title="Error", border_style="red"), colour=colour)
    assert len(text.splitlines()) > 4, text  # the message did wrap inside the box
    assert one_line(text) == f"Deploying 1 deployment | Error: {MESSAGE}"


def test_a_table_loses_its_borders_and_keeps_its_cells_in_order():
    table = Table("deployment", "state")
    table.add_row("delta-acme", "failed")
    flat = one_line(drawn(table))
    assert not BOX_DRAWING.search(flat) and "\n" not in flat
    assert flat.split() == ["deployment", "state", "delta-acme", "failed"]


def test_plain_lines_are_kept_and_blank_ones_dropped():
    assert one_line("first\n\n   second  line \n") == "first | second line"
    assert one_line("") == ""


def test_typers_own_error_box_as_a_command_prints_it():
    """A real typer/click usage error of the `prefect` command (a Rich panel on stderr), as `prefect deploy` quotes."""
    done = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", "work-pool", "create"], capture_output=True,
                          text=True, timeout=120, env={"COLUMNS": "50", "PATH": "/usr/bin:/bin"})
    answer = done.stdout + done.stderr
    assert "╭" in answer and "│" in answer, answer
    assert one_line(answer) == 'Error: Command "work-pool create" parameter --name requires an argument.'


def test_every_error_line_the_cli_prints_is_unboxed(capsys):
    with pytest.raises(typer.Exit) as ended:
        fail(drawn(Panel(MESSAGE, title="Error")), 2)

    assert ended.value.exit_code == 2
    printed = capsys.readouterr().err
    assert printed.count("\n") == 1 and not BOX_DRAWING.search(printed), printed
    assert printed == f"error: Error: {MESSAGE}\n"
