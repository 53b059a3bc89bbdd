"""The Reports app through FastAPI's TestClient: one server for every integration (each link opens its own pages, an
unknown name is a friendly 404, former URLs redirect); the token by header or login cookie, never in the URL; a short
token refused at start; without a token, only this machine's host names answered (DNS rebinding); the property
filter's checks, and a snapshot's section of a long list."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pmsync.exports.snapshots import PROPERTY_DEACTIVATED, UNIT_DEACTIVATED, UNIT_REACTIVATED
from pmsync.integrations.integration import Integration
from pmsync.platform.database import migrate
from pmsync.runs.bookkeeping import ensure_integration, start_run
from reports.access import host_header_is_loopback
from reports.app import ReportsRefused, check_binding, create_app
from reports.sections import snapshot_section
from schemas.tables import reconciliation_snapshots
from tasks.artifacts import snapshot_page

TOKEN = "reports-token-0123456789abcdef"
PMSYNC = str(Path(sys.executable).with_name("pmsync"))


ACME, BIRCH = "acme", "birch & <co>"
"""Two integrations; the second's name needs quoting in URLs and escaping in markup."""
PAGES = {ACME: "/integrations/acme/", BIRCH: "/integrations/birch%20%26%20%3Cco%3E/"}


def register_integrations(engine, *names: str) -> None:
    """The integrations on a migrated platform, as their first runs register them (no source is needed)."""
    migrate(engine)
    with engine.begin() as connection:
        for name in names:
            ensure_integration(connection, Integration(name, f"http://{len(name)}.unused.example", "id", SecretStr("s"),
                                                       "1", "u@example.com"))


def empty_snapshot(engine, name: str, active_units: int) -> int:
    """A snapshot of the integration that changed nothing; its id."""
    with engine.begin() as connection:
        integration_id = ensure_integration(connection, Integration(name, f"http://{len(name)}.unused.example", "id",
                                                                    SecretStr("s"), "1", "u@example.com"))
    run_id = start_run(engine, integration_id, "reconcile", ["unit"], (None, None))
    with engine.begin() as connection:
        return connection.execute(reconciliation_snapshots.insert().values(
            integration_id=integration_id, run_id=run_id, taken_at=datetime.now(timezone.utc),
            source_unit_count=active_units, platform_active_unit_count=active_units,
        )).inserted_primary_key[0]


@pytest.fixture
def database(platform_url, platform_engine) -> str:
    register_integrations(platform_engine, ACME, BIRCH)
    return platform_url


@pytest.fixture
def snapshots(database, platform_engine) -> dict[str, int]:
    """One snapshot per integration, told apart by their unit counts (ACME 111, BIRCH 222)."""
    return {ACME: empty_snapshot(platform_engine, ACME, 111), BIRCH: empty_snapshot(platform_engine, BIRCH, 222)}


def test_one_server_lists_every_integration_and_each_link_opens_its_own_page(database, snapshots):
    client = TestClient(create_app(database), base_url="http://127.0.0.1:8780")

    picker = client.get("/")
    pages = {name: client.get(path) for name, path in PAGES.items()}
    snapshot_pages = {name: client.get(f"{PAGES[name]}snapshots/{snapshot}") for name, snapshot in snapshots.items()}
    crossed = client.get(f"{PAGES[ACME]}snapshots/{snapshots[BIRCH]}")

    assert picker.status_code == 200
    assert f'<a class="integration" href="{PAGES[ACME]}">acme</a>' in picker.text
    assert f'<a class="integration" href="{PAGES[BIRCH]}">birch &amp; &lt;co&gt;</a>' in picker.text
    for name, page in pages.items():
        other = BIRCH if name == ACME else ACME
        assert page.status_code == 200 and f"{PAGES[name]}snapshots/{snapshots[name]}" in page.text, name
        assert f"{PAGES[other]}snapshots/" not in page.text, f"{name}'s page shows only its own snapshots"
        assert f'href="{PAGES[name]}uploads"' in page.text and f"snapshots/{snapshots[name]}/report.xlsx" in page.text
    assert "<td>111</td>" in pages[ACME].text and "<td>222</td>" in pages[BIRCH].text
    assert "<co>" not in pages[BIRCH].text and "Reconciliation reports of birch &amp; &lt;co&gt;" in pages[BIRCH].text
    for name, page in snapshot_pages.items():
        assert page.status_code == 200 and f"Snapshot {snapshots[name]} of" in page.text
    assert crossed.status_code == 404, "another integration's snapshot is not under this one's path"


