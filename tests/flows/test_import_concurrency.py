"""Two CSV imports into one integration at once, on SQLite and PostgreSQL: the same owners in opposite orders, each
import's first batch written before either writes its second. Both end succeeded, one after the other; the rows are
as the later one says, and neither fails with a deadlock or "database is locked"."""

from __future__ import annotations

import dataclasses
import logging
import threading

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from pmsync.imports import run as import_run
from pmsync.integrations.integration import Integration
from pmsync.jobs.csv_import import csv_import
from pmsync.jobs.steps import PLAIN_STEPS
from pmsync.platform.database import migrate
from pmsync.runs.bookkeeping import ensure_integration
from schemas.tables import owners, sync_runs

HEADER = "owner_id,first_name,last_name,email"
OWNERS = 2 * import_run.ROWS_PER_BATCH
"""Each file's first batch holds the owners of the other file's second batch, so the first batches do not meet."""
PATIENCE_SECONDS = 120


def owners_file(tag: str, ids: list[int]) -> str:
    return "\n".join([HEADER, *(f"{i},{tag}{i},{tag}-last,{tag}{i}@example.com" for i in ids)]) + "\n"


@dataclasses.dataclass
class Importer:
    """One import in its own thread: its file, what it ended with, and how far it got."""

    tag: str
    ids: list[int]
    first_batch_written: threading.Event = dataclasses.field(default_factory=threading.Event)
    said_it_waits: threading.Event = dataclasses.field(default_factory=threading.Event)
    ended: threading.Event = dataclasses.field(default_factory=threading.Event)
    owners_reads: int = 0
    result: dict | None = None
    error: BaseException | None = None
    thread: threading.Thread | None = None


class Overlap:
    """Makes two imports overlap: both reach their apply step before either applies (a barrier in the steps); then each,
    having written its first batch (its second read of `owners` starts the second batch), waits until the other has
    written its first batch too, has said that it waits for its turn, or has ended."""

    def __init__(self, first: Importer, second: Importer):
        self.importers = {f"import-{first.tag}": first, f"import-{second.tag}": second}
        self.barrier = threading.Barrier(2, timeout=PATIENCE_SECONDS)
        self.problems: list[str] = []

    def mine(self) -> Importer | None:
        return self.importers.get(threading.current_thread().name)

    def other(self, importer: Importer) -> Importer:
        return next(other for other in self.importers.values() if other is not importer)

    def apply_csv(self, *args, **kwargs):
        self.barrier.wait()
        return import_run.apply_csv(*args, **kwargs)

    def before_cursor_execute(self, _connection, _cursor, statement: str, *_args) -> None:
        importer = self.mine()
        if importer is None or "FROM owners" not in statement:
            return
        importer.owners_reads += 1
        if importer.owners_reads != 2:
            return
        importer.first_batch_written.set()
        other = self.other(importer)
        for _ in range(PATIENCE_SECONDS * 20):
            if other.first_batch_written.is_set() or other.said_it_waits.is_set() or other.ended.is_set():
                return
            other.ended.wait(0.05)
        self.problems.append(f"{importer.tag}: the other import neither wrote, waited nor ended")

    def log_record(self, record: logging.LogRecord) -> None:
        importer = self.importers.get(record.threadName)
        if importer is not None and record.getMessage().startswith("waiting"):
            importer.said_it_waits.set()


class _Listener(logging.Handler):
    def __init__(self, overlap: Overlap):
        super().__init__(logging.INFO)
        self.overlap = overlap

    def emit(self, record: logging.LogRecord) -> None:
        self.overlap.log_record(record)


@pytest.fixture
def platform(platform_url, platform_engine, monkeypatch, tmp_path):
    monkeypatch.setenv("PMSYNC_DATABASE_URL", platform_url)
    monkeypatch.setenv("PMSYNC_IMPORT_DIR", str(tmp_path))
    migrate(platform_engine)
    with platform_engine.begin() as connection:
        ensure_integration(connection, Integration("default", "http://unused.example", "id", SecretStr("s"), "1", "u@example.com"))
    return platform_engine


def run_in_thread(importer: Importer, steps) -> None:
    def run() -> None:
        try:
            importer.result = csv_import(steps, "owners", content=owners_file(importer.tag, importer.ids))
        except BaseException as failure:
            importer.error = failure
        finally:
            importer.ended.set()

    importer.thread = threading.Thread(target=run, name=f"import-{importer.tag}")
    importer.thread.start()


def test_two_imports_of_the_same_owners_in_opposite_orders_both_succeed_one_after_the_other(platform, caplog):
    caplog.set_level(logging.INFO, logger="pmsync")
    ascending = Importer("asc", list(range(1, OWNERS + 1)))
    descending = Importer("desc", list(range(OWNERS, 0, -1)))
    overlap = Overlap(ascending, descending)
    steps = dataclasses.replace(PLAIN_STEPS, apply_csv=overlap.apply_csv)
    listener = _Listener(overlap)
    logging.getLogger("pmsync").addHandler(listener)
    sa.event.listen(sa.Engine, "before_cursor_execute", overlap.before_cursor_execute)
    try:
        for importer in (ascending, descending):
            run_in_thread(importer, steps)
        for importer in (ascending, descending):
            importer.thread.join(timeout=PATIENCE_SECONDS * 3)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", overlap.before_cursor_execute)
        logging.getLogger("pmsync").removeHandler(listener)

    assert not ascending.thread.is_alive() and not descending.thread.is_alive(), "an import never ended"
    assert overlap.problems == []
    assert (ascending.error, descending.error) == (None, None), "both imports succeed"
    [waited] = [importer for importer in (ascending, descending) if importer.said_it_waits.is_set()]
    first = overlap.other(waited)
    assert first.result["counts"]["owner"] == {**first.result["counts"]["owner"], "fetched": OWNERS, "created": OWNERS}
    assert waited.result["counts"]["owner"] == {**waited.result["counts"]["owner"], "created": 0, "updated": OWNERS}
    with platform.connect() as connection:
        stored = connection.execute(sa.select(owners.c.source_id, owners.c.email)).all()
        statuses = connection.execute(sa.select(sync_runs.c.status, sync_runs.c.error)).all()
    assert sorted(stored) == [(i, f"{waited.tag}{i}@example.com") for i in range(1, OWNERS + 1)], "as the later says"
    assert statuses == [("succeeded", None)] * 2
