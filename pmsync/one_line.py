"""Another tool's output as one plain line: Rich panels and tables unboxed, ANSI colours dropped, lines joined."""

from __future__ import annotations

import re

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
BOX_DRAWING = re.compile(r"[\u2500-\u259f]+")
"""Rich's panel and table borders (│ ╭ ─ ┃ ━ …) and block elements (▏ █ …)."""
PANEL_TOP = ("╭", "┌", "┏", "╔")
PANEL_BOTTOM = ("╰", "└", "┗", "╚")
PANEL_SIDE = ("│", "┃", "║")
SEPARATOR = " | "


def one_line(text: str) -> str:
    """`text` as one line without box characters: a panel becomes `Title: its text` (its wrapped lines joined by
    spaces), other lines are kept and joined by ` | `, blank ones dropped."""
    pieces: list[str] = []
    panel: list[str] | None = None
    for raw in ANSI_ESCAPE.sub("", text).splitlines():
        line = raw.strip()
        words = _unboxed(line)
        if line.startswith(PANEL_TOP):
            if panel:
                pieces.append(" ".join(panel))
            panel = [f"{words}:"] if words else []
        elif line.startswith(PANEL_BOTTOM):
            if panel:
                pieces.append(" ".join(panel))
            panel = None
        elif line.startswith(PANEL_SIDE) and panel is not None:
            if words:
                panel.append(words)
        elif words:
            pieces.append(words)
    if panel:
        pieces.append(" ".join(panel))
    return SEPARATOR.join(pieces)


def _unboxed(line: str) -> str:
    return " ".join(BOX_DRAWING.sub(" ", line).split())
