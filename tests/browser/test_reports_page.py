"""The Reports page in real headless Chromium: the integrations to pick from, each one's own page, the latest snapshot's
units, the chart, the property filter, both downloads (CSV and Excel), a run's Changes page, the token sign-in and sign-out, and a former
snapshot link; a screenshot of each page is kept under test-artifacts/screenshots/."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from openpyxl import load_workbook

from pmsync.exports.snapshots import format_utc, restore
from pmsync.jobs import JOBS
from tests.browser.conftest import free_port, wait_for_http
from tests.flows.test_reconciliation_report import CSV_HEADER, GONE, deactivated_rows

initial_sync, reconcile = JOBS["initial-sync"], JOBS["property-reconciliation"]
"""The data the page shows is made by the jobs with the plain steps: no Prefect server is needed for it."""
PMSYNC = str(Path(sys.executable).with_name("pmsync"))
LATEST_ROWS = "return [...document.querySelectorAll('#latest #deactivated-units tbody tr')].map(r => [...r.cells].map(c => c.textContent))"
CHART_BARS = "return [...document.querySelectorAll('#deactivations-chart a.bar')].map(a => [a.dataset.snapshot, a.dataset.units])"
INTEGRATION_LINKS = "return [...document.querySelectorAll('#integrations a')].map(a => [a.textContent, a.getAttribute('href')])"
SNAPSHOT_IDS = "return [...document.querySelectorAll('#snapshots tbody tr')].map(r => r.cells[0].textContent)"
RUN_CHANGES = "return [...document.querySelectorAll('#changes tbody tr')].map(r => [...r.cells].slice(0, 3).map(c => c.textContent))"
UTC_MOMENT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def stored_rows(engine: sa.Engine, snapshot_id: int) -> list[tuple]:
    """The units the snapshot deactivated (deleted in the source), as the page and the CSV show them."""
    stored = deactivated_rows(engine, snapshot_id)
    return sorted((str(p), pn, str(u), un, format_utc(at), GONE) for u, (p, pn, un, at, _) in stored.items())


def wait_for_download(folder: Path, suffix: str = ".csv", timeout: float = 30.0) -> Path:
    """The first finished download with `suffix` (Chromium writes `.crdownload` files until one is done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [f for f in folder.iterdir() if f.suffix == suffix]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} file arrived in {folder} within {timeout:.0f} s: {[f.name for f in folder.iterdir()]}")


