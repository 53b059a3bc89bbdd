"""The Reports app's access rules through FastAPI's TestClient: the token by header or login cookie, never in the URL;
a short token refused at start; without a token, only this machine's host names answered (DNS rebinding); the
property filter's checks, and a snapshot's section of a long list."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pmsync.export import PROPERTY_DEACTIVATED, UNIT_DEACTIVATED, UNIT_REACTIVATED
from pmsync.platform import migrate
from reports.access import host_header_is_loopback
from reports.app import ReportsRefused, check_binding, create_app
from reports.sections import snapshot_section

TOKEN = "reports-token-0123456789abcdef"
PMSYNC = str(Path(sys.executable).with_name("pmsync"))


@pytest.fixture
def database(platform_url, platform_engine) -> str:
    migrate(platform_engine)
    return platform_url


def test_a_token_in_the_url_opens_nothing_and_the_header_does(database):
    client = TestClient(create_app(database, SecretStr(TOKEN)), base_url="http://127.0.0.1:8780")

    for path in ("/", f"/?token={TOKEN}", f"/snapshots/1?token={TOKEN}", f"/snapshots/1/deactivated-units.csv?token={TOKEN}"):
        refused = client.get(path)
        assert refused.status_code == 401 and '<form id="login" method="post" action="/login">' in refused.text, path
        assert "set-cookie" not in refused.headers and TOKEN not in refused.text
    assert client.get("/", headers={"X-Reports-Token": TOKEN[:-1] + "x"}).status_code == 401
    assert client.get("/", headers={"X-Reports-Token": TOKEN}).status_code == 200
    assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/snapshots/1/deactivated-units.csv", headers={"X-Reports-Token": TOKEN}).status_code == 404


def test_the_login_form_sets_an_http_only_strict_cookie_then_pages_open_and_it_escapes_what_it_echoes(database):
    client = TestClient(create_app(database, SecretStr(TOKEN)), base_url="http://127.0.0.1:8780")
    hostile_next = '/x"><script>alert(1)</script>'

    form = client.get("/login", params={"next": "/snapshots/3"})
    wrong = client.post("/login", data={"token": "not-the-token-<b>guess</b>", "next": hostile_next}, follow_redirects=False)
    outward = client.post("/login", data={"token": TOKEN, "next": "//evil.example/x"}, follow_redirects=False)
    signed_in = client.post("/login", data={"token": TOKEN, "next": "/snapshots/7"}, follow_redirects=False)

    assert form.status_code == 200 and '<input type="hidden" name="next" value="/snapshots/3">' in form.text
    assert wrong.status_code == 401 and "not the reports token" in wrong.text and "set-cookie" not in wrong.headers
    assert "<script>" not in wrong.text and "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in wrong.text
    assert "guess" not in wrong.text
    assert outward.status_code == 303 and outward.headers["location"] == "/"
    assert client.post("/login", content="&".join(f"f{n}=x" for n in range(9))).status_code == 400
    assert client.post("/login", content="token=" + "x" * 5000).status_code == 413
    assert "set-cookie" not in client.post("/login", data={"token": TOKEN[:-1]}).headers
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/snapshots/7"
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/" in cookie
    assert TOKEN not in cookie, "the cookie holds a value derived from the token, not the token"
    assert client.get("/").status_code == 200
    assert client.get("/snapshots/1/deactivated-units.csv").status_code == 404, "past the token check: no such snapshot"
    client.cookies.clear()
    assert client.get("/").status_code == 401


def test_a_token_shorter_than_16_characters_is_refused_at_start(database):
    with pytest.raises(ReportsRefused, match="shorter than 16 characters"):
        create_app(database, SecretStr("fifteen-chars!!"))
    with pytest.raises(ReportsRefused, match="shorter than 16 characters"):
        check_binding("0.0.0.0", SecretStr(""))
    check_binding("0.0.0.0", SecretStr("sixteen-chars!!!"))

    started = subprocess.run(
        [PMSYNC, "reports", "serve", "--port", "1"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PMSYNC_DATABASE_URL": database, "PMSYNC_REPORTS_TOKEN": "short-token", "COLUMNS": "200"},
    )
    assert started.returncode == 1
    assert "PMSYNC_REPORTS_TOKEN is shorter than 16 characters" in started.stderr.strip().splitlines()[-1]
    assert "short-token" not in started.stdout + started.stderr


def test_without_a_token_only_requests_naming_this_machine_are_answered(database):
    client = TestClient(create_app(database), base_url="http://127.0.0.1:8780")

    for host in ("127.0.0.1:8780", "localhost:8780", "LOCALHOST", "[::1]:8780", "[::1]", "127.0.0.2:80", "localhost"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "evil.example:8780", "127.0.0.1.evil.example", "localhost.evil.example:8780",
                 "0.0.0.0:8780", "10.0.0.1", "[::1]evil", "localhost:80x", "[2001:db8::1]:8780"):
        for path in ("/", "/snapshots/1/deactivated-units.csv"):
            refused = client.get(path, headers={"Host": host})
            assert refused.status_code == 403 and "answers only to this machine" in refused.text, (host, path)


@pytest.mark.parametrize("header, loopback", [
    ("127.0.0.1", True), ("127.9.9.9:1", True), ("localhost:65535", True), ("[::1]:8780", True),
    (None, False), ("", False), ("::1", False), ("evil.example", False), ("[::1", False), ("127.0.0.1:", False),
])
def test_host_headers_are_read_with_any_port(header, loopback):
    assert host_header_is_loopback(header) is loopback


def test_signing_in_returns_to_the_page_asked_for_with_its_filter_but_never_echoes_a_token(database):
    client = TestClient(create_app(database, SecretStr(TOKEN)), base_url="http://127.0.0.1:8780")

    asked = client.get(f"/snapshots/7?property=12&token={TOKEN}")
    signed_in = client.post("/login", data={"token": TOKEN, "next": "/snapshots/7?property=12"}, follow_redirects=False)

    assert asked.status_code == 401 and TOKEN not in asked.text
    assert '<input type="hidden" name="next" value="/snapshots/7?property=12">' in asked.text
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/snapshots/7?property=12"


def test_a_property_filter_that_is_no_id_is_a_404_that_says_so_and_an_empty_one_means_all(database):
    client = TestClient(create_app(database), base_url="http://127.0.0.1:8780")

    for bad in ("abc", "-1", "1.5", "²", "9" * 30, "<script>"):
        for path in ("/", "/snapshots/1", "/snapshots/1/report.csv", "/snapshots/1/report.xlsx"):
            refused = client.get(path, params={"property": bad})
            assert refused.status_code == 404 and "Property ids are whole numbers" in refused.text, (path, bad)
            assert "<script>" not in refused.text
    assert client.get("/", params={"property": ""}).status_code == 200
    assert "No reconciliation has run yet" in client.get("/", params={"property": " "}).text
    assert client.get("/snapshots/1", params={"property": ""}).status_code == 404, "no snapshot 1 on a new platform"
    for too_large in ("/snapshots/9223372036854775808", "/snapshots/99999999999999999999/report.xlsx", "/snapshots/0"):
        refused = client.get(too_large)
        assert refused.status_code == 404 and "Snapshot and property ids are whole numbers" in refused.text, too_large


def test_a_snapshot_section_shows_the_first_rows_of_a_long_list_says_there_are_more_and_escapes_names():
    taken = datetime(2026, 11, 30, 12, 0, 5, 999999, tzinfo=timezone.utc)
    snapshot = {"id": 4, "integration": "<b>main</b>", "taken_at": taken, "run_id": 9}
    unit = {"property_id": 7, "property_name": "<i>Court</i>", "unit_name": "=1+1", "changed_at": taken, "reason": "gone"}
    changes = {UNIT_DEACTIVATED: [{**unit, "unit_id": n} for n in range(3)], UNIT_REACTIVATED: [], PROPERTY_DEACTIVATED: []}

    html = snapshot_section(snapshot, changes, "/snapshots/4", [(7, "<i>Court</i>")], 7, shown_rows=2)

    assert "Property 7 · &lt;i&gt;Court&lt;/i&gt;: more than 2 units deactivated, 0 units reactivated" in html
    assert html.count("<td>=1+1</td>") == 2 and "The first 2 are shown; the downloads hold them all." in html
    assert "<b>" not in html and "<i>" not in html and "2026-11-30 12:00:05" in html
    assert 'href="/snapshots/4/report.xlsx?property=7"' in html and '<option value="7" selected>' in html
    assert 'id="reactivated-units-none">None of property 7 · &lt;i&gt;Court&lt;/i&gt;.' in html
