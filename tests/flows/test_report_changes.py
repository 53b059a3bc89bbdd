"""The report covers what a reconciliation changed: units deactivated, units reactivated and properties deactivated, each
with its property, in the CSV, the workbook and the page; the page filters by property and charts deactivations."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import sqlalchemy as sa
from openpyxl import load_workbook

from pmsync.jobs import JOBS
from reports.app import create_app
from schemas.tables import properties, snapshot_deactivated_properties, snapshot_reactivated_units, units
from tests.flows.test_cli import run_pmsync
from tests.flows.test_reconciliation_report import served

initial_sync, reconcile = JOBS["initial-sync"], JOBS["property-reconciliation"]


class Tables(HTMLParser):
    """The text of each cell of each `<table id=…>` body, and the attributes of the chart's bars and the filter's options."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.bars: list[dict[str, str]] = []
        self.options: list[dict[str, str]] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "table":
            self._table = found.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag == "td" and self._table is not None:
            self._cell = []
        elif tag == "a" and "bar" in found.get("class", ""):
            self.bars.append(found)
        elif tag == "option":
            self.options.append(found)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def body(self, table_id: str) -> list[list[str]]:
        return [row for row in self.tables.get(table_id, []) if row]


def reconcile_every_kind_of_change(sandbox) -> dict:
    """Snapshot 1 deactivates two units of property X; snapshot 2 reactivates one of them, deactivates a unit of property Y
    and deactivates property Z. Their source ids and names."""
    store = sandbox.store
    initial_sync()
    active = [u for u in store.records("units") if u.get("active") is not False and store.get("buildings", u["buildingID"])["active"]]
    by_building: dict[int, list[dict]] = {}
    for unit in active:
        by_building.setdefault(unit["buildingID"], []).append(unit)
    x, y, z = [building for building, its_units in sorted(by_building.items()) if len(its_units) >= 2][:3]
    a, b = by_building[x][:2]
    c = by_building[y][0]
    for unit in (a, b):
        store.delete("units", unit["id"])
    first = reconcile(allow_mass_deactivation=True)["snapshot_id"]
    store.add("units", a)
    store.delete("units", c["id"])
    store.deactivate("buildings", z)
    second = reconcile(allow_mass_deactivation=True)["snapshot_id"]
    names = {building: store.get("buildings", building)["name"] for building in (x, y, z)}
    return {"first": first, "second": second, "x": x, "y": y, "z": z, "a": a["id"], "b": b["id"], "c": c["id"], "names": names}


