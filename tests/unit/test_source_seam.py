"""The source seam: the engine names no vendor, and a second source behind the protocol syncs and reconciles as is."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sqlalchemy as sa

from pmsync.jobs.reconcile import plan_reconciliation
from pmsync.jobs.steps import PLAIN_STEPS
from pmsync.jobs.sync import sync_integration
from pmsync.runs.progress import RunProgress
from pmsync.reconcile.parts import MassGuard
from pmsync.settings import PlatformSettings
from pmsync.source.registry import RULE_TABLES, SOURCE_PACKAGES
from pmsync.sync.scope import run_scope
from schemas.tables import properties, sync_runs, unapplied_records, units
from tests.unit.shelf_source import SHELF_RULES, ShelfPackage, ShelfSource, shelf_data, shelf_integration

PMSYNC = Path(__file__).resolve().parents[2] / "pmsync"
VENDOR_PACKAGES = {"propertyware", "buildium"}
"""The source packages under pmsync/source/: only they (and the registry that lists them) may name a vendor."""

NOT_YET_NEUTRAL = {
    "settings.py": "IntegrationSettings is Propertyware's PMSYNC_PW_* settings (checks its page size); it moves into the "
                   "package when a second vendor brings its own settings",
    "cli/common.py": "orders a run's counts by Propertyware's entities",
    "cli/status.py": "`pmsync state` and `explain` check entity names against Propertyware's rule table",
}
"""Outside the engine proper, still tied to Propertyware (issue 26, item 2: configuration per source)."""

KEPT_FOR_OLDER_IMPORTS = {
    "sync/rules.py": "re-exports Propertyware's rule table and the registry's RULE_TABLES as pmsync.sync.rules",
    "source/client.py": "re-exports PropertywareClient where it used to live",
    "source/workorders.py": "re-exports Propertyware's work-order endpoints where they used to live",
    "source/__init__.py": "loads PropertywareClient lazily for `from pmsync.source import PropertywareClient`",
    "source/registry.py": "the registry: one row per source package",
}

PROPERTYWARE_WORDS = (
    "lastModifiedDateTimeStart", "lastModifiedDateTimeEnd", "includeDeactivated", "leaseID", "buildingID",
    "searchTag", "orderby", "x-propertyware", "/units", "/buildings", "/leases", "/workorders", "userMessage",
)
"""Propertyware's filters, headers, paths and error field: its package's own business."""

ENGINE_MODULES = (
    "sync", "jobs", "reconcile/parts.py", "reconcile/plan.py", "sync/lease_balance.py", "sync/explain.py",
    "push/sender.py", "integrations/integration.py", "runs/bookkeeping.py", "integrations/identity.py",
    "integrations/repoint.py", "sync/state.py", "sync/rule_types.py",
    "source/protocol.py", "source/paging.py", "source/listing.py", "source/http.py", "source/offset_client.py",
    "source/answers.py", "source/dialect.py", "source/errors.py", "source/scrub.py", "source/retry.py",
)
"""The engine proper: it must not say a word of Propertyware's dialect (the CLI, blocks and settings still carry
Propertyware's setting names, until the settings move into the packages)."""


def engine_files() -> list[Path]:
    """Every module of pmsync/ but the vendor packages' and the re-exports kept for older imports."""
    vendors = [PMSYNC / "source" / vendor for vendor in VENDOR_PACKAGES]
    return sorted(path for path in PMSYNC.rglob("*.py")
                  if not any(path.is_relative_to(vendor) for vendor in vendors)
                  and str(path.relative_to(PMSYNC)) not in {*KEPT_FOR_OLDER_IMPORTS, *NOT_YET_NEUTRAL})


