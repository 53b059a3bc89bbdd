"""The source seam: the engine names no vendor, and a second source behind the protocol syncs and reconciles as is."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import Field, SecretStr

from pmsync.integrations import Integration
from pmsync.jobs.reconcile import plan_reconciliation
from pmsync.jobs.steps import PLAIN_STEPS
from pmsync.jobs.sync import sync_integration
from pmsync.progress import RunProgress
from pmsync.reconciliation import MassGuard
from pmsync.rule_types import INTEGRATION_DATA, EntityRule, ParentLink, RuleTable, Stream
from pmsync.settings import PlatformSettings
from pmsync.source.paging import PageCursor, Paginator, SourcePage
from pmsync.source.protocol import NO_SCOPE, PresenceRecord, Source, Window
from pmsync.source.registry import RULE_TABLES, SOURCE_PACKAGES
from pmsync.sync.scope import run_scope
from schemas.records import Candidate, SourceRecord
from schemas.source_values import SourceId
from schemas.tables import properties, sync_runs, unapplied_records, units

PMSYNC = Path(__file__).resolve().parents[2] / "pmsync"
VENDOR_PACKAGES = {"propertyware"}
"""The source packages under pmsync/source/: only they (and the registry that lists them) may name a vendor."""

NOT_YET_NEUTRAL = {
    "settings.py": "IntegrationSettings is Propertyware's PMSYNC_PW_* settings (checks its page size); it moves into the "
                   "package when a second vendor brings its own settings",
    "cli/common.py": "orders a run's counts by Propertyware's entities",
    "cli/status.py": "`pmsync state` and `explain` check entity names against Propertyware's rule table",
}
"""Outside the engine proper, still tied to Propertyware (issue 26, item 2: configuration per source)."""

KEPT_FOR_OLDER_IMPORTS = {
    "rules.py": "re-exports Propertyware's rule table and the registry's RULE_TABLES as pmsync.rules",
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
    "sync", "jobs", "reconciliation.py", "reconcile_plan.py", "lease_balance.py", "explain.py", "push_sender.py",
    "integrations.py", "runs.py", "identity.py", "repoint.py", "state.py", "rule_types.py",
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
            aggregate = module in ("pmsync.rules", "pmsync.source.client", "pmsync.source.workorders")
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


# A second source system, written the way a vendor package would be: PascalCase records keyed "Id", a rental listing
# that cannot filter by time, a unit listing that can, reads by id, no write-back. Real objects over in-memory data.

class ShelfRental(SourceRecord):
    id: SourceId = Field(alias="Id")
    Name: str | None = None
    IsActive: bool | None = None

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        columns = {"name": self.Name, "source_data": raw, "source_modified_at": None}
        return [Candidate("property", self.id, columns, facts={"source_active": self.IsActive}, payload=raw)]


class ShelfUnit(SourceRecord):
    id: SourceId = Field(alias="Id")
    Name: str | None = None
    RentalId: SourceId | None = None
    Updated: int = 0

    def rows(self, raw: dict[str, Any]) -> list[Candidate]:
        columns = {"name": self.Name, "source_data": raw, "source_modified_at": None}
        return [Candidate("unit", self.id, columns, {"property": self.RentalId}, {"source_active": True}, raw)]


class ShelfPresence(PresenceRecord):
    id: SourceId = Field(alias="Id")
    active: bool | None = Field(default=None, alias="IsActive")

    @classmethod
    def says_inactive(cls, raw: dict) -> bool:
        return raw.get("IsActive") is False


SHELF_RULES = RuleTable(
    source_system="shelf",
    vendor="shelf",
    streams=(Stream("rentals", "rentals", ShelfRental, ("property",)), Stream("units", "units", ShelfUnit, ("unit",))),
    rules={
        "property": EntityRule("property", on_update=INTEGRATION_DATA),
        "unit": EntityRule("unit", parents=(ParentLink("property", "property_id"),), on_update=INTEGRATION_DATA),
    },
)


@dataclass
class ShelfAccount:
    """The shelf's credentials object: a base URL and one token (no system id)."""

    base_url: str
    token: SecretStr = field(repr=False)

    @property
    def account(self) -> str:
        return "shelf-1"

    def secrets(self) -> list[str]:
        return [self.token.get_secret_value()]


