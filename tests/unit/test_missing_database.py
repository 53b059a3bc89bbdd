"""Nothing created by reading: a command that reads the platform, pointed at a SQLite file that does not exist, says so
in one line (exit 2) and leaves no file behind (SQLite only: a missing PostgreSQL database is never created)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_cli_exit_codes import run_pmsync

ROOT = Path(__file__).parents[2]

READ_ONLY_COMMANDS = [
    ("runs",),
    ("runs", "--json"),
    ("state",),
    ("quality",),
    ("explain", "unit", "1", "--no-source"),
    ("report", "snapshots"),
    ("report", "deactivated", "--out", "report.csv"),
    ("workorder", "list"),
    ("workorder", "show", "1"),
]


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=" ".join)
def test_a_read_only_command_on_a_missing_database_says_so_and_creates_no_file(tmp_path, command):
    place = tmp_path / "nothing-synced-here"
    place.mkdir()

    done = run_pmsync(*command, env={"PMSYNC_DATABASE_URL": f"sqlite:///{place / 'platform.db'}"})

    assert done.returncode == 2, (done.stdout + done.stderr)[-2000:]
    assert done.stderr.splitlines() == [
        f"error: no platform database at {place / 'platform.db'}; run a sync first or set PMSYNC_DATABASE_URL"
    ]
    assert done.stdout == ""
    assert list(place.iterdir()) == [], "reading created a database"


def test_a_relative_sqlite_path_is_named_where_it_would_be(tmp_path):
    """The default URL (`sqlite:///pmsync.db`) is relative to where the command runs: the line names the full path."""
    done = subprocess.run([sys.executable, "-c", "from pmsync.cli import app; app()", "runs"], cwd=tmp_path,
                          env={"PYTHONPATH": str(ROOT), "PMSYNC_DATABASE_URL": "sqlite:///pmsync.db", "COLUMNS": "200"},
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip() == (
        f"error: no platform database at {tmp_path / 'pmsync.db'}; run a sync first or set PMSYNC_DATABASE_URL"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("setting, line", [
    ({"PMSYNC_DATABASE_URL": "notaurl"},
     "error: PMSYNC_DATABASE_URL is not a database URL (e.g. sqlite:///pmsync.db or postgresql://USER@HOST/DB)"),
    ({"PMSYNC_CHANGES_RETENTION_DAYS": "0"},
     "error: PMSYNC_CHANGES_RETENTION_DAYS must be at least 1 (days each run's change journal is kept)"),
], ids=["database-url", "retention"])
@pytest.mark.parametrize("command", [("runs",), ("changes",), ("workorder", "list")], ids=" ".join)
def test_a_read_only_command_with_a_malformed_platform_setting_names_it_in_one_line(tmp_path, command, setting, line):
    done = run_pmsync(*command, env={"PMSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'platform.db'}", **setting})

    assert (done.returncode, done.stderr.splitlines(), done.stdout) == (2, [line], ""), (done.stdout + done.stderr)[-2000:]
    assert list(tmp_path.iterdir()) == []
