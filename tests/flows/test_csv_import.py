"""Owners and service providers by CSV upload, through the csv-import job and flow and the CLI, on SQLite and PostgreSQL
(the job with the plain steps where no Prefect artifact or server is checked)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from flows.csv_import import csv_import as csv_import_flow
from pmsync.imports.kinds import CsvRefused, CsvRejected
from pmsync.integrations.integration import Integration
from pmsync.jobs import JOBS
from pmsync.platform.database import migrate
from pmsync.runs.bookkeeping import ensure_integration
from schemas.tables import owners, service_providers, sync_runs
from tests.flows.test_cli import run_pmsync
from tests.flows.test_reconciliation_report import latest_artifact

csv_import = JOBS["csv-import"]
HEADER = "owner_id,first_name,last_name,company,email,phone,group"


def owner_line(number: int, **changes: str) -> str:
    cells = {"owner_id": str(5000 + number), "first_name": f"First{number}", "last_name": f"Last{number}", "company": "",
             "email": f"owner{number}@example.com", "phone": f"+1 555 01{number:02d}", "group": "", **changes}
    return ",".join(cells.values())


@pytest.fixture
def import_dir(tmp_path, monkeypatch):
    """The worker's PMSYNC_IMPORT_DIR, the only place a deployment's `path` may point into."""
    folder = tmp_path / "imports"
    folder.mkdir()
    monkeypatch.setenv("PMSYNC_IMPORT_DIR", str(folder))
    return folder


@pytest.fixture
def platform(platform_url, platform_engine, monkeypatch, import_dir):
    """A migrated platform with the default integration registered (an import needs no source connection)."""
    monkeypatch.setenv("PMSYNC_DATABASE_URL", platform_url)
    migrate(platform_engine)
    with platform_engine.begin() as connection:
        ensure_integration(connection, Integration("default", "http://unused.example", "id", SecretStr("s"), "1", "u@example.com"))
    return platform_engine


def rows(engine: sa.Engine, table: sa.Table) -> list:
    with engine.connect() as connection:
        return connection.execute(sa.select(table).order_by(table.c.source_id)).all()


def test_a_valid_owners_file_imports_and_the_same_file_uploaded_again_changes_nothing(platform, import_dir):
    lines = [owner_line(n) for n in range(1, 13)]
    lines[2] = owner_line(3, last_name="", company="Harbor Holdings LLC", group="Board")
    path = import_dir / "owners.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")

    first = csv_import(kind="owners", path="owners.csv")

    assert first["counts"]["owner"] == {**first["counts"]["owner"], "fetched": 12, "created": 12}
    imported = rows(platform, owners)
    assert [r.source_id for r in imported] == [5000 + n for n in range(1, 13)]
    assert {r.group_name for r in imported if r.source_id != 5003} == {"Owners"}
    harbor = next(r for r in imported if r.source_id == 5003)
    assert (harbor.company, harbor.last_name, harbor.group_name) == ("Harbor Holdings LLC", None, "Board")

    again = csv_import(kind="owners", content=path.read_text(encoding="utf-8"))

    assert again["counts"]["owner"] == {**again["counts"]["owner"], "created": 0, "updated": 0, "unchanged": 12}
    assert rows(platform, owners) == imported


@pytest.mark.flow
def test_a_bad_email_on_row_7_and_a_missing_name_on_row_12_write_nothing_and_name_exactly_those_cells(platform, import_dir):
    lines = [owner_line(n) for n in range(1, 16)]
    lines[5] = owner_line(6, email="owner6@@example")
    lines[10] = owner_line(11, last_name="")
    path = import_dir / "batch" / "owners.csv"
    path.parent.mkdir()
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")

    with pytest.raises(CsvRejected) as rejected:
        csv_import_flow(kind="owners", path=str(path))

    report = rejected.value.report
    assert [(e.row, e.column, e.value) for e in report.errors] == [(7, "email", "owner6@@example"), (12, "last_name", "")]
    assert "row 7, column email, value 'owner6@@example': not a valid e-mail address" in str(rejected.value)
    assert rows(platform, owners) == []
    assert rejected.value.fix_file == "batch/owners.errors.csv"
    assert "fix-up CSV (the file plus a problems column): batch/owners.errors.csv" in str(rejected.value)
    fix = (import_dir / "batch" / "owners.errors.csv").read_text(encoding="utf-8-sig").splitlines()
    assert fix[0] == HEADER + ",problems" and len(fix) == 16
    assert fix[6].endswith(",email: not a valid e-mail address ('owner6@@example')")
    assert all(line.endswith(",") for number, line in enumerate(fix[1:], start=2) if number not in (7, 12))
    with platform.connect() as connection:
        run = connection.execute(sa.select(sync_runs).order_by(sync_runs.c.id.desc())).first()
    assert (run.flow, run.status) == ("csv-import", "failed") and run.error.startswith("2 problem(s) in 2 of 15 row(s)")
    artifact = latest_artifact("csv-import-owners-fix-up")
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert [(row["row"], row["email"], row["problems"]) for row in table] == [
        ("7", "owner6@@example", "email: not a valid e-mail address ('owner6@@example')"),
        ("12", "owner11@example.com", "last_name: missing: an owner needs a last_name, or a company ('')"),
    ]
    assert f"run {run.id} · fix-up CSV batch/owners.errors.csv (in PMSYNC_IMPORT_DIR on the worker)" in artifact.description


@pytest.mark.flow
def test_cli_imports_a_semicolon_file_with_a_bom_and_refuses_a_binary_file(platform, platform_url, tmp_path):
    env = {"PMSYNC_DATABASE_URL": platform_url}
    path = tmp_path / "vendors.csv"
    path.write_bytes(
        "\ufeffVendor ID;Company Name;Contact Name;E-mail;Phone;Trade\r\n"
        '30001;"Fix-It; Sons";"Ana ""Al"" Ruiz";ana@fixit.example;(555) 010-7788;Plumbing\r\n'
        "30002;Bright Sparks;;ops@sparks.example;;Electrical\r\n".encode("utf-8")
    )

    imported = run_pmsync("import", "service-providers", str(path), env=env)

    assert imported.returncode == 0, imported.stdout[-2000:] + imported.stderr[-2000:]
    assert "2 rows, 2 created" in imported.stdout
    stored = rows(platform, service_providers)
    assert [(r.company_name, r.contact_name, r.trade) for r in stored] == [
        ("Fix-It; Sons", 'Ana "Al" Ruiz', "Plumbing"), ("Bright Sparks", None, "Electrical"),
    ]

    binary = tmp_path / "vendors.xlsx.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    refused = run_pmsync("import", "service-providers", str(binary), env=env)

    assert refused.returncode == 4
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: {binary} was not imported: the file is binary (a NUL byte at byte 8), not CSV text"
    )
    assert len(rows(platform, service_providers)) == 2

    bad = tmp_path / "vendors-bad.csv"
    bad.write_text("vendor_id,company_name,email\n30003,Gone Co,not-an-email\n", encoding="utf-8")
    rejected = run_pmsync("import", "service-providers", str(bad), "--errors-out", str(tmp_path / "fix" / "v.csv"), env=env)
    (tmp_path / "fix").mkdir()
    rejected_again = run_pmsync("import", "service-providers", str(bad), "--errors-out", str(tmp_path / "fix" / "v.csv"), env=env)

    assert rejected.returncode == 1, "the fix-up CSV cannot be written: not a guard's refusal"
    assert rejected_again.returncode == 4
    assert "row 2, column email, value 'not-an-email': not a valid e-mail address" in rejected_again.stderr
    assert f"fix-up CSV (the file plus a problems column): {tmp_path / 'fix' / 'v.csv'}" in rejected_again.stderr
    assert (tmp_path / "fix" / "v.csv").read_text(encoding="utf-8-sig").splitlines()[0] == "vendor_id,company_name,email,problems"


def files_under(folder: Path) -> dict[str, bytes]:
    """Every regular file below `folder` with its bytes, but the SQLite platform database's own files."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink() and not p.name.startswith("platform.db")
    }


