"""The Reports page in real headless Chromium: the latest snapshot's units, its "Download CSV" link, and the token sign-in."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from pmsync.export import COLUMNS, format_moment, restore
from pmsync.jobs import JOBS
from tests.browser.conftest import free_port, wait_for_http
from tests.flows.test_reconciliation_report import deactivated_rows

initial_sync, reconcile = JOBS["initial-sync"], JOBS["property-reconciliation"]
"""The data the page shows is made by the jobs with the plain steps: no Prefect server is needed for it."""
PMSYNC = str(Path(sys.executable).with_name("pmsync"))
LATEST_ROWS = "return [...document.querySelectorAll('#latest #deactivated-units tbody tr')].map(r => [...r.cells].map(c => c.textContent))"


def stored_rows(engine: sa.Engine, snapshot_id: int) -> list[tuple]:
    stored = deactivated_rows(engine, snapshot_id)
    return sorted((str(p), pn, str(u), un, format_moment(at), reason) for u, (p, pn, un, at, reason) in stored.items())


def wait_for_download(folder: Path, timeout: float = 30.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [f for f in folder.iterdir() if f.suffix == ".csv"]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no CSV arrived in {folder} within {timeout:.0f} s: {[f.name for f in folder.iterdir()]}")


def test_the_reports_page_shows_the_latest_snapshot_and_downloads_its_csv(integration_env, sandbox, platform_engine, browser, tmp_path):
    store = sandbox.store
    synced = [u["id"] for u in store.records("units") if u.get("active") is not False and store.get("buildings", u["buildingID"])["active"]]
    store.update("units", synced[2], name='=HYPERLINK("http://x","y")')
    initial_sync()
    for unit_id in synced[:2]:
        store.delete("units", unit_id)
    reconcile()
    for unit_id in synced[2:4]:
        store.delete("units", unit_id)
    latest = reconcile()["snapshot_id"]
    expected = stored_rows(platform_engine, latest)
    assert sorted(row[2] for row in expected) == sorted(map(str, synced[2:4]))

    port = free_port()
    server = subprocess.Popen(
        [PMSYNC, "reports", "serve", "--port", str(port)], env={**os.environ, **integration_env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", server)
        browser.open(f"http://127.0.0.1:{port}/")
        shown = browser.run(LATEST_ROWS)
        browser.click("#latest a.download")
        downloaded = wait_for_download(tmp_path / "downloads")
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert sorted(tuple(row) for row in shown) == [(p, pn, u, un, at, reason) for p, pn, u, un, at, reason in expected]
    assert downloaded.name == f"deactivated-units-snapshot-{latest}.csv"
    with downloaded.open(encoding="utf-8", newline="") as file:
        header, *rows = list(csv.reader(file))
    assert tuple(header) == COLUMNS
    as_stored = sorted(
        (row[1], restore(row[2]), row[3], restore(row[4]), row[5], row[6]) for row in rows
    )
    assert as_stored == expected
    assert all(row[0] == "default" and row[7] == str(latest) for row in rows)


def test_with_a_token_the_page_asks_for_it_once_and_the_cookie_opens_pages_and_the_csv(integration_env, sandbox, browser, tmp_path):
    token = "browser-reports-token-4242"
    initial_sync()
    store = sandbox.store
    active = [u["id"] for u in store.records("units") if u.get("active") is not False and store.get("buildings", u["buildingID"])["active"]]
    doomed = active[:2]
    for unit_id in doomed:
        store.delete("units", unit_id)
    latest = reconcile()["snapshot_id"]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [PMSYNC, "reports", "serve", "--port", str(port)], env={**os.environ, **integration_env, "PMSYNC_REPORTS_TOKEN": token},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_http(f"{base}/", server)
        browser.open(f"{base}/?token={token}")
        url_token_title = browser.run("return document.querySelector('h1').textContent")
        browser.open(f"{base}/snapshots/{latest}")
        browser.type("#login input[name=token]", token)
        browser.click("#login button[type=submit]")
        browser.wait_for("#deactivated-units")
        after_login = browser.current_url()
        shown = browser.run("return [...document.querySelectorAll('#deactivated-units tbody tr')].length")
        cookies = browser.cookies()
        visible_to_scripts = browser.run("return document.cookie")
        browser.click("#snapshot a.download")
        downloaded = wait_for_download(tmp_path / "downloads")
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert url_token_title == "Sign in to the reports", "a token in the URL opens nothing"
    assert after_login == f"{base}/snapshots/{latest}" and shown == len(doomed)
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [("pmsync_reports_session", True, "Strict")]
    assert token not in cookies[0]["value"] and visible_to_scripts == ""
    with downloaded.open(encoding="utf-8", newline="") as file:
        header, *rows = list(csv.reader(file))
    assert tuple(header) == COLUMNS and sorted(int(row[3]) for row in rows) == sorted(doomed)
