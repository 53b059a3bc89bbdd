"""The change journal on SQLite and PostgreSQL: what each sync, reconciliation and import changed, field by field,
seen in `pmsync changes`, `explain`, the run's artifact and a forced sync's last lines; pruned by the runs."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa

from pmsync.sync.explain import explain
from pmsync.integrations.integration import integration_from_environment
from pmsync.jobs import JOBS
from pmsync.jobs.steps import PLAIN_STEPS
from pmsync.journal.read import EXPORT_COLUMNS, changes_of_run, export_rows, find_changes
from pmsync.journal.record import jsonable
from schemas.tables import leases, properties, record_changes, sync_run_entities, units
from tests.flows.test_cli import run_pmsync
from tests.flows.test_commerce import lease_with_open_charge_and_payment
from tests.flows.test_csv_import import HEADER, csv_import, import_dir, owner_line, platform  # noqa: F401 (fixtures)
from tests.flows.test_delta_sync import one, synced_lease_with_resident
from tests.flows.test_reconciliation import synced_unit_ids

initial_sync, delta_sync, reconcile = JOBS["initial-sync"], JOBS["delta-sync"], JOBS["property-reconciliation"]


def journal_of(engine: sa.Engine, run_id: int) -> dict[tuple[str, int], dict]:
    return {(c["entity"], c["source_id"]): c for c in find_changes(engine, "default", run_id=run_id, limit=100_000)}


def counted(engine: sa.Engine, run_id: int) -> dict[tuple[str, str], int]:
    """{(entity, created|updated): n} of the run's counts, zeros left out."""
    with engine.connect() as connection:
        rows = connection.execute(sa.select(sync_run_entities).where(sync_run_entities.c.run_id == run_id)).all()
    return {(r.entity, name): getattr(r, name) for r in rows for name in ("created", "updated") if getattr(r, name)}


def journaled(changes: dict) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for (entity, _), change in changes.items():
        found[(entity, change["action"])] = found.get((entity, change["action"]), 0) + 1
    return found


def test_a_delta_journals_each_changed_field_old_and_new_and_nothing_unchanged(integration_env, sandbox, platform_engine):
    store = sandbox.store
    first = initial_sync()
    created = journal_of(platform_engine, first["run_id"])
    assert journaled(created) == counted(platform_engine, first["run_id"])
    assert {c["action"] for c in created.values()} == {"created"} and all(c["changes"] is None for c in created.values())

    lease, _ = synced_lease_with_resident(store)
    building = next(b for b in store.records("buildings") if b["active"])
    rent_before = one(platform_engine, leases, lease["id"]).base_rent
    name_before = one(platform_engine, properties, building["id"]).source_data["name"]
    store.update("leases", lease["id"], baseRent=4321.5)
    store.update("buildings", building["id"], name="Renamed Tower")
    summaries = []

    result = JOBS["delta-sync"].function(replace(PLAIN_STEPS, publish_run_summary=summaries.append))

    changes = journal_of(platform_engine, result["run_id"])
    assert set(changes) == {("lease", lease["id"]), ("property", building["id"])}, "unchanged records are not journaled"
    assert journaled(changes) == counted(platform_engine, result["run_id"]) == {("lease", "updated"): 1, ("property", "updated"): 1}
    rent = changes[("lease", lease["id"])]["changes"]["base_rent"]
    assert rent[0] == jsonable(rent_before) and float(rent[1]) == 4321.5
    renamed = changes[("property", building["id"])]["changes"]
    assert renamed["source_data.name"] == [name_before, "Renamed Tower"] and "name" not in renamed, "name is not updatable"

    lines = explain(platform_engine, integration_from_environment(), "lease", lease["id"], None)
    assert any(line.startswith(f"changed by run {result['run_id']} (delta, ") and "base_rent" in line for line in lines)
    assert any(line.startswith(f"changed by run {first['run_id']} (initial, ") and line.endswith("created") for line in lines)

    from tasks.artifacts import changes_table

    rows, description = changes_table(summaries[0])
    assert description.startswith(f"run {result['run_id']} changed 2 record(s): lease updated 1; property updated 1")
    assert f"pmsync changes --run {result['run_id']} --integration default" in description
    assert {(row["record"], row["source id"], row["action"]) for row in rows} == {
        ("lease", lease["id"], "updated"), ("property", building["id"], "updated")}
    assert "Renamed Tower" in next(row["changed fields"] for row in rows if row["record"] == "property")


def test_reconciliation_deactivations_and_a_syncs_reactivation_are_journaled(integration_env, sandbox, platform_engine):
    store = sandbox.store
    initial_sync()
    gone, kept = synced_unit_ids(sandbox, platform_engine, 2)
    record = store.get("units", gone)
    store.delete("units", gone)

    reconciled = reconcile()

    assert {k: c["action"] for k, c in journal_of(platform_engine, reconciled["run_id"]).items()} == {("unit", gone): "deactivated"}
    store.add("units", {key: value for key, value in record.items() if key != "lastModifiedDateTime"})

    back = delta_sync()

    change = journal_of(platform_engine, back["run_id"])[("unit", gone)]
    assert change["action"] == "reactivated" and one(platform_engine, units, gone).active is True
    assert ("unit", kept) not in journal_of(platform_engine, back["run_id"])