def test_every_kind_of_change_is_listed_with_its_property_in_the_csv_the_workbook_and_the_page(
    integration_env, sandbox, platform_url, platform_engine, tmp_path
):
    run = reconcile_every_kind_of_change(sandbox)
    second, x, y, z, names = run["second"], run["x"], run["y"], run["z"], run["names"]

    exported = run_pmsync("report", "deactivated", "--out", str(tmp_path / "all.csv"), env=integration_env)
    of_y = run_pmsync("report", "deactivated", "--property", str(y), "--out", str(tmp_path / "y.csv"), env=integration_env)
    workbook = run_pmsync("report", "deactivated", "--snapshot", str(second), "--out", str(tmp_path / "all.xlsx"), env=integration_env)

    assert exported.returncode == of_y.returncode == workbook.returncode == 0, exported.stderr + of_y.stderr + workbook.stderr
    assert ": 1 unit(s) deactivated, 1 unit(s) reactivated, 1 propert(ies) deactivated" in exported.stdout
    with (tmp_path / "all.csv").open(encoding="utf-8-sig", newline="") as file:
        rows = [(r["Change"], int(r["Property ID"]), r["Property name"], r["Unit ID"], int(r["Snapshot"]), r["Reason"],
                 r["Evidence"]) for r in csv.DictReader(file)]
    assert rows == [
        ("unit deactivated", y, names[y], str(run["c"]), second, "deleted in the source, confirmed missing",
         f"GET /units/{run['c']} → 404"),
        ("unit reactivated", x, names[x], str(run["a"]), second, "active in the source again", "listed again by GET /units"),
        ("property deactivated", z, names[z], "", second, "deactivated in the source, confirmed inactive",
         f"GET /buildings/{z} → active: false"),
    ]
    with (tmp_path / "y.csv").open(encoding="utf-8-sig", newline="") as file:
        assert [(r["Change"], r["Unit ID"]) for r in csv.DictReader(file)] == [("unit deactivated", str(run["c"]))]
    book = load_workbook(tmp_path / "all.xlsx")
    sheets = {name: list(book[name].values)[1:] for name in book.sheetnames}
    assert [row[2:5] + row[7:] for row in sheets["Units deactivated"]] == [
        (y, names[y], run["c"], "deleted in the source, confirmed missing", f"GET /units/{run['c']} → 404")]
    assert [row[2:5] + row[7:] for row in sheets["Units reactivated"]] == [
        (x, names[x], run["a"], "active in the source again", "listed again by GET /units")]
    assert [row[2:4] + row[5:] for row in sheets["Properties deactivated"]] == [
        (z, names[z], "deactivated in the source, confirmed inactive", f"GET /buildings/{z} → active: false")]
    with platform_engine.connect() as connection:
        reactivated = connection.execute(
            sa.select(snapshot_reactivated_units.c.snapshot_id, units.c.source_id, properties.c.source_id)
            .join(units, units.c.id == snapshot_reactivated_units.c.unit_id)
            .join(properties, properties.c.id == snapshot_reactivated_units.c.property_id)
        ).all()
        gone_properties = connection.execute(
            sa.select(snapshot_deactivated_properties.c.snapshot_id, properties.c.source_id)
            .join(properties, properties.c.id == snapshot_deactivated_properties.c.property_id)
        ).all()
    assert reactivated == [(second, run["a"], x)] and gone_properties == [(second, z)], "one row per unit/property per snapshot"

    with served(create_app(platform_url, integration="default")) as site:
        pages = "/integrations/default/"
        latest = Tables(site.get(pages).text)
        of_x = Tables(site.get(pages, params={"property": x}).text)
        page_of_z = Tables(site.get(f"{pages}snapshots/{second}", params={"property": str(z)}).text)
        download_of_y = site.get(f"{pages}snapshots/{second}/report.csv", params={"property": y})
        first_of_x = Tables(site.get(f"{pages}snapshots/{run['first']}", params={"property": x}).text)

    assert [row[2] for row in latest.body("deactivated-units")] == [str(run["c"])]
    assert [row[:3] for row in latest.body("reactivated-units")] == [[str(x), names[x], str(run["a"])]]
    assert [row[:2] for row in latest.body("deactivated-properties")] == [[str(z), names[z]]]
    assert [(bar["data-snapshot"], bar["data-units"], bar["data-properties"]) for bar in latest.bars] == [
        (str(run["first"]), "2", "0"), (str(second), "1", "1"),
    ], "oldest snapshot first"
    assert {option["value"] for option in latest.options} == {"", str(x), str(y), str(z)}
    assert of_x.body("deactivated-units") == [] and of_x.body("deactivated-properties") == []
    assert [row[2] for row in of_x.body("reactivated-units")] == [str(run["a"])]
    assert [option["value"] for option in of_x.options if "selected" in option] == [str(x)]
    assert [(bar["data-units"], bar["data-properties"]) for bar in of_x.bars] == [("2", "0"), ("0", "0")]
    assert [row[0] for row in page_of_z.body("deactivated-properties")] == [str(z)] and page_of_z.body("reactivated-units") == []
    assert sorted(row[2] for row in first_of_x.body("deactivated-units")) == sorted(map(str, (run["a"], run["b"])))
    assert re.search(rf'filename="default-deactivated-units-\d{{4}}-\d\d-\d\d-snapshot-{second}-property-{y}.csv"',
                     download_of_y.headers["content-disposition"])
    assert [r["Unit ID"] for r in csv.DictReader(io.StringIO(download_of_y.content.decode("utf-8-sig")))] == [str(run["c"])]