def test_deployment_paths_outside_the_import_dir_non_csv_files_and_oversized_content_are_refused_unread(
    platform, import_dir, tmp_path, monkeypatch
):
    secret = "SECRET-CELL-7f3a"
    outside = tmp_path / "outside.csv"
    outside.write_text(f"{HEADER}\n{owner_line(1, email=secret)}\n", encoding="utf-8")
    (import_dir / "link.csv").symlink_to(outside)
    (import_dir / "linked-dir").symlink_to(tmp_path, target_is_directory=True)
    (import_dir / "sheet.xlsx").write_bytes(b"PK\x03\x04" + secret.encode() + bytes(64))
    (import_dir / "workbook.csv").write_bytes(b"PK\x03\x04" + secret.encode() + bytes(64))
    (import_dir / "binary.csv").write_bytes(secret.encode() + b"\x00\x01" + bytes(range(256)))
    monkeypatch.setenv("PMSYNC_IMPORT_MAX_BYTES", "1000")
    before = files_under(tmp_path)

    refusals = {}
    for path in ["../outside.csv", str(outside), "link.csv", "nested/../../outside.csv", "linked-dir/outside.csv",
                 "/etc/passwd", "", "sheet.xlsx", "workbook.csv", "binary.csv"]:
        with pytest.raises(CsvRefused) as refused:
            csv_import(kind="owners", path=path)
        refusals[path] = str(refused.value)
    with pytest.raises(CsvRefused) as oversized:
        csv_import(kind="owners", content=f"{HEADER}\n" + "\n".join(owner_line(n) for n in range(1, 40)))

    for path in ["../outside.csv", str(outside), "link.csv", "nested/../../outside.csv", "linked-dir/outside.csv", "/etc/passwd", ""]:
        assert "place the file in PMSYNC_IMPORT_DIR" in refusals[path], refusals[path]
    assert "is not a .csv file" in refusals["sheet.xlsx"] and "place it in PMSYNC_IMPORT_DIR" in refusals["sheet.xlsx"]
    assert "spreadsheet workbook" in refusals["workbook.csv"] and "binary" in refusals["binary.csv"]
    assert not any(secret in message or "root:" in message for message in refusals.values())
    assert "over the cap of 1000 bytes (PMSYNC_IMPORT_MAX_BYTES)" in str(oversized.value)
    assert files_under(tmp_path) == before, "nothing was written anywhere, inside the import directory or out"
    assert rows(platform, owners) == []
    with platform.connect() as connection:
        runs = connection.execute(sa.select(sync_runs.c.error)).scalars().all()
    assert len(runs) == 2 and all(secret not in error for error in runs), "only the two files inside were opened"
    assert not {"errors_path"} & set(csv_import_flow.parameters.properties), "no deployment parameter names a file to write"
    assert set(csv_import_flow.parameters.properties) == {"kind", "path", "content", "integration"}