def test_retention_prunes_rows_older_than_its_days_and_nothing_newer(integration_env, sandbox, platform_engine, monkeypatch):
    first = initial_sync()
    now = datetime.now(timezone.utc)
    aged = {1: now - timedelta(days=31), 2: now - timedelta(days=29, hours=23)}
    with platform_engine.begin() as connection:
        integration_id = connection.execute(sa.select(record_changes.c.integration_id).limit(1)).scalar_one()
        connection.execute(record_changes.insert(), [
            {"run_id": first["run_id"], "integration_id": integration_id, "entity": "owner", "source_id": source_id,
             "action": "created", "changed_at": moment}
            for source_id, moment in aged.items()
        ])
    monkeypatch.setenv("PMSYNC_CHANGES_RETENTION_DAYS", "30")

    delta_sync()

    with platform_engine.connect() as connection:
        owners_left = connection.execute(sa.select(record_changes.c.source_id).where(record_changes.c.entity == "owner")).scalars().all()
    assert owners_left == [2]
    assert len(journal_of(platform_engine, first["run_id"])) > 1, "the initial run's own rows are newer: kept"


@pytest.mark.parametrize("seed", [11])
def test_the_journal_replays_random_source_edits_to_the_platforms_final_values(integration_env, sandbox, platform_engine, seed):
    """Random edits of leases (rent, move-out date, active) over several deltas: applying each run's journaled
    [old, new] in order to the values after the initial sync gives the platform's final values, each old value being
    what the replay held at that point."""
    store = sandbox.store
    chance = random.Random(seed)
    initial_sync()
    watched = sorted(l["id"] for l in store.records("leases") if one(platform_engine, leases, l["id"]))[:8]
    columns = ("base_rent", "move_out_date", "active")

    def platform_values() -> dict[int, dict]:
        return {i: {c: jsonable(getattr(one(platform_engine, leases, i), c)) for c in columns} for i in watched}

    replayed = platform_values()
    applied: set[str] = set()
    for _ in range(3):
        for lease_id in chance.sample(watched, 3):
            edit = chance.choice(["rent", "move_out", "active"])
            if edit == "rent":
                store.update("leases", lease_id, baseRent=chance.randrange(500, 5000) + chance.choice([0, 0.5, 0.25]))
            elif edit == "move_out":
                store.update("leases", lease_id, moveOutDate=str(date(2027, 1, 1) + timedelta(days=chance.randrange(400))))
            else:
                store.update("leases", lease_id, active=not store.get("leases", lease_id)["active"])
        run = delta_sync()
        for (entity, source_id), change in journal_of(platform_engine, run["run_id"]).items():
            if entity != "lease" or source_id not in replayed:
                continue
            if change["action"] in ("deactivated", "reactivated"):
                replayed[source_id]["active"] = change["action"] == "reactivated"
                applied.add("active")
            for column, (before, after) in (change["changes"] or {}).items():
                if column in columns:
                    assert _same(replayed[source_id][column], before), (source_id, column)
                    replayed[source_id][column] = after
                    applied.add(column)
    assert applied == {"base_rent", "move_out_date", "active"}, "every kind of edit reached the journal"
    final = platform_values()
    assert {i: {c: _normal(v) for c, v in values.items()} for i, values in replayed.items()} == {
        i: {c: _normal(v) for c, v in values.items()} for i, values in final.items()}


def _normal(value):
    """A journaled number (a float the source sent, or a stored decimal's text) compared as a number."""
    try:
        return round(float(value), 2) if isinstance(value, (int, float, str)) and not isinstance(value, bool) and "-" not in str(value) else value
    except ValueError:
        return value


def _same(left, right) -> bool:
    return _normal(left) == _normal(right)


def test_an_import_journals_its_creations_and_each_changed_cell(platform, import_dir):
    path = import_dir / "owners.csv"
    path.write_text("\n".join([HEADER, *(owner_line(n) for n in range(1, 4))]) + "\n", encoding="utf-8")
    first = csv_import(kind="owners", path="owners.csv")
    path.write_text("\n".join([HEADER, owner_line(1), owner_line(2, email="new2@example.com"), owner_line(3)]) + "\n",
                    encoding="utf-8")

    again = csv_import(kind="owners", path="owners.csv")

    assert {k: c["action"] for k, c in journal_of(platform, first["run_id"]).items()} == {
        ("owner", 5001): "created", ("owner", 5002): "created", ("owner", 5003): "created"}
    changes = journal_of(platform, again["run_id"])
    assert list(changes) == [("owner", 5002)], "unchanged rows are not journaled"
    assert changes[("owner", 5002)]["changes"]["email"] == ["owner2@example.com", "new2@example.com"]


