"""The Reports page's upload through FastAPI's TestClient: what it tells analysts to upload (each kind's columns from the
import's own definitions, a template that imports, the size limit in MB); its refusals: oversize, not .csv, an unknown
kind, another origin, an operator's problem (no Prefect server, no import directory: plain words for the analyst, the
details in the server log; nothing stored in each case), and path tricks on the fix-up download."""

from __future__ import annotations

import csv
import io
import logging
import re
import uuid
from pathlib import Path

import prefect  # noqa: F401 (loaded before the tests set PREFECT_API_URL, as in a full run: the page must read it per request)
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pmsync.imports.kinds import KINDS, check_file
from reports.app import create_app
from tests.e2e.test_deployments import free_port

BASE = "http://127.0.0.1:8780"
UPLOADS = "/integrations/default/uploads"
SAME_ORIGIN = {"Origin": BASE}
MAX_BYTES = 1000
TOKEN = "upload-token-0123456789abcdef"
GOOD_CSV = b"owner_id,first_name,last_name,email\n5001,Ann,Lee,ann@example.com\n"


@pytest.fixture
def import_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PMSYNC_IMPORT_DIR with a small cap, and a Prefect API URL where nothing listens (no upload may reach it)."""
    folder = tmp_path / "imports"
    folder.mkdir()
    monkeypatch.setenv("PMSYNC_IMPORT_DIR", str(folder))
    monkeypatch.setenv("PMSYNC_IMPORT_MAX_BYTES", str(MAX_BYTES))
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")
    return folder


@pytest.fixture
def client(import_dir: Path, tmp_path: Path) -> TestClient:
    """The app over a database it never opens for these pages."""
    return TestClient(create_app(f"sqlite:///{tmp_path / 'unused.db'}", integration="default"), base_url=BASE)


def post(client: TestClient, kind: str = "owners", name: str = "owners.csv", data: bytes = GOOD_CSV, **headers: str):
    return client.post(UPLOADS, data={"kind": kind}, files={"file": (name, data, "text/csv")},
                       headers={**SAME_ORIGIN, **headers}, follow_redirects=False)


def test_the_form_offers_both_kinds_and_refuses_oversize_other_suffixes_unknown_kinds_and_other_origins(client, import_dir):
    form = client.get(UPLOADS)
    oversize = post(client, data=b"owner_id\n" + b"5" * MAX_BYTES)
    not_csv = post(client, name='owners.xlsx"><script>alert(1)</script>')
    unknown_kind = post(client, kind="tenants")
    no_file = client.post(UPLOADS, data={"kind": "owners"}, headers=SAME_ORIGIN, follow_redirects=False)
    cross_site = post(client, Origin="http://evil.example")
    no_origin = client.post(UPLOADS, data={"kind": "owners"}, files={"file": ("o.csv", GOOD_CSV)}, follow_redirects=False)
    huge_body = client.post(UPLOADS, content=b"x" * (MAX_BYTES + 20_000),
                            headers={**SAME_ORIGIN, "Content-Type": "multipart/form-data; boundary=b"}, follow_redirects=False)

    assert form.status_code == 200 and f'<form id="upload" method="post" action="{UPLOADS}" enctype="multipart/form-data">' in form.text
    assert 'value="owners"' in form.text and 'value="service-providers"' in form.text
    assert oversize.status_code == 413 and "larger than 0.000954 MB (PMSYNC_IMPORT_MAX_BYTES)" in oversize.text
    assert huge_body.status_code == 413
    assert not_csv.status_code == 400 and "is not a .csv file" in not_csv.text
    assert "<script>" not in not_csv.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in not_csv.text
    assert unknown_kind.status_code == 400 and "owners or service providers" in unknown_kind.text
    assert no_file.status_code == 400 and "choose a .csv file" in no_file.text
    assert cross_site.status_code == 403 and no_origin.status_code == 403
    assert list(import_dir.iterdir()) == []


def test_an_upload_the_prefect_server_does_not_take_leaves_nothing_stored(client, import_dir):
    refused = post(client)

    assert refused.status_code == 502 and "did not take the import (ConnectError)" in refused.text
    assert list(import_dir.iterdir()) == []


UNAVAILABLE = "Uploads are not available yet; tell your operator."


def test_without_a_prefect_server_configured_the_analyst_is_told_to_ask_the_operator_and_the_log_says_what_to_set(
    client, import_dir, monkeypatch, caplog
):
    monkeypatch.setenv("PREFECT_API_URL", "")

    with caplog.at_level(logging.ERROR, logger="pmsync.reports"):
        form = client.get(UPLOADS)
        upload = post(client)
        result = client.get(f"{UPLOADS}/{uuid.uuid4()}")

    for answer in (form, upload, result):
        assert answer.status_code == 503 and UNAVAILABLE in answer.text
        assert "PREFECT_API_URL" not in answer.text and "deployment" not in answer.text, "no operator details"
    assert '<form id="upload"' not in form.text
    logged = [record.getMessage() for record in caplog.records if record.name == "pmsync.reports"]
    assert len(logged) == 3 and all("uploads into default are not available" in line and "set PREFECT_API_URL" in line
                                    for line in logged)
    assert list(import_dir.iterdir()) == []


def test_without_the_import_directory_the_analyst_is_told_to_ask_the_operator_and_the_log_names_it(
    client, import_dir, caplog
):
    import_dir.rmdir()

    with caplog.at_level(logging.ERROR, logger="pmsync.reports"):
        upload = post(client)

    assert upload.status_code == 503 and UNAVAILABLE in upload.text and "PMSYNC_IMPORT_DIR" not in upload.text
    [logged] = [record.getMessage() for record in caplog.records if record.name == "pmsync.reports"]
    assert f"the import directory {import_dir} does not exist" in logged and "PMSYNC_IMPORT_DIR" in logged
    assert not import_dir.exists()


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The body rows of the table `table_id`, as the text of their cells."""
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_the_form_lists_each_kinds_required_and_optional_columns_as_the_import_defines_them(client):
    form = client.get(UPLOADS).text

    for name, kind in KINDS.items():
        rows = table_rows(form, f"columns-{name}")
        assert [row[0] for row in rows] == [column.name for column in kind.columns], name
        assert [row[1] for row in rows] == ["required" if column.in_header else "optional" for column in kind.columns]
        assert [int(row[3]) for row in rows] == [column.max_length for column in kind.columns]
        assert f'<a id="template-{name}" class="download" href="{UPLOADS}/templates/{name}.csv" download>' in form
    owners = {row[0]: row for row in table_rows(form, "columns-owners")}
    assert owners["owner_id"][2] == "required" and owners["email"][2] == "required", "their checks refuse a blank"
    assert owners["phone"][1:3] == ["optional", "optional"] and owners["group"][2] == "optional (blank: Owners)"
    assert owners["owner_id"][4] == "id" and owners["company"][4] == "company_name"