def test_a_fix_up_file_replaces_a_symlink_in_the_import_dir_instead_of_writing_through_it(platform, import_dir, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched", encoding="utf-8")
    (import_dir / "bad.csv").write_text(f"{HEADER}\n{owner_line(1, email='nope')}\n", encoding="utf-8")
    (import_dir / "bad.errors.csv").symlink_to(victim)

    with pytest.raises(CsvRejected) as rejected:
        csv_import(kind="owners", path="bad.csv")

    assert rejected.value.fix_file == "bad.errors.csv"
    assert victim.read_text(encoding="utf-8") == "untouched"
    fix_up = import_dir / "bad.errors.csv"
    assert not fix_up.is_symlink() and fix_up.read_text(encoding="utf-8-sig").splitlines()[0] == HEADER + ",problems"
    assert sorted(os.listdir(import_dir)) == ["bad.csv", "bad.errors.csv"]


def test_uploaded_content_that_is_rejected_gets_a_fix_up_file_of_its_run_in_the_import_dir(platform, import_dir):
    content = f"{HEADER}\n{owner_line(1)}\n{owner_line(2, owner_id='x2')}\n"

    with pytest.raises(CsvRejected) as rejected:
        csv_import(kind="owners", content=content)

    with platform.connect() as connection:
        run_id = connection.execute(sa.select(sa.func.max(sync_runs.c.id))).scalar_one()
    assert rejected.value.fix_file == f"upload-run-{run_id}-owners.errors.csv"
    lines = (import_dir / rejected.value.fix_file).read_text(encoding="utf-8-sig").splitlines()
    assert lines[2].startswith("x2,") and "owner_id: not a positive whole number" in lines[2]
