"""What analysts get from a reconciliation: the CSV and the workbook, the run's Prefect artifacts, the Reports app, the CLI."""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
import time
from contextlib import contextmanager
from datetime import timezone

import pandas as pd
import pytest
import requests
import sqlalchemy as sa
import uvicorn
from openpyxl import load_workbook
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from pydantic import SecretStr

from flows.initial_sync import initial_sync as initial_sync_flow
from flows.reconciliation import reconcile as reconcile_flow
from pmsync.jobs import JOBS
from reports.app import create_app
from sandbox import SANDBOX_CLIENT_SECRET
from schemas.tables import properties, reconciliation_snapshots, snapshot_deactivated_units, units
from pmsync.exports.snapshots import format_utc, restore
from tests.flows.test_cli import run_pmsync

initial_sync, reconcile = JOBS["initial-sync"], JOBS["property-reconciliation"]
DEFAULT = "/integrations/default/"
"""The pages of the environment's integration on the Reports server."""
CSV_HEADER = ["Integration", "Snapshot", "Change", "Property ID", "Property name", "Unit ID", "Unit name", "Changed at (UTC)",
              "Reason", "Evidence"]
GONE = "deleted in the source, confirmed missing"
"""The reason of a unit deleted in the source, in the analysts' words (the evidence: `GET /units/ID → 404`)."""
"""The jobs with the plain steps: what analysts get does not depend on Prefect, but for the artifacts (a flow test)."""
TRICKY_NAMES = ['=HYPERLINK("http://x","y")', "+1-555", "@SUM(A1:A9)", "-2+3", "\tTabbed", "'=already quoted",
                '<script>alert("x")</script>', "Ünïcødé, \"quoted\" 東京"]


class Site:
    """A requests session (it keeps cookies) against one server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def get(self, path: str, **options) -> requests.Response:
        return self.http.get(self.base_url + path, timeout=30, **options)


@contextmanager
def served(app, start_timeout: float = 30.0):
    """The app behind a real uvicorn server on 127.0.0.1, on a socket bound here (no port to race for); a server that
    stops or does not start within `start_timeout` seconds fails the test instead of hanging it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + start_timeout
        while not server.started:
            assert thread.is_alive(), "the reports app's server stopped while starting (see its log above)"
            assert time.monotonic() < deadline, f"the reports app's server did not start within {start_timeout:g} s"
            time.sleep(0.02)
        try:
            yield Site(f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def deactivated_rows(engine: sa.Engine, snapshot_id: int) -> dict[int, tuple]:
    """Per unit source id: (property source id, property name, unit name, deactivated at, reason) as stored."""
    sdu = snapshot_deactivated_units
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(units.c.source_id, properties.c.source_id, properties.c.name, units.c.name, sdu.c.deactivated_at, sdu.c.reason)
            .join(units, units.c.id == sdu.c.unit_id).join(properties, properties.c.id == sdu.c.property_id)
            .where(sdu.c.snapshot_id == snapshot_id)
        ).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def reconcile_tricky_names(sandbox, sync=initial_sync, reconciliation=reconcile) -> tuple[dict, list[int]]:
    """Units named like formulas (and worse), synced, then deleted in the source and reconciled away (by the jobs, or
    by the flows `sync` and `reconciliation` given)."""
    store = sandbox.store
    chosen = [
        u["id"] for u in store.records("units")
        if u.get("active") is not False and store.get("buildings", u["buildingID"])["active"]
    ][: len(TRICKY_NAMES)]
    for unit_id, name in zip(chosen, TRICKY_NAMES):
        store.update("units", unit_id, name=name)
    sync()
    for unit_id in chosen:
        store.delete("units", unit_id)
    return reconciliation(), chosen