def test_each_reconciliation_artifact_link_opens_its_own_integrations_snapshot(database, snapshots):
    client = TestClient(create_app(database), base_url="http://127.0.0.1:8780")

    for name, snapshot in snapshots.items():
        link = snapshot_page("http://127.0.0.1:8780/", name, snapshot)
        opened = client.get(link)
        assert link == f"http://127.0.0.1:8780{PAGES[name]}snapshots/{snapshot}"
        assert opened.status_code == 200 and opened.url == link, name
        assert f"<p>Integration {escape(name)}, taken" in opened.text, name


def test_an_unknown_integration_is_a_404_that_names_the_known_ones_and_echoes_nothing_raw(database):
    client = TestClient(create_app(database), base_url="http://127.0.0.1:8780")

    for path in ("/integrations/nobody/", "/integrations/%3Cscript%3Ealert(1)/uploads",
                 "/integrations/acme%27%20OR%20%271%27%3D%271/snapshots/1", "/integrations/ACME/"):
        refused = client.get(path)
        assert refused.status_code == 404 and "This server shows no integration named" in refused.text, path
        assert f'href="{PAGES[ACME]}"' in refused.text and f'href="{PAGES[BIRCH]}"' in refused.text
        assert "<script>" not in refused.text
    assert "&lt;script&gt;alert(1)" in client.get("/integrations/%3Cscript%3Ealert(1)/").text


def test_a_server_of_one_integration_shows_only_it_and_former_urls_redirect_to_their_integration(database, snapshots):
    only_acme = TestClient(create_app(database, integration=ACME), base_url="http://127.0.0.1:8780")
    every = TestClient(create_app(database), base_url="http://127.0.0.1:8780")

    assert only_acme.get(PAGES[ACME]).status_code == 200 and only_acme.get(PAGES[BIRCH]).status_code == 404
    assert f'href="{PAGES[BIRCH]}"' not in only_acme.get("/").text
    assert only_acme.get(f"/snapshots/{snapshots[BIRCH]}").status_code == 404, "no redirect to an integration not shown"
    former = every.get(f"/snapshots/{snapshots[BIRCH]}/report.csv?property=", follow_redirects=False)
    assert former.status_code == 307
    assert former.headers["location"] == f"{PAGES[BIRCH]}snapshots/{snapshots[BIRCH]}/report.csv?property="
    assert every.get(f"/snapshots/{snapshots[ACME]}").url.path == f"{PAGES[ACME]}snapshots/{snapshots[ACME]}"
    assert every.get(f"/snapshots/{snapshots[ACME]}/nope").status_code == 404
    uploads = every.get("/uploads")
    assert uploads.status_code == 404 and f'href="{PAGES[ACME]}uploads"' in uploads.text
    assert f'href="{PAGES[BIRCH]}uploads"' in uploads.text


