"""The Reports page's per-run Changes view on SQLite and PostgreSQL, after real syncs against the sandbox: an
integration's recent runs with their counts, a run's changes field by field (escaped, paged), its CSV and Excel
downloads (guarded like every export), and a run of another integration or of no one as a friendly 404."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import sqlalchemy as sa
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pydantic import SecretStr

from pmsync.jobs import JOBS
from pmsync.journal.read import EXPORT_COLUMNS
from pmsync.runs.bookkeeping import ensure_integration, start_run
from reports.app import create_app
from schemas.tables import record_changes
from tests.flows.test_delta_sync import synced_lease_with_resident
from tests.unit.test_reports_app import TOKEN, register_integrations

initial_sync, delta_sync = JOBS["initial-sync"], JOBS["delta-sync"]
OTHER = "other & <co>"
OTHER_PAGE = "/integrations/other%20%26%20%3Cco%3E/"
HOSTILE_NAME = '=HYPERLINK("http://x","y")<i>\u202eTower'
"""A building's new name: formula-like, markup, and a right-to-left override."""
UTC_MOMENT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


class Rows(HTMLParser):
    """Each body row of `<table id=…>`: its cells' text, and the text of each `<li>` in them."""

    def __init__(self, html: str, table_id: str) -> None:
        super().__init__()
        self.rows: list[tuple[list[str], list[str]]] = []
        self._wanted, self._inside, self._cell, self._item = table_id, False, None, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._inside = dict(attrs).get("id") == self._wanted
        elif self._inside and tag == "tr":
            self.rows.append(([], []))
        elif self._inside and tag == "td":
            self._cell = []
        elif self._inside and tag == "li":
            self._item = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._inside = False
        elif self._inside and tag == "td":
            self.rows[-1][0].append("".join(self._cell))
            self._cell = None
        elif self._inside and tag == "li":
            self.rows[-1][1].append("".join(self._item))
            self._item = None

    def handle_data(self, data):
        for part in (self._cell, self._item):
            if part is not None:
                part.append(data)

    def body(self):
        return [row for row in self.rows if row[0]]


def test_a_runs_changes_page_and_downloads_hold_exactly_the_deltas_changes(integration_env, sandbox, platform_engine, platform_url):
    store = sandbox.store
    first = initial_sync()
    lease, _ = synced_lease_with_resident(store)
    building = next(b for b in store.records("buildings") if b["active"])
    old_rent, old_name = lease["baseRent"], building["name"]
    lease_moved, building_moved = lease["lastModifiedDateTime"], building["lastModifiedDateTime"]
    store.update("leases", lease["id"], baseRent=4321.5)
    store.update("buildings", building["id"], name=HOSTILE_NAME)
    lease_now, building_now = (store.get(kind, record["id"])["lastModifiedDateTime"]
                               for kind, record in (("leases", lease), ("buildings", building)))
    run_id = delta_sync()["run_id"]
    expected = [  # record type, source id, action, field, before, after: what the two edits changed
        ("property", building["id"], "updated", "source_data.lastModifiedDateTime", building_moved, building_now),
        ("property", building["id"], "updated", "source_data.name", old_name, HOSTILE_NAME),
        ("property", building["id"], "updated", "source_modified_at", building_moved, building_now),
        ("lease", lease["id"], "updated", "base_rent", f"{old_rent:.2f}", "4321.5"),
        ("lease", lease["id"], "updated", "source_data.baseRent", old_rent, 4321.5),
        ("lease", lease["id"], "updated", "source_data.lastModifiedDateTime", lease_moved, lease_now),
        ("lease", lease["id"], "updated", "source_modified_at", lease_moved, lease_now),
    ]
    client = TestClient(create_app(platform_url), base_url="http://127.0.0.1:8780")

    index = client.get("/integrations/default/")
    shown = client.get(f"/integrations/default/runs/{run_id}/changes")
    as_csv = client.get(f"/integrations/default/runs/{run_id}/changes.csv")
    as_xlsx = client.get(f"/integrations/default/runs/{run_id}/changes.xlsx")

    runs = {cells[0]: cells[1:8] for cells, _ in Rows(index.text, "runs").body()}
    with platform_engine.connect() as connection:
        created = connection.execute(sa.select(sa.func.count()).where(record_changes.c.run_id == first["run_id"])).scalar()
    assert runs[str(run_id)][0] == "delta" and runs[str(run_id)][3:] == ["0", "2", "0", "0"]
    assert runs[str(first["run_id"])][3:] == [str(created), "0", "0", "0"] and created > 100
    assert f'href="/integrations/default/runs/{run_id}/changes"' in index.text

    assert shown.status_code == 200, shown.text
    rows = Rows(shown.text, "changes").body()
    assert [cells[:3] for cells, _ in rows] == [["property", str(building["id"]), "updated"], ["lease", str(lease["id"]), "updated"]]
    fields = [item for _, items in rows for item in items]
    assert fields == [f"{field}: {before if isinstance(before, str) else repr(before)} → {after if isinstance(after, str) else repr(after)}"
                      for *_, field, before, after in expected]
    assert "<i>" not in shown.text and "&lt;i&gt;" in shown.text, "values are escaped"
    assert "2 record(s) changed: lease updated 1; property updated 1" in shown.text
    assert f'href="/integrations/default/runs/{run_id}/changes.xlsx"' in shown.text

    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    day = UTC_MOMENT.search(shown.text).group(0)[:10]
    assert as_csv.headers["content-disposition"] == f'attachment; filename="changes-default-run-{run_id}-{day}.csv"'
    table = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert table[0] == list(EXPORT_COLUMNS)
    assert all(UTC_MOMENT.fullmatch(row[1]) for row in table[1:])
    def in_csv(value) -> str:
        return "'" + HOSTILE_NAME.replace("\u202e", "") if value == HOSTILE_NAME else str(value)

    assert sorted(row[:1] + row[2:] for row in table[1:]) == sorted(
        [str(run_id), kind, str(source_id), action, field, in_csv(before), in_csv(after)]
        for kind, source_id, action, field, before, after in expected), "formula-like cells get a ', bidi controls go"

    assert as_xlsx.status_code == 200 and as_xlsx.headers["content-disposition"].endswith(f'-run-{run_id}-{day}.xlsx"')
    sheet = load_workbook(io.BytesIO(as_xlsx.content), read_only=True).active
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert cells[0] == list(EXPORT_COLUMNS)
    assert sorted((r[0], r[2], r[3], r[4], r[5], r[6], r[7]) for r in cells[1:]) == sorted(
        (run_id, kind, source_id, action, field, before, after.replace("\u202e", "") if after == HOSTILE_NAME else after)
        for kind, source_id, action, field, before, after in expected), "numbers stay numbers; text is text"


