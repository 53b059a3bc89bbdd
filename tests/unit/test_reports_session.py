"""The Reports sign-in through FastAPI's TestClient: a 12-hour cookie whose signed issue time the client cannot move,
sign-out, failed sign-ins limited per address, and the headers every response carries (no sniffing, no framing)."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pmsync.platform.database import make_engine
from reports.access import Sessions
from reports.app import create_app
from reports.signin import FAILURE_WINDOW_SECONDS, SignInThrottle
from tests.e2e.test_deployments import free_port
from tests.unit.test_reports_app import register_integrations

TOKEN = "session-token-0123456789abcdef"
BASE = "http://127.0.0.1:8780"
UPLOADS = "/integrations/default/uploads"
TWELVE_HOURS = 12 * 60 * 60


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A platform on SQLite with one integration (these pages read no other rows; the database does not matter here)."""
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    register_integrations(make_engine(url), "default")
    return url


@pytest.fixture
def app(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The app with a token; its upload form needs a Prefect server configured (nothing listens there)."""
    monkeypatch.setenv("PMSYNC_IMPORT_DIR", str(tmp_path))
    monkeypatch.setenv("PMSYNC_IMPORT_MAX_BYTES", "1000")
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")
    return create_app(database, SecretStr(TOKEN))


def sign_in(client: TestClient, token: str = TOKEN):
    return client.post("/login", data={"token": token, "next": UPLOADS}, follow_redirects=False)


def with_cookie(app, value: str) -> int:
    """The status of a page asked for with only this session cookie."""
    return TestClient(app, base_url=BASE, cookies={"pmsync_reports_session": value}).get(UPLOADS).status_code


def test_the_sign_in_lasts_12_hours_by_its_signed_issue_time_and_sign_out_ends_it(app):
    client = TestClient(app, base_url=BASE)
    signed_in = sign_in(client)
    cookie = client.cookies["pmsync_reports_session"]
    issued, nonce, signature = cookie.split(".")
    now = int(time.time())
    sessions = Sessions(SecretStr(TOKEN), clock=lambda: now - TWELVE_HOURS - 1)

    assert signed_in.status_code == 303 and "Max-Age=43200" in signed_in.headers["set-cookie"]
    assert abs(int(issued) - now) <= 5 and TOKEN not in cookie
    assert client.get(UPLOADS).status_code == 200 and 'id="sign-out"' in client.get(UPLOADS).text
    assert with_cookie(app, f"{now + TWELVE_HOURS}.{nonce}.{signature}") == 401, "a moved issue time breaks the signature"
    assert with_cookie(app, f"{issued}.{nonce}x.{signature}") == 401
    assert with_cookie(app, sessions.issue()) == 401, "issued more than 12 hours ago"
    assert with_cookie(app, Sessions(SecretStr(TOKEN), clock=lambda: now - TWELVE_HOURS + 60).issue()) == 200
    assert with_cookie(app, Sessions(SecretStr(TOKEN + "-other")).issue()) == 401, "signed with another token"

    signed_out = client.post("/logout", follow_redirects=False)

    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
    assert re.search(r'pmsync_reports_session=""; .*Max-Age=0', signed_out.headers["set-cookie"])
    assert "pmsync_reports_session" not in client.cookies
    assert client.get(UPLOADS).status_code == 401
    assert with_cookie(app, cookie) == 401, "a copy of a signed-out cookie opens nothing either"
    assert with_cookie(app, Sessions(SecretStr(TOKEN)).issue()) == 200, "other sign-ins go on"


def test_five_failed_sign_ins_from_an_address_get_429_until_the_window_passes_and_a_success_resets_the_count(app):
    client = TestClient(app, base_url=BASE)
    for _ in range(4):
        assert sign_in(client, "wrong-token-0123456789").status_code == 401
    assert sign_in(client).status_code == 303, "a success clears the count"
    signed_in = dict(client.cookies)
    client.cookies.clear()
    failures = [sign_in(client, "wrong-token-0123456789").status_code for _ in range(4)]
    failures.append(client.get("/", headers={"X-Reports-Token": "wrong-header-token-0123"}).status_code)

    locked = sign_in(client)
    by_header = client.get("/", headers={"X-Reports-Token": TOKEN})
    by_bearer = client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})

    assert failures == [401] * 5
    for refused in (locked, by_header, by_bearer):
        assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= FAILURE_WINDOW_SECONDS
        assert "set-cookie" not in refused.headers and "try again in" in refused.text
    assert TestClient(app, base_url=BASE, cookies=signed_in).get(UPLOADS).status_code == 200, (
        "a session signed in before goes on"
    )
    assert client.get("/").status_code == 401, "no credentials: the sign-in form, no lock-out page"


def test_the_throttle_forgets_failures_older_than_its_window_and_counts_each_address_alone():
    now = [1000.0]
    throttle = SignInThrottle(clock=lambda: now[0])
    for step in range(5):
        now[0] = 1000.0 + step
        throttle.failed("198.51.100.7")

    assert throttle.retry_after("198.51.100.7") == FAILURE_WINDOW_SECONDS - 4
    assert throttle.retry_after("203.0.113.9") is None
    now[0] = 1000.0 + FAILURE_WINDOW_SECONDS + 0.5
    assert throttle.retry_after("198.51.100.7") is None, "the oldest failure left the window"
    throttle.failed("198.51.100.7")
    assert throttle.retry_after("198.51.100.7") == 1, "five within the window again, until the one at 1001 s leaves it"
    throttle.succeeded("198.51.100.7")
    assert throttle.retry_after("198.51.100.7") is None


def test_every_response_forbids_framing_and_sniffing_and_the_policy_allows_the_pages_own_style(app, database):
    client = TestClient(app, base_url=BASE)
    sign_in(client)
    answers = [
        client.get("/"), client.get("/integrations/default/snapshots/1"), client.get("/login"), client.get(UPLOADS),
        TestClient(app, base_url=BASE).get("/"),
        client.post(UPLOADS, content=b"x" * 20_000, headers={"Origin": BASE, "Content-Type": "text/csv"}),
        TestClient(create_app(database), base_url=BASE).get("/", headers={"Host": "evil.example"}),
    ]

    for answer in answers:
        headers = answer.headers
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY", answer.url
        policy = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))
        assert policy["frame-ancestors"] == "'none'" and policy["default-src"] == "'none'"
        style = re.search(r"<style>(.*?)</style>", answer.text, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert policy["style-src"] == f"'sha256-{digest}'", "the page's own <style> is allowed, no other inline style"
    assert [answer.status_code for answer in answers] == [200, 404, 200, 200, 401, 413, 403]
    assert answers[5].headers["connection"] == "close", "an unread body is not drained"