def imported_modules(tree: ast.AST) -> list[tuple[str, list[str]]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def test_no_module_outside_a_source_package_imports_a_vendor_or_the_vendor_aggregates():
    offenders = []
    for path in engine_files():
        for module, names in imported_modules(ast.parse(path.read_text(), str(path))):
            vendor = any(module == f"pmsync.source.{v}" or module.startswith(f"pmsync.source.{v}.") for v in VENDOR_PACKAGES)
            aggregate = module in ("pmsync.sync.rules", "pmsync.source.client", "pmsync.source.workorders")
            named = "PropertywareClient" in names
            if vendor or aggregate or named:
                offenders.append(f"{path.relative_to(PMSYNC)}: {module} {names}")
    assert not offenders, "the engine reaches a vendor package: " + "; ".join(offenders)


def test_the_engine_names_no_propertyware_path_filter_header_or_raw_key():
    offenders = []
    for path in sorted(p for p in engine_files() if _in_engine(p)):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                offenders += [f"{path.relative_to(PMSYNC)}:{node.lineno}: {word!r}" for word in PROPERTYWARE_WORDS
                              if word in node.value and not _is_docstring(tree, node)]
            if _reads_raw_id(node):
                offenders.append(f"{path.relative_to(PMSYNC)}:{node.lineno}: reads a raw record's id by key")
    assert not offenders, "vendor dialect in the engine: " + "; ".join(offenders)


def test_the_raw_id_check_catches_what_it_is_meant_to():
    assert _reads_raw_id(ast.parse('failure.record.get("id")').body[0].value)
    assert _reads_raw_id(ast.parse('raw["Id"]').body[0].value)
    assert not _reads_raw_id(ast.parse('parent["id"]').body[0].value), "a platform row's id is the platform's"


def _in_engine(path: Path) -> bool:
    relative = path.relative_to(PMSYNC)
    return relative.parts[0] in ENGINE_MODULES or str(relative) in ENGINE_MODULES


def test_every_engine_module_named_exists():
    assert all((PMSYNC / module).exists() for module in ENGINE_MODULES)


def _is_docstring(tree: ast.AST, constant: ast.Constant) -> bool:
    return any(isinstance(node, ast.Expr) and node.value is constant for node in ast.walk(tree))


RAW_HOLDERS = {"raw", "record", "payload", "body", "answer"}


def _reads_raw_id(node: ast.AST) -> bool:
    """`<raw>.get("id")` or `<raw>["id"]` (any case) where <raw> names a source record's JSON."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
        target, key = node.func.value, node.args[0]
    elif isinstance(node, ast.Subscript):
        target, key = node.value, node.slice
    else:
        return False
    name = target.attr if isinstance(target, ast.Attribute) else target.id if isinstance(target, ast.Name) else ""
    return (isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.lower() == "id"
            and name in RAW_HOLDERS)


@pytest.fixture
def shelf(monkeypatch: pytest.MonkeyPatch, platform_url: str) -> ShelfSource:
    """The shelf registered as a third source package (one registry row) on a fresh platform database."""
    source = ShelfSource(shelf_data())
    monkeypatch.setitem(SOURCE_PACKAGES, "shelf", ShelfPackage(source))
    monkeypatch.setitem(RULE_TABLES, "shelf", SHELF_RULES)
    monkeypatch.setenv("PMSYNC_DATABASE_URL", platform_url)
    return source


def test_a_second_source_syncs_through_the_engine_unchanged(shelf, platform_engine):
    integration = shelf_integration()
    assert integration.open_source() is shelf and integration.secrets() == ["shelf-token"]

    result = sync_integration(PLAIN_STEPS, integration, "initial", SHELF_RULES.streams)

    with platform_engine.connect() as connection:
        synced = dict(connection.execute(sa.select(properties.c.source_id, properties.c.name)).all())
        placed = connection.execute(
            sa.select(units.c.source_id, properties.c.source_id).join(properties, properties.c.id == units.c.property_id)
        ).all()
        run = connection.execute(sa.select(sync_runs).where(sync_runs.c.id == result["run_id"])).one()
    assert synced == {1: "Rental 1", 3: "Rental 3", 4: "Rental 4", 9: "Rental 9"}
    assert sorted(placed) == sorted((u["Id"], u["RentalId"]) for u in shelf.data["units"])
    assert run.status == "succeeded" and run.source_requests == shelf.requests_made > 0 and shelf.closed
    windows = [window for name, window in shelf.windows if window is not None]
    assert {name for name, window in shelf.windows if window is not None} == {"units"}, "rentals cannot filter"
    assert len({window.end for window in windows}) == 1 and {window.start for window in windows} == {None}

    shelf.windows.clear()
    again = sync_integration(PLAIN_STEPS, integration, "delta", SHELF_RULES.streams, overlap_hours=1.0)
    assert all(not counts["created"] and not counts["updated"] for counts in again["counts"].values())
    (delta_window, *_) = [window for name, window in shelf.windows if name == "units"]
    assert delta_window.start is not None and delta_window.start < delta_window.end
    assert all(window is None for name, window in shelf.windows if name == "rentals"), "read whole, every run"


def test_a_parked_record_of_the_second_source_is_kept_under_its_own_raw_key(shelf, platform_engine):
    shelf.data["units"].append({"Id": 777, "Name": "Orphan", "RentalId": 42})
    sync_integration(PLAIN_STEPS, shelf_integration(), "initial", SHELF_RULES.streams)
    with platform_engine.connect() as connection:
        parked = connection.execute(sa.select(unapplied_records.c.source_id, unapplied_records.c.status, unapplied_records.c.detail)
                                    .where(unapplied_records.c.entity == "unit")).all()
    assert [(row.source_id, row.status) for row in parked] == [(777, "parked")] and "property 42" in parked[0].detail


def test_a_second_source_reconciles_through_its_presence_listing_and_reads_by_id(shelf, platform_engine):
    integration = shelf_integration()
    sync_integration(PLAIN_STEPS, integration, "initial", SHELF_RULES.streams)
    gone = shelf.data["units"].pop(2)

    with run_scope(integration, PlatformSettings(), "reconcile-dry-run") as session:
        progress = RunProgress(PLAIN_STEPS.report_progress, session.run_id, session.integration_name,
                               "reconcile-dry-run", ["units", "rentals", "confirmations"])
        plan = plan_reconciliation(session, MassGuard(max_share=0.5), PLAIN_STEPS, progress)

    assert [target.source_id for target in plan.gone_units] == [gone["Id"]]
    assert plan.gone_units[0].reason() == f"deleted in source (READ units #{gone['Id']} answered 404)"
    assert [target.source_id for target in plan.gone_properties] == []