def test_a_forced_sync_prints_what_it_changed_and_pmsync_changes_filters(integration_env, sandbox, platform_engine):
    store = sandbox.store
    first = initial_sync()
    lease, _ = synced_lease_with_resident(store)
    store.update("leases", lease["id"], baseRent=2468.25)

    synced = run_pmsync("sync", "delta", env=integration_env)

    assert synced.returncode == 0, synced.stderr[-2000:]
    run_id = max(journal_of_all(platform_engine))
    assert f"run {run_id} changed 1 record(s): lease updated 1" in synced.stdout
    assert f"lease {lease['id']} updated: base_rent" in synced.stdout and "2468.25" in synced.stdout
    assert f"`pmsync changes --run {run_id} --integration default`" in synced.stdout

    def listed(*args: str) -> list[dict]:
        shown = run_pmsync("changes", "--json", "--limit", "100000", *args, env=integration_env)
        assert shown.returncode == 0, shown.stderr[-2000:]
        return json.loads(shown.stdout)

    delta_only = listed("--run", str(run_id))
    assert [(c["entity"], c["source_id"], c["action"]) for c in delta_only] == [("lease", lease["id"], "updated")]
    assert delta_only[0]["changed_at"].endswith("Z") and set(delta_only[0]) == {
        "run_id", "integration", "flow", "entity", "source_id", "action", "changes", "changed_at"}
    units_created = listed("--entity", "unit")
    assert units_created and {(c["entity"], c["run_id"]) for c in units_created} == {("unit", first["run_id"])}
    assert [c["run_id"] for c in listed("--source-id", str(lease["id"]), "--entity", "lease")] == [run_id, first["run_id"]]
    assert listed("--since", "2999-01-01") == [] and len(listed("--since", "1h")) == len(listed())
    text = run_pmsync("changes", "--run", str(run_id), env=integration_env)
    assert f"run {run_id} (delta) · " in text.stdout and "base_rent" in text.stdout

    refused = run_pmsync("changes", env={**integration_env, "PMSYNC_CHANGES_RETENTION_DAYS": "0"})
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
        "error: PMSYNC_CHANGES_RETENTION_DAYS must be at least 1 (days each run's change journal is kept)"]


def journal_of_all(engine: sa.Engine) -> set[int]:
    with engine.connect() as connection:
        return set(connection.execute(sa.select(record_changes.c.run_id)).scalars())


def test_a_runs_changes_come_in_pages_and_export_as_one_row_per_changed_field(platform, import_dir):
    path = import_dir / "owners.csv"
    path.write_text("\n".join([HEADER, *(owner_line(n) for n in range(1, 4))]) + "\n", encoding="utf-8")
    csv_import(kind="owners", path="owners.csv")
    edited = [owner_line(1, email="one@example.com", first_name="Uno"), owner_line(2), owner_line(3, last_name="Drei")]
    path.write_text("\n".join([HEADER, *edited]) + "\n", encoding="utf-8")
    run_id = csv_import(kind="owners", path="owners.csv")["run_id"]

    pages = [changes_of_run(platform, "default", run_id, limit=1, offset=offset) for offset in range(3)]

    assert [[c["source_id"] for c in page] for page in pages] == [[5001], [5003], []]
    exported = list(export_rows(platform, "default", run_id))
    assert [tuple(row) for row in exported] == [EXPORT_COLUMNS] * 3
    assert sorted((row["Source id"], row["Field"], row["Before"], row["After"]) for row in exported) == [
        (5001, "email", "owner1@example.com", "one@example.com"), (5001, "first_name", "First1", "Uno"),
        (5003, "last_name", "Last3", "Drei")]
    assert {(row["Run"], row["Record type"], row["Action"]) for row in exported} == {(run_id, "owner", "updated")}
    assert changes_of_run(platform, "other", run_id) == [], "a run is read under its own integration only"


def test_a_balance_journals_a_new_payment_and_a_charge_gone_from_the_source(integration_env, sandbox, platform_engine):
    store = sandbox.store
    delta_sync()
    lease = lease_with_open_charge_and_payment(store, platform_engine)
    gone = next(c for c in store.records("charges") if c["leaseID"] == lease["id"])
    store.delete("charges", gone["id"])
    posted = requests.post(f"{sandbox.control_url}/leases/{lease['id']}/payments",
                           json={"amount": 40.0, "paymentType": "CHECK", "refNo": "BAL-1"}, timeout=10).json()["payment"]

    result = JOBS["lease-balance"](lease_id=lease["id"])

    actions = {key: change["action"] for key, change in journal_of(platform_engine, result["run_id"]).items()}
    assert actions[("charge", gone["id"])] == "deactivated" and actions[("payment", posted["id"])] == "created"
