"""The Reports page's upload refusals through FastAPI's TestClient: oversize, not .csv, an unknown kind, another origin,
no Prefect server configured (nothing stored in each case), and path tricks on the fix-up download."""

from __future__ import annotations

import uuid
from pathlib import Path

import prefect  # noqa: F401 (loaded before the tests set PREFECT_API_URL, as in a full run: the page must read it per request)
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

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
    assert oversize.status_code == 413 and "larger than 1,000 bytes (PMSYNC_IMPORT_MAX_BYTES)" in oversize.text
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


def test_without_a_prefect_server_configured_the_page_says_what_to_set_and_stores_nothing(client, import_dir, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "")

    form = client.get(UPLOADS)
    upload = post(client)
    result = client.get(f"{UPLOADS}/{uuid.uuid4()}")

    for answer in (form, upload, result):
        assert answer.status_code == 503 and "set <code>PREFECT_API_URL</code>" in answer.text
    assert '<form id="upload"' not in form.text
    assert list(import_dir.iterdir()) == []


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