def test_each_template_is_the_header_row_the_import_reads_and_filled_in_it_imports(client):
    for name, kind in KINDS.items():
        template = client.get(f"{UPLOADS}/templates/{name}.csv")
        header = next(csv.reader(io.StringIO(template.content.decode("utf-8-sig"))))
        row = {"owner_id": "5001", "vendor_id": "7001", "first_name": "Ann", "last_name": "Lee", "email": "a@example.com",
               "company_name": "Leak Co"}
        filled = template.content + (",".join(row.get(column, "") for column in header) + "\r\n").encode()

        assert template.status_code == 200 and template.headers["content-type"] == "text/csv; charset=utf-8"
        assert template.headers["content-disposition"] == f'attachment; filename="{name}-template.csv"'
        assert template.content.startswith(b"\xef\xbb\xbf") and header == [column.name for column in kind.columns]
        report = check_file(kind, filled)
        assert (report.rows, report.errors) == (1, []), name
    assert client.get(f"{UPLOADS}/templates/tenants.csv").status_code == 404


@pytest.mark.parametrize("max_bytes, shown", [(20 * 1024 * 1024, "20 MB"), (1536 * 1024, "1.5 MB")])
def test_the_form_gives_the_size_limit_in_megabytes(import_dir, tmp_path, monkeypatch, max_bytes, shown):
    monkeypatch.setenv("PMSYNC_IMPORT_MAX_BYTES", str(max_bytes))
    form = TestClient(create_app(f"sqlite:///{tmp_path / 'unused.db'}", integration="default"), base_url=BASE).get(UPLOADS)

    assert f"of at most {shown}. " in form.text


def test_a_fix_up_is_named_by_its_uploads_flow_run_id_never_by_a_file_name_or_path(client, import_dir, tmp_path):
    """Which fix-up a run has, and whose it is, comes from the Prefect server (tests/flows/test_upload_scope.py); a
    name or path in the URL serves nothing."""
    stem = f"upload-{uuid.uuid4().hex}-owners"
    (import_dir / f"{stem}.errors.csv").write_text("owner_id,problems\n1,\n", encoding="utf-8")
    secret = tmp_path / "secret.errors.csv"
    secret.write_text("password,problems\nhunter2,\n", encoding="utf-8")
    tricks = [
        f"/fix-ups/{stem}.errors.csv", "/fix-ups/..%2Fsecret.errors.csv",
        f"/{stem}.errors.csv", f"/{stem}/fix-up.csv", "/..%2Fsecret.errors.csv/fix-up.csv",
        f"/{'%2F'.join(str(secret).split('/'))}/fix-up.csv", "/%2E%2E/fix-up.csv",
        "/not-a-uuid", "/..%2F..%2Fetc%2Fpasswd",
    ]
    tricks = [prefix + trick for trick in tricks for prefix in (UPLOADS, "/uploads")]

    for path in tricks:
        refused = client.get(path)
        assert refused.status_code == 404 and "hunter2" not in refused.text and "owner_id" not in refused.text, path
    unreachable = client.get(f"{UPLOADS}/{uuid.uuid4()}/fix-up.csv")
    assert unreachable.status_code == 502 and "did not answer (ConnectError)" in unreachable.text


def test_with_a_token_an_upload_needs_the_sign_in(import_dir, tmp_path):
    client = TestClient(create_app(f"sqlite:///{tmp_path / 'unused.db'}", SecretStr(TOKEN), "default"), base_url=BASE)

    refused = post(client)

    assert refused.status_code == 401 and '<form id="login"' in refused.text
    assert client.get(UPLOADS, headers={"X-Reports-Token": TOKEN}).status_code == 200
    assert list(import_dir.iterdir()) == []