class ShelfSource:
    """The Source protocol over lists of raw records, paged by the shared Paginator on the raw key "Id"."""

    system = "shelf"
    page_size = 2

    def __init__(self, data: dict[str, list[dict[str, Any]]]) -> None:
        self.data = data
        self.windows: list[tuple[str, Window | None]] = []
        self.requests = 0
        self.closed = False

    @property
    def requests_made(self) -> int:
        return self.requests

    def filters(self, stream: Stream) -> bool:
        return stream.name == "units"

    def page(self, stream: Stream, cursor: PageCursor = PageCursor(), window: Window | None = None, *,
             within: Mapping[str, int] = NO_SCOPE) -> SourcePage:
        self.windows.append((stream.name, window))
        listed = sorted(self._listed(stream, window), key=lambda raw: raw["Id"])
        paginator = Paginator(cursor, self.page_size, entity=stream.name, key="Id")
        while True:
            wanted = paginator.request()
            self.requests += 1
            request = f"LIST {stream.path} from {wanted.offset}"
            cut = paginator.judge(listed[wanted.offset:wanted.offset + wanted.limit], len(listed), request=request)
            if cut is not None:
                records = [stream.record.model_validate(raw) for raw in cut.fresh]
                return SourcePage(stream.name, request, records, cut.fresh, cut.total, cut.next_cursor, cut.offset,
                                  cut.calls, complete=cut.complete)

    def pages(self, stream: Stream, window: Window | None = None, *,
              within: Mapping[str, int] = NO_SCOPE) -> Iterator[SourcePage]:
        cursor: PageCursor | None = PageCursor()
        while cursor is not None:
            page = self.page(stream, cursor, window, within=within)
            yield page
            cursor = page.next_cursor

    def presence_listing(self, entity: str) -> Stream:
        name = {"unit": "units", "property": "rentals"}[entity]
        return Stream(name, name, ShelfPresence, (entity,))

    def get(self, stream: Stream, source_id: int) -> SourcePage | None:
        self.requests += 1
        found = [raw for raw in self.data[stream.path] if raw["Id"] == source_id]
        if not found:
            return None
        return SourcePage(stream.name, self.request_for(stream, source_id), [stream.record.model_validate(found[0])],
                          found, 1, None)

    def request_for(self, stream: Stream, source_id: int) -> str:
        return f"READ {stream.path} #{source_id}"

    def work_orders(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def _listed(self, stream: Stream, window: Window | None) -> list[dict[str, Any]]:
        rows = self.data[stream.path]
        if stream.name == "rentals" and stream.record is ShelfRental:
            rows = [raw for raw in rows if raw.get("IsActive") is not False]
        return rows


class ShelfPackage:
    vendor = "shelf"
    rule_tables = (SHELF_RULES,)

    def __init__(self, source: ShelfSource) -> None:
        self.source = source

    def credentials(self, **fields: Any) -> ShelfAccount:
        return ShelfAccount(**fields)

    def open(self, integration: Integration) -> Source:
        assert integration.credentials.token.get_secret_value() == "shelf-token"
        return self.source


def shelf_data() -> dict[str, list[dict[str, Any]]]:
    rentals = [{"Id": n, "Name": f"Rental {n}", "IsActive": n != 5} for n in (3, 1, 4, 5, 9)]
    shelf_units = [{"Id": 100 + n, "Name": f"Unit {n}", "RentalId": (1, 3, 4, 9)[n % 4]} for n in range(7)]
    return {"rentals": rentals, "units": shelf_units}


@pytest.fixture
def shelf(monkeypatch: pytest.MonkeyPatch, platform_url: str) -> ShelfSource:
    """The shelf registered as a third source package (one registry row) on a fresh platform database."""
    source = ShelfSource(shelf_data())
    monkeypatch.setitem(SOURCE_PACKAGES, "shelf", ShelfPackage(source))
    monkeypatch.setitem(RULE_TABLES, "shelf", SHELF_RULES)
    monkeypatch.setenv("PMSYNC_DATABASE_URL", platform_url)
    return source


def shelf_integration() -> Integration:
    account = ShelfAccount("https://shelf.example", SecretStr("shelf-token"))
    return Integration("shelf-co", credentials=account, integration_user="staff-7", source_system="shelf")


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