def test_a_token_in_the_url_opens_nothing_and_the_header_does(database):
    client = TestClient(create_app(database, SecretStr(TOKEN)), base_url="http://127.0.0.1:8780")

    for path in ("/", f"/?token={TOKEN}", f"{PAGES[ACME]}snapshots/1?token={TOKEN}",
                 f"{PAGES[ACME]}snapshots/1/deactivated-units.csv?token={TOKEN}"):
        refused = client.get(path)
        assert refused.status_code == 401 and '<form id="login" method="post" action="/login">' in refused.text, path
        assert "set-cookie" not in refused.headers and TOKEN not in refused.text
    assert client.get("/", headers={"X-Reports-Token": TOKEN[:-1] + "x"}).status_code == 401
    assert client.get("/", headers={"X-Reports-Token": TOKEN}).status_code == 200
    assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get(f"{PAGES[ACME]}snapshots/1/deactivated-units.csv", headers={"X-Reports-Token": TOKEN}).status_code == 404


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
    assert client.get(f"{PAGES[ACME]}snapshots/1/deactivated-units.csv").status_code == 404, "past the token check: no such snapshot"
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
    assert started.returncode == 2  # a setting to fix (issue 25 item 3)
    assert "PMSYNC_REPORTS_TOKEN is shorter than 16 characters" in started.stderr.strip().splitlines()[-1]
    assert "short-token" not in started.stdout + started.stderr


def test_without_a_token_only_requests_naming_this_machine_are_answered(database):
    client = TestClient(create_app(database), base_url="http://127.0.0.1:8780")

    for host in ("127.0.0.1:8780", "localhost:8780", "LOCALHOST", "[::1]:8780", "[::1]", "127.0.0.2:80", "localhost"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "evil.example:8780", "127.0.0.1.evil.example", "localhost.evil.example:8780",
                 "0.0.0.0:8780", "10.0.0.1", "[::1]evil", "localhost:80x", "[2001:db8::1]:8780"):
        for path in ("/", f"{PAGES[ACME]}snapshots/1/deactivated-units.csv"):
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
        for path in ("", "snapshots/1", "snapshots/1/report.csv", "snapshots/1/report.xlsx"):
            path = PAGES[ACME] + path
            refused = client.get(path, params={"property": bad})
            assert refused.status_code == 404 and "Property ids are whole numbers" in refused.text, (path, bad)
            assert "<script>" not in refused.text
    assert client.get(PAGES[ACME], params={"property": ""}).status_code == 200
    assert "No reconciliation has run yet" in client.get(PAGES[ACME], params={"property": " "}).text
    assert client.get(f"{PAGES[ACME]}snapshots/1", params={"property": ""}).status_code == 404, "no snapshot 1 yet"
    for too_large in ("snapshots/9223372036854775808", "snapshots/99999999999999999999/report.xlsx", "snapshots/0"):
        too_large = PAGES[ACME] + too_large
        refused = client.get(too_large)
        assert refused.status_code == 404 and "Snapshot and property ids are whole numbers" in refused.text, too_large


def test_a_snapshot_section_shows_the_first_rows_of_a_long_list_says_there_are_more_and_escapes_names():
    taken = datetime(2026, 11, 30, 12, 0, 5, 999999, tzinfo=timezone.utc)
    snapshot = {"id": 4, "integration": "<b>main</b>", "taken_at": taken, "run_id": 9}
    unit = {"property_id": 7, "property_name": "<i>Court</i>", "unit_name": "=1+1", "changed_at": taken, "reason": "gone"}
    changes = {UNIT_DEACTIVATED: [{**unit, "unit_id": n} for n in range(3)], UNIT_REACTIVATED: [], PROPERTY_DEACTIVATED: []}

    html = snapshot_section(snapshot, changes, "/snapshots/4", [(7, "<i>Court</i>")], 7, shown_rows=2,
                            base="/integrations/main")

    assert "Property 7 · &lt;i&gt;Court&lt;/i&gt;: more than 2 units deactivated, 0 units reactivated" in html
    assert html.count("<td>=1+1</td>") == 2 and "The first 2 are shown; the downloads hold them all." in html
    assert "<b>" not in html and "<i>" not in html and "2026-11-30 12:00:05" in html
    assert 'href="/integrations/main/snapshots/4/report.xlsx?property=7"' in html and '<option value="7" selected>' in html
    assert 'id="reactivated-units-none">None of property 7 · &lt;i&gt;Court&lt;/i&gt;.' in html
