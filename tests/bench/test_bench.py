"""The benchmark counts what it claims: the floor reads every record once, the bench runs every operation."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import requests
import sqlalchemy as sa

from bench.floor import FLOOR_TABLES, measure_floor
from bench.portfolio import drop_postgres_database, fresh_database
from bench.run import run_bench
from pmsync.platform.database import make_engine
from pmsync.sync.rules import PROPERTYWARE_STREAMS
from pmsync.source import PropertywareClient
from pmsync.source.client import format_source_time
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID
from tests.conftest import POSTGRES_URL


def listed_ids(sandbox) -> dict[str, list[int]]:
    """Every id each listing returns, read through the product's own client (an independent path)."""
    client = PropertywareClient(sandbox.base_url, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID)
    until = {"lastModifiedDateTimeEnd": format_source_time(datetime.now(timezone.utc))}
    return {
        stream.name: [record.id for page in client.iter_pages(stream.path, stream.record, entity=stream.name,
                                                                params={**stream.list_params, **until})
                      for record in page.records]
        for stream in PROPERTYWARE_STREAMS
    }


def test_floor_stores_every_listed_record_once(sandbox, platform_url):
    expected = listed_ids(sandbox)
    floor = measure_floor(sandbox.root_url, platform_url)
    engine = make_engine(platform_url)
    with engine.connect() as connection:
        stored = {name: sorted(connection.execute(sa.select(table.c.source_id)).scalars())
                  for name, table in FLOOR_TABLES.items()}
        payload = json.loads(connection.execute(sa.select(FLOOR_TABLES["units"].c.source_data).limit(1)).scalar_one())
    engine.dispose()
    assert stored == {name: sorted(ids) for name, ids in expected.items()}
    assert floor.records == sum(len(ids) for ids in expected.values())
    assert floor.requests >= len(PROPERTYWARE_STREAMS)
    assert {"id", "buildingID", "lastModifiedDateTime"} <= set(payload)


def test_sandbox_touches_and_deletes_a_reproducible_sample(sandbox):
    control = sandbox.control_url + "/records/units/sample"
    before = {record["id"]: record["lastModifiedDateTime"] for record in sandbox.store.records("units")}
    touched = requests.post(control + "/touch", json={"share": 0.1, "seed": 3}, timeout=10).json()
    after = {record["id"]: record["lastModifiedDateTime"] for record in sandbox.store.records("units")}
    assert touched["count"] == 6 and sorted(touched["ids"]) == touched["ids"]
    assert {i for i in before if after[i] != before[i]} == set(touched["ids"])
    deleted = requests.post(control + "/delete", json={"share": 0.05, "seed": 3}, timeout=10).json()
    assert deleted["count"] == 3
    assert not set(deleted["ids"]) & {record["id"] for record in sandbox.store.records("units")}
    assert requests.post(control + "/rename", json={}, timeout=10).status_code == 400
    assert requests.post(control + "/touch", json={"share": 2}, timeout=10).status_code == 400


def test_bench_postgres_databases_are_made_fresh_and_dropped(tmp_path):
    url = fresh_database("postgresql", "pmsync_bench_test_fresh", tmp_path, POSTGRES_URL)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE leftover (id integer)"))
    engine.dispose()
    url = fresh_database("postgresql", "pmsync_bench_test_fresh", tmp_path, POSTGRES_URL)
    engine = make_engine(url)
    with engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == [], "made again from nothing"
    engine.dispose()
    drop_postgres_database("pmsync_bench_test_fresh", POSTGRES_URL)
    admin = make_engine(POSTGRES_URL)
    with admin.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM pg_database WHERE datname = 'pmsync_bench_test_fresh'"))\
            .scalar_one() == 0
    admin.dispose()


def test_bench_measures_every_operation_and_judges_every_target(tmp_path):
    """A tiny run end to end (SQLite: the database is not what it tests; the floor test runs on both): the syncs and
    CLI commands run as users run them and the report says what they did and which targets they met."""
    results = run_bench([60], ["sqlite"], tmp_path, POSTGRES_URL, progress=lambda line: None)

    [result] = results
    floor, initial, unchanged, changed, reconcile = result.operations
    assert floor.name == "floor" and floor.records == result.source_records > 0
    assert initial.records == floor.records and initial.requests == floor.requests
    assert initial.peak_rss_mb > 50 and initial.floor_ratio == initial.seconds / floor.seconds
    assert unchanged.records == 0 and unchanged.requests == len(PROPERTYWARE_STREAMS)
    touched = int(changed.note.split()[0])
    assert changed.records == touched > 0
    assert reconcile.note == "1 units removed"
    assert reconcile.requests == 2 * 2 + 1, "units and buildings: one page and one recount each; one confirming GET"

    commands = {command.label: command for command in result.commands}
    assert list(commands) == ["sync delta, nothing changed", "balance <lease>", "import owners <file>",
                              "workorder sync-now <id>", "--help", "runs", "state", "quality"]
    for label in ("sync delta, nothing changed", "balance <lease>", "import owners <file>"):
        assert not commands[label].prefect_server
        assert 0 < commands[label].own_seconds < commands[label].seconds, f"{label} wrote its own sync_runs row"
    assert not commands["workorder sync-now <id>"].prefect_server
    assert all(commands[label].prefect_server and commands[label].own_seconds is None
               for label in ("--help", "runs", "state", "quality"))

    report = (tmp_path / "REPORT.md").read_text()
    assert "| 60 | sqlite | delta, nothing changed |" in report and "× floor" in report
    assert "| 60 | sqlite | `pmsync workorder sync-now " in report and "| none configured |" in report
    for target in ("initial sync against the floor", "delta, nothing changed, Prefect server running",
                   "1% changed delta against the initial sync", "peak RSS of any command", "read-only `pmsync quality`",
                   "`pmsync balance <lease>`, no Prefect server: beyond its own work"):
        assert f"| {target}" in report, target
    assert (tmp_path / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(json.loads((tmp_path / "results.json").read_text())) == 1
    journaled, unjournaled = result.journal["journal"], result.journal["no journal"]
    assert len(journaled) == len(unjournaled) == 6
    assert all(writing > 0 for _, _, writing in journaled), "each journaled delta wrote the journal"
    assert all(writing == 0 for _, _, writing in unjournaled)
    assert "## The change journal's cost" in report and "| 60 | sqlite | 6 |" in report
