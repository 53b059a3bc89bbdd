"""Uploaded and fix-up files leave the import directory after PMSYNC_IMPORT_RETENTION_DAYS (the Reports app deletes them
at start, then hourly): only files pmsync named there, never an operator's file, a sub-directory or a symlink's target."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from reports.app import ReportsRefused, create_app
from reports.retention import delete_expired

PMSYNC = str(Path(sys.executable).with_name("pmsync"))
DAY = 24 * 60 * 60


def aged(path: Path, days: float, text: str | None = "owner_id\n1\n") -> Path:
    """A file (or, when `text` is None, the symlink already there) last written `days` ago."""
    if text is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    moment = time.time() - days * DAY
    os.utime(path, (moment, moment), follow_symlinks=False)
    return path


@pytest.fixture
def import_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "imports"
    folder.mkdir()
    monkeypatch.setenv("PMSYNC_IMPORT_DIR", str(folder))
    monkeypatch.delenv("PMSYNC_IMPORT_RETENTION_DAYS", raising=False)
    return folder


def test_the_app_deletes_pmsyncs_files_older_than_30_days_at_start_and_nothing_else(import_dir, tmp_path):
    stem = f"upload-{uuid.uuid4().hex}"
    expired = [
        aged(import_dir / f"{stem}-owners.csv", 31), aged(import_dir / f"{stem}-owners.errors.csv", 30.01),
        aged(import_dir / "upload-run-17-service-providers.errors.csv", 45),
        aged(import_dir / f".upload-{uuid.uuid4().hex}.partial", 31), aged(import_dir / ".fixup-k2_x9abc.csv", 31),
    ]
    outside = aged(tmp_path / "outside" / f"{stem}-service-providers.csv", 90)
    linked = import_dir / f"upload-{uuid.uuid4().hex}-owners.csv"
    linked.symlink_to(outside)
    aged(linked, 90, text=None)
    kept = [
        aged(import_dir / f"upload-{uuid.uuid4().hex}-owners.csv", 29.9), aged(import_dir / "owners.csv", 400),
        aged(import_dir / "owners.errors.csv", 400), aged(import_dir / "sub" / f"{stem}-owners.csv", 400),
        aged(import_dir / f"{stem}-tenants.csv", 400), aged(import_dir / "notes.txt", 400), linked, outside,
    ]

    with TestClient(create_app(f"sqlite:///{tmp_path / 'unused.db'}"), base_url="http://127.0.0.1:8780"):
        remaining = [path for path in expired + kept if os.path.lexists(path)]

    assert remaining == kept
    assert linked.is_symlink() and outside.read_text(encoding="utf-8") == "owner_id\n1\n"


def test_the_retention_is_a_setting_of_at_least_one_day(import_dir, tmp_path, monkeypatch):
    fresh = aged(import_dir / f"upload-{uuid.uuid4().hex}-owners.csv", 1.5)
    monkeypatch.setenv("PMSYNC_IMPORT_RETENTION_DAYS", "2")
    assert delete_expired(import_dir, 2) == [] and delete_expired(import_dir, 1) == [fresh.name]
    assert delete_expired(tmp_path / "missing", 1) == []

    monkeypatch.setenv("PMSYNC_IMPORT_RETENTION_DAYS", "0")
    with pytest.raises(ReportsRefused, match=r"PMSYNC_IMPORT_RETENTION_DAYS must be at least 1"):
        create_app(f"sqlite:///{tmp_path / 'unused.db'}")
    started = subprocess.run(
        [PMSYNC, "reports", "serve", "--port", "1"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PMSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}", "COLUMNS": "200"},
    )
    assert started.returncode == 2 and started.stderr.strip().splitlines() == [
        "error: PMSYNC_IMPORT_RETENTION_DAYS must be at least 1 (days an uploaded or fix-up file is kept)"
    ]