def test_another_integrations_run_an_unknown_run_and_a_bad_id_are_friendly_404s_and_the_token_guards_it_all(
    integration_env, sandbox, platform_engine, platform_url
):
    run_id = initial_sync()["run_id"]
    register_integrations(platform_engine, OTHER)
    with platform_engine.connect() as connection:
        other_id = connection.execute(sa.text("select id from integrations where name = :n"), {"n": OTHER}).scalar_one()
    others_run = start_run(platform_engine, other_id, "delta", ["unit"], (None, None))
    client = TestClient(create_app(platform_url), base_url="http://127.0.0.1:8780")
    guarded = TestClient(create_app(platform_url, SecretStr(TOKEN)), base_url="http://127.0.0.1:8780")

    for suffix in ("", ".csv", ".xlsx"):
        for page, run in ((OTHER_PAGE, run_id), ("/integrations/default/", others_run), ("/integrations/default/", 10**12)):
            refused = client.get(f"{page}runs/{run}/changes{suffix}")
            assert refused.status_code == 404 and f"has no run {run}: its page lists its recent runs" in refused.text, (page, run)
            assert "<co>" not in refused.text
        for bad in ("0", "abc", "9" * 30):
            refused = client.get(f"/integrations/default/runs/{bad}/changes{suffix}")
            assert refused.status_code == 404 and "run ids and page numbers" in refused.text
        assert guarded.get(f"/integrations/default/runs/{run_id}/changes{suffix}").status_code == 401
        assert guarded.get(f"/integrations/default/runs/{run_id}/changes{suffix}",
                           headers={"X-Reports-Token": TOKEN}).status_code == 200
    assert client.get(f"{OTHER_PAGE}runs/{others_run}/changes").status_code == 200
    assert "no record changed" in client.get(f"{OTHER_PAGE}runs/{others_run}/changes").text

    pages = [Rows(client.get(f"/integrations/default/runs/{run_id}/changes", params={"page": n}).text, "changes").body()
             for n in (1, 2)]
    beyond = client.get(f"/integrations/default/runs/{run_id}/changes", params={"page": 10**6})
    assert len(pages[0]) == 100 and pages[1], "a hundred records a page"
    assert not {tuple(c[:2]) for c, _ in pages[0]} & {tuple(c[:2]) for c, _ in pages[1]}
    assert beyond.status_code == 200 and "No records on page 1000000" in beyond.text
    assert client.get(f"/integrations/default/runs/{run_id}/changes", params={"page": "0"}).status_code == 404
