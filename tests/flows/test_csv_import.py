"""Owners and service providers by CSV upload, through the csv-import flow and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from flows.csv_import import csv_import
from pmsync.csv_import import CsvRejected
from pmsync.integrations import Integration
from pmsync.platform import migrate
from pmsync.runs import ensure_integration
from schemas.tables import owners, service_providers, sync_runs
from tests.flows.test_cli import run_pmsync

HEADER = "owner_id,first_name,last_name,company,email,phone,group"


def owner_line(number: int, **changes: str) -> str:
    cells = {"owner_id": str(5000 + number), "first_name": f"First{number}", "last_name": f"Last{number}", "company": "",
             "email": f"owner{number}@example.com", "phone": f"+1 555 01{number:02d}", "group": "", **changes}
    return ",".join(cells.values())


@pytest.fixture
def platform(platform_url, platform_engine, monkeypatch):
    """A migrated platform with the default integration registered (an import needs no source connection)."""
    monkeypatch.setenv("PMSYNC_DATABASE_URL", platform_url)
    migrate(platform_engine)
    with platform_engine.begin() as connection:
        ensure_integration(connection, Integration("default", "http://unused.example", "id", SecretStr("s"), "1", "u@example.com"))
    return platform_engine


def rows(engine: sa.Engine, table: sa.Table) -> list:
    with engine.connect() as connection:
        return connection.execute(sa.select(table).order_by(table.c.source_id)).all()


def test_a_valid_owners_file_imports_and_the_same_file_uploaded_again_changes_nothing(platform, tmp_path):
    lines = [owner_line(n) for n in range(1, 13)]
    lines[2] = owner_line(3, last_name="", company="Harbor Holdings LLC", group="Board")
    path = tmp_path / "owners.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")

    first = csv_import(kind="owners", path=str(path))

    assert first["counts"]["owner"] == {**first["counts"]["owner"], "fetched": 12, "created": 12}
    imported = rows(platform, owners)
    assert [r.source_id for r in imported] == [5000 + n for n in range(1, 13)]
    assert {r.group_name for r in imported if r.source_id != 5003} == {"Owners"}
    harbor = next(r for r in imported if r.source_id == 5003)
    assert (harbor.company, harbor.last_name, harbor.group_name) == ("Harbor Holdings LLC", None, "Board")

    again = csv_import(kind="owners", content=path.read_text(encoding="utf-8"))

    assert again["counts"]["owner"] == {**again["counts"]["owner"], "created": 0, "updated": 0, "unchanged": 12}
    assert rows(platform, owners) == imported


def test_a_bad_email_on_row_7_and_a_missing_name_on_row_12_write_nothing_and_name_exactly_those_cells(platform, tmp_path):
    lines = [owner_line(n) for n in range(1, 16)]
    lines[5] = owner_line(6, email="owner6@@example")
    lines[10] = owner_line(11, last_name="")
    path = tmp_path / "owners.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")

    with pytest.raises(CsvRejected) as rejected:
        csv_import(kind="owners", path=str(path))

    report = rejected.value.report
    assert [(e.row, e.column, e.value) for e in report.errors] == [(7, "email", "owner6@@example"), (12, "last_name", "")]
    assert "row 7, column email, value 'owner6@@example': not a valid e-mail address" in str(rejected.value)
    assert rows(platform, owners) == []
    fix = (tmp_path / "owners.errors.csv").read_text(encoding="utf-8-sig").splitlines()
    assert fix[0] == HEADER + ",problems" and len(fix) == 16
    assert fix[6].endswith(",email: not a valid e-mail address ('owner6@@example')")
    assert all(line.endswith(",") for number, line in enumerate(fix[1:], start=2) if number not in (7, 12))
    with platform.connect() as connection:
        run = connection.execute(sa.select(sync_runs).order_by(sync_runs.c.id.desc())).first()
    assert (run.flow, run.status) == ("csv-import", "failed") and run.error.startswith("2 problem(s) in 2 of 15 row(s)")


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

    assert refused.returncode == 1
    assert refused.stdout.strip().splitlines()[-1] == (
        f"error: {binary} was not imported: the file is binary (a NUL byte at byte 8), not CSV text"
    )
    assert len(rows(platform, service_providers)) == 2