def test_formula_like_names_come_out_of_the_csv_as_text_and_pandas_round_trips(integration_env, sandbox, platform_engine, tmp_path):
    result, chosen = reconcile_tricky_names(sandbox)
    out = tmp_path / "deactivated.csv"

    exported = run_pmsync("report", "deactivated", "--out", str(out), env=integration_env)

    assert exported.returncode == 0, exported.stdout + exported.stderr[-2000:]
    assert f"wrote snapshot {result['snapshot_id']} (default, " in exported.stdout
    assert f": {len(chosen)} unit(s) deactivated, 0 unit(s) reactivated, 0 propert(ies) deactivated" in exported.stdout
    assert out.read_bytes().startswith(b"\xef\xbb\xbf" + ",".join(CSV_HEADER).encode()), "a byte-order mark for Excel"
    with out.open(encoding="utf-8-sig", newline="") as file:
        header, *rows = list(csv.reader(file))
    assert header == CSV_HEADER
    cells = [cell for row in rows for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    names = {row[CSV_HEADER.index("Unit name")] for row in rows}
    assert "'=HYPERLINK(\"http://x\",\"y\")" in names and "'+1-555" in names and "''=already quoted" in names

    stored = deactivated_rows(platform_engine, result["snapshot_id"])
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert sorted(int(i) for i in frame["Unit ID"]) == sorted(chosen)
    for row in frame.to_dict("records"):
        unit_id = int(row["Unit ID"])
        prop_id, prop_name, unit_name, at, _ = stored[unit_id]
        assert (int(row["Property ID"]), restore(row["Property name"]), restore(row["Unit name"])) == (prop_id, prop_name, unit_name)
        assert (row["Changed at (UTC)"], row["Change"]) == (format_utc(at), "unit deactivated")
        assert (row["Reason"], row["Evidence"]) == (GONE, f"GET /units/{unit_id} → 404")
        assert (row["Integration"], int(row["Snapshot"])) == ("default", result["snapshot_id"])
    typed = pd.read_csv(out, parse_dates=["Changed at (UTC)"])
    assert typed["Unit ID"].dtype.kind == "i" and typed["Snapshot"].eq(result["snapshot_id"]).all()
    assert typed["Changed at (UTC)"].dtype.kind == "M", "pandas (and Excel) read the moments as date-times"

    unknown = run_pmsync("report", "deactivated", "--snapshot", "999", "--out", str(tmp_path / "x.csv"), env=integration_env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines()[-1].startswith("error: there is no reconciliation snapshot 999")


def test_the_workbook_keeps_formula_like_names_as_text_and_moments_as_utc_date_times(integration_env, sandbox, platform_engine, tmp_path):
    result, chosen = reconcile_tricky_names(sandbox)
    out = tmp_path / "report.xlsx"

    exported = run_pmsync("report", "deactivated", "--out", str(out), env=integration_env)
    other = run_pmsync("report", "deactivated", "--integration", "nobody", "--out", str(tmp_path / "n.xlsx"), env=integration_env)
    unsuffixed = run_pmsync("report", "deactivated", "--out", str(tmp_path / "report.txt"), env=integration_env)

    assert exported.returncode == 0, exported.stdout + exported.stderr[-2000:]
    workbook = load_workbook(out)
    assert workbook.sheetnames == ["Units deactivated", "Units reactivated", "Properties deactivated"]
    sheet = workbook["Units deactivated"]
    header, *rows = list(sheet.iter_rows())
    columns = [cell.value for cell in header]
    assert columns == ["Integration", "Snapshot", "Property ID", "Property name", "Unit ID", "Unit name",
                       "Deactivated at (UTC)", "Reason", "Evidence"], "the CSV's headers and order, less its Change"
    stored = deactivated_rows(platform_engine, result["snapshot_id"])
    assert sorted(row[4].value for row in rows) == sorted(chosen)
    for row in rows:
        cells = dict(zip(columns, row))
        unit_id = cells["Unit ID"].value
        prop_id, prop_name, unit_name, at, _ = stored[unit_id]
        assert (cells["Unit name"].data_type, cells["Unit name"].value) == ("s", unit_name), "as stored, kept as text"
        assert (cells["Property ID"].value, cells["Property name"].value) == (prop_id, prop_name)
        assert (cells["Reason"].value, cells["Evidence"].value) == (GONE, f"GET /units/{unit_id} → 404")
        moment = cells["Deactivated at (UTC)"]
        assert (moment.data_type, moment.number_format) == ("d", "yyyy-mm-dd hh:mm:ss")
        assert moment.value == at.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
    assert [list(workbook[name].values) for name in workbook.sheetnames[1:]] == [
        [("Integration", "Snapshot", "Property ID", "Property name", "Unit ID", "Unit name", "Reactivated at (UTC)", "Reason",
          "Evidence")],
        [("Integration", "Snapshot", "Property ID", "Property name", "Deactivated at (UTC)", "Reason", "Evidence")],
    ]
    assert other.returncode == 2, "a name the platform does not know is a configuration error"
    assert other.stderr.strip().splitlines()[-1].startswith("error: integration 'nobody' is not on the platform; name one of: default")
    assert unsuffixed.returncode == 2 and "end it in .csv or .xlsx" in unsuffixed.stderr
    assert not (tmp_path / "report.txt").exists() and not (tmp_path / "n.xlsx").exists()


def latest_artifact(key: str):
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=1
        )
    assert found, f"no artifact {key}"
    return found[0]


@pytest.mark.flow
def test_the_run_publishes_its_deactivated_units_and_a_link_that_opens_the_snapshot_after_sign_in(
    integration_env, sandbox, platform_url, monkeypatch
):
    token = "artifact-link-reports-token"
    with served(create_app(platform_url, SecretStr(token), "default")) as site:
        monkeypatch.setenv("PMSYNC_REPORTS_URL", site.base_url + "/")
        result, chosen = reconcile_tricky_names(sandbox, initial_sync_flow, reconcile_flow)
        snapshot_id = result["snapshot_id"]

        table = latest_artifact("reconciliation-deactivated-units-default")
        link = latest_artifact("reconciliation-report-link-default")
        report = latest_artifact("reconciliation-report-default")
        path = f"{DEFAULT}snapshots/{snapshot_id}"
        page = site.base_url + path
        assert link.data == f"[Reconciliation report of default, snapshot {snapshot_id}]({page})"
        asked = site.http.get(page, timeout=30)
        signed_in = site.http.post(site.base_url + "/login", data={"token": token, "next": path}, timeout=30)

    assert f"snapshot {snapshot_id}" in table.description
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert sorted(row["unit id"] for row in rows) == sorted(chosen)
    assert f"[Open the report]({page})" in report.data and f"[Download Excel]({page}/report.xlsx)" in report.data
    for artifact in (table, link, report):
        assert SANDBOX_CLIENT_SECRET not in json.dumps(artifact.data) + (artifact.description or "")
        assert token not in json.dumps(artifact.data) + (artifact.description or ""), "the link carries no token"
    assert asked.status_code == 401 and f'name="next" value="{path}"' in asked.text
    assert signed_in.status_code == 200 and signed_in.url == page, "signing in returns to the linked snapshot"
    assert f"Snapshot {snapshot_id} of default" in signed_in.text and 'id="deactivated-units"' in signed_in.text


def test_the_reports_app_lists_snapshots_shows_units_serves_the_csv_and_workbook_and_404s(integration_env, sandbox, platform_url, platform_engine):
    result, chosen = reconcile_tricky_names(sandbox)
    snapshot_id = result["snapshot_id"]
    with served(create_app(platform_url)) as client:
        check_pages(client, snapshot_id, platform_engine, chosen)
    with served(create_app(platform_url, integration="another")) as client:
        assert "No reconciliation has run yet" in client.get("/integrations/another/").text
        assert client.get(f"/integrations/another/snapshots/{snapshot_id}").status_code == 404, "another integration's"
        assert client.get(f"/integrations/another/snapshots/{snapshot_id}/report.xlsx").status_code == 404
        assert client.get(f"/snapshots/{snapshot_id}").status_code == 404, "a former URL leads to shown integrations only"
        assert client.get(f"{DEFAULT}snapshots/{snapshot_id}").status_code == 404, "this server shows 'another' only"


AS_TEXT = {name: "'" + name for name in TRICKY_NAMES if name.startswith(("=", "+", "-", "@", "\t", "'="))}
"""The report's cells of the tricky names a spreadsheet would read as formulas: one more leading `'` (an already
quoted formula too, or removing one `'` would not restore it)."""


def expected_csv_rows(engine: sa.Engine, snapshot_id: int, chosen: list[int]) -> list[list[str]]:
    """The CSV rows the snapshot must give: each unit deactivated, as stored, by property then unit, moments in UTC
    to the second, formula-like names as text."""
    stored = deactivated_rows(engine, snapshot_id)
    assert sorted(stored) == sorted(chosen)
    return [
        ["default", str(snapshot_id), "unit deactivated", str(prop_id), prop_name, str(unit_id), AS_TEXT.get(unit_name, unit_name),
         at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"), GONE, f"GET /units/{unit_id} → 404"]
        for unit_id, (prop_id, prop_name, unit_name, at, _) in sorted(stored.items(), key=lambda item: (item[1][0], item[0]))
    ]


def check_pages(client, snapshot_id: int, platform_engine, chosen: list[int]) -> None:
    index = client.get(DEFAULT)
    detail = client.get(f"{DEFAULT}snapshots/{snapshot_id}")
    download = client.get(f"{DEFAULT}snapshots/{snapshot_id}/report.csv")
    former_link = client.get(f"{DEFAULT}snapshots/{snapshot_id}/deactivated-units.csv")
    former_url = client.get(f"/snapshots/{snapshot_id}/report.csv")
    workbook = client.get(f"{DEFAULT}snapshots/{snapshot_id}/report.xlsx")

    assert index.status_code == detail.status_code == download.status_code == workbook.status_code == 200
    for page in (index.text, detail.text):
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and "<script>" not in page
        assert f'href="{DEFAULT}snapshots/{snapshot_id}/report.csv"' in page and "Download CSV" in page
        assert f'href="{DEFAULT}snapshots/{snapshot_id}/report.xlsx"' in page and "Download Excel" in page
    assert '<svg id="deactivations-chart"' in index.text and f'data-snapshot="{snapshot_id}"' in index.text
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    with platform_engine.connect() as connection:
        taken = connection.execute(sa.select(reconciliation_snapshots.c.taken_at).where(reconciliation_snapshots.c.id == snapshot_id))
        day = f"{taken.scalar_one().astimezone(timezone.utc):%Y-%m-%d}"
    assert f'filename="default-deactivated-units-{day}-snapshot-{snapshot_id}.csv"' in download.headers["content-disposition"]
    assert download.content.startswith(b"\xef\xbb\xbf") and former_link.content == former_url.content == download.content
    header, *rows = csv.reader(io.StringIO(download.content.decode("utf-8-sig"), newline=""))
    assert header == CSV_HEADER
    assert rows == expected_csv_rows(platform_engine, snapshot_id, chosen)
    assert workbook.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f'filename="default-deactivated-units-{day}-snapshot-{snapshot_id}.xlsx"' in workbook.headers["content-disposition"]
    assert workbook.content.startswith(b"PK"), "a zip: the .xlsx container"
    for missing in (f"{DEFAULT}snapshots/{snapshot_id + 100}", f"{DEFAULT}snapshots/{snapshot_id + 100}/report.csv",
                    f"{DEFAULT}snapshots/{snapshot_id + 100}/report.xlsx", f"{DEFAULT}snapshots/abc", "/nope",
                    f"/snapshots/{snapshot_id + 100}", "/integrations/nobody/"):
        response = client.get(missing)
        assert response.status_code == 404 and "Not found" in response.text and "Traceback" not in response.text


def test_with_a_token_the_reports_app_answers_401_without_it(integration_env, sandbox, platform_url):
    result, _ = reconcile_tricky_names(sandbox)
    with served(create_app(platform_url, SecretStr("s3cret-reports-token"))) as client:
        check_token(client, result["snapshot_id"])


def check_token(client, snapshot_id: int) -> None:
    csv_path = f"{DEFAULT}snapshots/{snapshot_id}/report.csv"
    assert client.get("/").status_code == 401
    assert client.get("/", headers={"X-Reports-Token": "wrong"}).status_code == 401
    assert client.get("/", headers={"X-Reports-Token": "s3cret-reports-token"}).status_code == 200
    assert client.get(csv_path, params={"token": "s3cret-reports-token"}).status_code == 401, "never in the URL"
    assert client.get(f"{DEFAULT}snapshots/{snapshot_id}").status_code == 401 and not client.http.cookies

    signed_in = client.http.post(client.base_url + "/login", data={"token": "s3cret-reports-token", "next": csv_path}, timeout=30)

    assert signed_in.status_code == 200 and signed_in.url == client.base_url + csv_path, "303 to the page asked for"
    assert signed_in.headers["content-type"] == "text/csv; charset=utf-8"
    assert client.get(f"{DEFAULT}snapshots/{snapshot_id}").status_code == client.get("/").status_code == 200


def test_the_command_line_previews_refuses_overrides_and_undoes(integration_env, sandbox, platform_engine):
    store = sandbox.store
    initial_sync()
    with platform_engine.connect() as connection:
        synced = sorted(connection.execute(sa.select(units.c.source_id)).scalars())
    doomed = synced[: round(len(synced) * 0.5)]
    for unit_id in doomed:
        store.delete("units", unit_id)

    preview = run_pmsync("reconcile", "--dry-run", "--allow-mass-deactivation", env=integration_env)
    refused = run_pmsync("reconcile", env=integration_env)
    forced = run_pmsync("reconcile", "--max-share", "0.6", env=integration_env)
    undone = run_pmsync("unit", "reactivate", str(doomed[0]), env=integration_env)
    again = run_pmsync("unit", "reactivate", str(doomed[0]), env=integration_env)
    exposed = run_pmsync("reports", "serve", "--host", "0.0.0.0", env=integration_env)
    building_id = store.get("units", synced[-1])["buildingID"]
    disabled = run_pmsync("property", "disable", str(building_id), env=integration_env)
    unknown = run_pmsync("property", "enable", "424242", env=integration_env)

    assert preview.returncode == 0, preview.stdout + preview.stderr[-2000:]
    assert "dry run — nothing was written" in preview.stdout and f"units deactivated: {len(doomed)}" in preview.stdout
    assert refused.returncode == 4, "refused by the guard"
    assert refused.stderr.strip().splitlines()[-1].startswith(
        f"error: would deactivate {len(doomed)} of {len(synced)} active units"
    )
    assert forced.returncode == 0 and "snapshot 1" in forced.stdout, forced.stdout + forced.stderr[-2000:]
    assert undone.returncode == 0 and f"unit {doomed[0]} " in undone.stdout and "reactivated by hand" in undone.stdout
    assert again.returncode == 4 and again.stderr.strip().splitlines()[-1] == f"error: unit {doomed[0]} is already active; nothing to undo"
    assert exposed.returncode == 2 and "PMSYNC_REPORTS_TOKEN" in exposed.stderr.strip().splitlines()[-1]
    assert disabled.returncode == 0 and f"property {building_id} " in disabled.stdout and "disabled by hand" in disabled.stdout
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines()[-1] == "error: property 424242 is not on the platform for integration 'default'; check the source id"
    with platform_engine.connect() as connection:
        active = set(connection.execute(sa.select(units.c.source_id).where(units.c.active.is_(True))).scalars())
        building = connection.execute(sa.select(properties).where(properties.c.source_id == building_id)).one()
    assert active == (set(synced) - set(doomed)) | {doomed[0]}
    assert building.manually_disabled is True and building.active is False
