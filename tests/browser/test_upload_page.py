"""The Reports page's upload in real headless Chromium: the form tells what to upload (columns, template, size limit), a
good owners file imports with its name and plain words shown while it waits, one with a bad cell shows the cell's
problem and its fix-up CSV downloads; the import runs as the csv-import deployment on a real Prefect server and worker."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import time
from pathlib import Path

import sqlalchemy as sa
from pydantic import SecretStr

from pmsync.imports.kinds import OWNERS
from pmsync.integrations.integration import Integration
from pmsync.platform.database import migrate
from pmsync.runs.bookkeeping import ensure_integration
from schemas.tables import owners
from tests.browser.conftest import Browser, free_port, wait_for_http
from tests.browser.test_reports_page import wait_for_download
from tests.e2e.test_deployments import BIN, REPO, prefect, prefect_server  # noqa: F401 (prefect_server is a fixture)
from reports.upload_guide import QUEUED, WAITING
from tests.flows.test_csv_import import HEADER, owner_line

TOKEN = "browser-upload-token-4242"
UPLOADS = "/integrations/default/uploads"
WAITING_WORDS = set(WAITING.values()) | set(QUEUED.values())
IMPORT_SECONDS = 180
TABLE_ROWS = (
    "return [...document.querySelectorAll(arguments[0] + ' tbody tr')].map(r => [...r.cells].map(c => c.textContent))"
)
TABLE_HEAD = "return [...document.querySelectorAll(arguments[0] + ' thead th')].map(c => c.textContent)"


def upload(browser: Browser, base: str, kind: str, file: Path) -> None:
    browser.open(f"{base}{UPLOADS}")
    browser.wait_for("#upload")
    browser.click(f"#upload input[name=kind][value={kind}]")
    browser.type("#upload input[type=file]", str(file))
    browser.click("#upload button[type=submit]")


def wait_for_final_state(browser: Browser) -> str:
    """The result page refreshes itself until the import's flow run is final."""
    browser.wait_for("#upload-state[data-state=COMPLETED], #upload-state[data-state=FAILED], "
                     "#upload-state[data-state=CRASHED], #upload-state[data-state=CANCELLED]", timeout=IMPORT_SECONDS)
    return browser.run("return document.querySelector('#upload-state').dataset.state")


def register_default_integration(engine: sa.Engine) -> None:
    """An import needs the integration on the platform, not a source connection."""
    migrate(engine)
    with engine.begin() as connection:
        ensure_integration(connection, Integration("default", "http://unused.example", "id", SecretStr("s"), "1", "u@example.com"))