def test_the_reports_page_shows_the_latest_snapshot_its_chart_both_downloads_and_filters_by_property(
    integration_env, sandbox, platform_engine, browser, screenshot, tmp_path, monkeypatch
):
    store = sandbox.store
    synced = [u["id"] for u in store.records("units") if u.get("active") is not False and store.get("buildings", u["buildingID"])["active"]]
    store.update("units", synced[2], name='=HYPERLINK("http://x","y")')
    initial_sync()
    for unit_id in synced[:2]:
        store.delete("units", unit_id)
    first = reconcile()["snapshot_id"]
    for unit_id in synced[2:4]:
        store.delete("units", unit_id)
    latest = reconcile()["snapshot_id"]
    expected = stored_rows(platform_engine, latest)
    assert sorted(row[2] for row in expected) == sorted(map(str, synced[2:4]))
    chosen_property = expected[0][0]
    monkeypatch.setenv("PMSYNC_INTEGRATION_NAME", "acme")
    initial_sync()
    acme_snapshot = reconcile()["snapshot_id"]
    monkeypatch.delenv("PMSYNC_INTEGRATION_NAME")

    port = free_port()
    server = subprocess.Popen(
        [PMSYNC, "reports", "serve", "--port", str(port)], env={**os.environ, **integration_env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", server)
        browser.open(f"http://127.0.0.1:{port}/")
        browser.wait_for("#integrations")
        screenshot("integrations")
        listed = browser.run(INTEGRATION_LINKS)
        browser.click('#integrations a[href="/integrations/default/"]')
        browser.wait_for("#deactivations-chart")
        screenshot("index")
        styled = browser.run("return getComputedStyle(document.querySelector('#snapshots th')).backgroundColor")
        shown = browser.run(LATEST_ROWS)
        bars = browser.run(CHART_BARS)
        chart_title = browser.run("return document.querySelector('#deactivations-chart > title').textContent")
        browser.click("#latest a.download.csv")
        downloaded = wait_for_download(tmp_path / "downloads", ".csv")
        browser.click("#latest a.download.xlsx")
        workbook_file = wait_for_download(tmp_path / "downloads", ".xlsx")
        browser.click(f'#latest #filter option[value="{chosen_property}"]')
        browser.click("#latest #filter button[type=submit]")
        browser.wait_for(f'#latest #filter option[value="{chosen_property}"][selected]')
        screenshot("index-filtered-by-property")
        filtered_url = browser.current_url()
        filtered = browser.run(LATEST_ROWS)
        browser.click("#runs a.changes")
        browser.wait_for("#changes")
        screenshot("run-changes")
        run_changes = browser.run(RUN_CHANGES), browser.current_url()
        browser.click("#all-integrations")
        browser.wait_for("#integrations")
        browser.click('#integrations a[href="/integrations/acme/"]')
        browser.wait_for("#latest")
        screenshot("acme")
        acme_page = browser.current_url(), browser.run("return document.querySelector('h1').textContent")
        acme_snapshots = browser.run(SNAPSHOT_IDS)
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert listed == [["acme", "/integrations/acme/"], ["default", "/integrations/default/"]]
    assert acme_page == (f"http://127.0.0.1:{port}/integrations/acme/", "Reconciliation reports of acme")
    assert acme_snapshots == [str(acme_snapshot)], "acme's page lists its own snapshot only"
    assert sorted(tuple(row) for row in shown) == [(p, pn, u, un, at, reason) for p, pn, u, un, at, reason in expected]
    assert bars == [[str(first), "2"], [str(latest), "2"]] and chart_title.startswith("Deactivations per snapshot")
    assert styled == "rgb(243, 243, 243)", "the content security policy lets the page's own style apply"
    assert re.fullmatch(rf"default-deactivated-units-\d{{4}}-\d\d-\d\d-snapshot-{latest}\.csv", downloaded.name)
    assert downloaded.read_bytes().startswith(b"\xef\xbb\xbf"), "a byte-order mark, so Excel reads UTF-8"
    with downloaded.open(encoding="utf-8-sig", newline="") as file:
        header, *rows = list(csv.reader(file))
    assert header == CSV_HEADER
    as_stored = sorted(
        (row[3], restore(row[4]), row[5], restore(row[6]), row[7], row[8]) for row in rows
    )
    assert as_stored == expected and all(UTC_MOMENT.fullmatch(row[7]) for row in rows)
    assert all(row[:3] == ["default", str(latest), "unit deactivated"] and row[9] == f"GET /units/{row[5]} → 404"
               for row in rows)
    assert re.fullmatch(rf"default-deactivated-units-\d{{4}}-\d\d-\d\d-snapshot-{latest}\.xlsx", workbook_file.name)
    sheet = load_workbook(workbook_file)["Units deactivated"]
    names = {cell.value: cell.data_type for cell in sheet["F"][1:]}
    assert names['=HYPERLINK("http://x","y")'] == "s", "a formula-like name is text in the workbook"
    assert sorted(str(cell.value) for cell in sheet["E"][1:]) == sorted(map(str, synced[2:4]))
    assert filtered_url.endswith(f"/integrations/default/?property={chosen_property}")
    assert sorted(run_changes[0]) == sorted(["unit", str(unit), "deactivated"] for unit in synced[2:4]), "the newest run's"
    assert run_changes[1].endswith("/changes") and "/integrations/default/runs/" in run_changes[1]
    assert sorted(tuple(row) for row in filtered) == [row for row in expected if row[0] == chosen_property]


def test_with_a_token_the_page_asks_for_it_once_and_the_cookie_opens_pages_and_the_csv(integration_env, sandbox, browser, screenshot, tmp_path):
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
        screenshot("sign-in")
        browser.type("#login input[name=token]", token)
        browser.click("#login button[type=submit]")
        browser.wait_for("#deactivated-units")
        screenshot("snapshot")
        after_login = browser.current_url()
        shown = browser.run("return [...document.querySelectorAll('#deactivated-units tbody tr')].length")
        cookies = browser.cookies()
        visible_to_scripts = browser.run("return document.cookie")
        browser.click("#snapshot a.download.csv")
        downloaded = wait_for_download(tmp_path / "downloads", ".csv")
        browser.click("#sign-out button[type=submit]")
        browser.wait_for("#login")
        screenshot("signed-out")
        after_sign_out = browser.current_url(), browser.cookies()
        browser.open(f"{base}/snapshots/{latest}")
        browser.wait_for("h1")
        reopened_title = browser.run("return document.querySelector('h1').textContent")
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert url_token_title == "Sign in to the reports", "a token in the URL opens nothing"
    assert after_login == f"{base}/integrations/default/snapshots/{latest}", "a former link leads to its integration's page"
    assert shown == len(doomed)
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [("pmsync_reports_session", True, "Strict")]
    assert token not in cookies[0]["value"] and visible_to_scripts == ""
    with downloaded.open(encoding="utf-8-sig", newline="") as file:
        header, *rows = list(csv.reader(file))
    assert header == CSV_HEADER and sorted(int(row[5]) for row in rows) == sorted(doomed)
    assert after_sign_out == (f"{base}/login", []), "signing out clears the cookie and shows the sign-in form"
    assert reopened_title == "Sign in to the reports"