def test_an_upload_imports_a_good_file_and_shows_a_bad_cell_with_its_fix_up_csv(
    prefect_server, platform_url, platform_engine, browser, screenshot, tmp_path, report_measurement
):
    begun = time.monotonic()
    engine_name = "PostgreSQL" if platform_url.startswith("postgresql") else "SQLite"
    register_default_integration(platform_engine)
    import_dir = tmp_path / "imports"
    import_dir.mkdir()
    env = {**prefect_server, "PMSYNC_DATABASE_URL": platform_url, "PMSYNC_IMPORT_DIR": str(import_dir),
           "PYTHONPATH": os.environ.get("PYTHONPATH", str(REPO))}
    prefect(env, "work-pool", "create", "pmsync", "--type", "process")
    prefect(env, "deploy", "--name", "import")
    good, bad = tmp_path / "owners.csv", tmp_path / "owners <bad>.csv"
    good.write_text("\n".join([HEADER, *(owner_line(n) for n in range(1, 4))]) + "\n", encoding="utf-8")
    bad.write_text("\n".join([HEADER, owner_line(4), owner_line(5, email="owner5@@example")]) + "\n", encoding="utf-8")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "pmsync", "--name", "upload-e2e"],
                              env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    server = subprocess.Popen([str(BIN / "pmsync"), "reports", "serve", "--port", str(port)],
                              env={**env, "PMSYNC_REPORTS_TOKEN": TOKEN}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"{base}/login", server)
        ready = time.monotonic()
        browser.open(f"{base}/")
        browser.wait_for("#login")
        screenshot("1-login")
        browser.type("#login input[name=token]", TOKEN)
        browser.click("#login button[type=submit]")
        browser.wait_for("#integrations")
        browser.click('#integrations a[href="/integrations/default/"]')
        browser.wait_for("#upload-link")
        browser.click("#upload-link")
        browser.wait_for("#upload")
        screenshot("2-upload-form")
        form_url = browser.current_url()
        owner_columns = browser.run(TABLE_ROWS, "#columns-owners")
        size_limit = browser.run("return document.querySelector('#size-limit').textContent")
        browser.click("#template-owners")
        template = wait_for_download(tmp_path / "downloads")
        template_name, template_lines = template.name, template.read_text(encoding="utf-8-sig").splitlines()
        template.unlink()

        upload(browser, base, "owners", good)
        browser.wait_for("#upload-state")
        queued_state = browser.run("return document.querySelector('#upload-state').dataset.state")
        queued_words = browser.run("return document.querySelector('#upload-state').textContent")
        queued_name = browser.run("return document.querySelector('#uploaded-name').textContent")
        screenshot("3-queued")
        first_state = wait_for_final_state(browser)
        screenshot("4-imported")
        counts_head, counts = browser.run(TABLE_HEAD, "#import-counts"), browser.run(TABLE_ROWS, "#import-counts")
        imported = time.monotonic()

        upload(browser, base, "owners", bad)
        second_state = wait_for_final_state(browser)
        screenshot("5-rejected")
        rejected_name = browser.run("return document.querySelector('#uploaded-name').textContent")
        problems_head, problems = browser.run(TABLE_HEAD, "#problems"), browser.run(TABLE_ROWS, "#problems")
        browser.click("#fix-up")
        fix_up = wait_for_download(tmp_path / "downloads")
        report_measurement(
            f"upload page ({engine_name}): good file imported {imported - ready:.1f} s after sign-in, "
            f"bad file rejected {time.monotonic() - imported:.1f} s later"
        )
    finally:
        server.terminate()
        worker.terminate()
        server.wait(timeout=10)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()

    assert form_url == f"{base}{UPLOADS}"
    assert [(row[0], row[1]) for row in owner_columns] == [
        (column.name, "required" if column.in_header else "optional") for column in OWNERS.columns
    ]
    assert "of at most 20 MB" in size_limit
    assert template_name == "owners-template.csv"
    assert template_lines == [",".join(column.name for column in OWNERS.columns)]
    assert queued_state not in {"COMPLETED", "FAILED"}, "the page shows the queued run and refreshes itself until it ends"
    assert queued_words in WAITING_WORDS and queued_name == "owners.csv"
    assert rejected_name == "owners <bad>.csv"
    assert first_state == "COMPLETED", (tmp_path / "worker.log").read_text()[-3000:]
    counted = dict(zip(counts_head, counts[0]))
    assert counted["entity"] == "owner" and counted["fetched"] == "3" and counted["created"] == "3"
    with platform_engine.connect() as connection:
        stored = connection.execute(sa.select(owners.c.source_id).order_by(owners.c.source_id)).scalars().all()
    assert stored == [5001, 5002, 5003], "the rejected file wrote nothing"

    assert second_state == "FAILED"
    assert [dict(zip(problems_head, row)) for row in problems] == [
        {"row": "3", "column": "email", "value": "owner5@@example", "problem": "not a valid e-mail address"},
    ]
    assert re.fullmatch(r"upload-[0-9a-f]{32}-owners\.errors\.csv", fix_up.name)
    with fix_up.open(encoding="utf-8-sig", newline="") as file:
        header, *rows = list(csv.reader(file))
    assert header == [*HEADER.split(","), "problems"]
    assert [row[-1] for row in rows] == ["", "email: not a valid e-mail address ('owner5@@example')"]
    uploaded = sorted(path.name for path in import_dir.iterdir())
    assert len(uploaded) == 3 and all(re.fullmatch(r"upload-[0-9a-f]{32}-owners(\.errors)?\.csv", n) for n in uploaded)
    report_measurement(f"upload page browser test ({engine_name}): {time.monotonic() - begun:.1f} s "
                       "after the Prefect server was up")
