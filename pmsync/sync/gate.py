"""The quality gate: each fetched page checked against its entities' Great Expectations suites (no Prefect)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from bisect import bisect_right
from collections import Counter
from datetime import datetime
from itertools import accumulate
from pathlib import Path

from pmsync.sync.rule_types import Stream
from pmsync.source import SourcePage
from pmsync.sync.changes import KNOWN_ROWS, unchecked
from pmsync.sync.collector import collector_paused, freeze_long_lived_objects
from pmsync.sync.gate_frame import candidate_columns, columns_read
from pmsync.sync.gate_process import GateProcess, gate_process
from pmsync.sync.gate_results import CheckedPage, DataQualityError, QualityFailure, held_summaries, refused_failure
from schemas.entity_rows import addressed
from schemas.records import Candidate, is_storable

__all__ = ["CheckedPage", "DataQualityError", "QualityFailure", "QualityGate", "check_pages", "held_summaries"]

SEVERITIES = ("error", "warning")
"""An expectation's meta "severity": "error" (the default) quarantines a failing record; "warning" lets it load and
records it (quarantine status "warning"), reported in the run summary and `pmsync quality`."""


class QualityGate:
    """The suites of `expectations/`, read once per run; GX itself loads only when a page brings records to check,
    and in a process of its own (pmsync.sync.gate_process): the frames go there, the failing rows come back.

    Importing Great Expectations and building the suites costs seconds, which an hourly delta with nothing changed
    need not pay (records unchanged by hash, or known rows, never reach it). `warm_up()` opens the suites from a
    background thread (starting the gate's process, which imports GX on another core), to overlap fetching (a full
    read: its first pages bring records); `check` waits for it.
    """

    def __init__(self, directory: Path, entities: list[str], max_failure_share: float, min_rows_for_share: int = 10):
        self.max_failure_share = max_failure_share
        self.min_rows_for_share = min_rows_for_share
        self._definitions: dict[str, tuple[Path, dict]] = {}
        self._frame_columns: dict[str, frozenset[str] | None] = {}
        for entity in entities:
            path = directory / f"{entity}.json"
            if not path.exists():
                raise DataQualityError(f"no expectation suite for {entity}: create {path}")
            self._definitions[entity] = (path, json.loads(path.read_text()))
            expectations = self._definitions[entity][1].get("expectations", [])
            for expectation in expectations:
                severity = (expectation.get("meta") or {}).get("severity", "error")
                if severity not in SEVERITIES:
                    raise DataQualityError(
                        f"{path}: {expectation.get('type')} has severity {severity!r}; use one of {', '.join(SEVERITIES)}"
                    )
            self._frame_columns[entity] = columns_read(expectations)
        self._process: GateProcess | None = None
        self._key = ""
        self._opening = threading.Lock()
        self._starting = threading.Lock()
        self._opened = False
        self._failure: Exception | None = None
        self._warming: threading.Thread | None = None

    def warm_up(self) -> None:
        """Start importing GX and building the context and suites in a background thread (once); `check` waits for
        it, and raises what it raised (a broken suite: DataQualityError naming the file). Never waits for a load
        in progress."""
        with self._starting:
            if self._opened or self._failure is not None or self._warming is not None:
                return
            self._warming = threading.Thread(target=self._warm, name="pmsync-quality-gate-warm-up", daemon=True)
            self._warming.start()

    def _warm(self) -> None:
        with contextlib.suppress(Exception):  # kept in self._failure: check() raises it in the caller's thread
            self._ensure_open()

    def _ensure_open(self) -> None:
        with self._opening:
            if self._failure is not None:
                raise self._failure
            if self._opened:
                return
            try:
                self._open()
            except Exception as failure:
                self._failure = failure
                raise
            self._opened = True

    def _open(self) -> None:
        """Every suite built in the gate's process (started if it is not running), known there by a digest of the
        suites' contents; a suite GX cannot build raises DataQualityError naming its file."""
        definitions = {entity: (str(path), data) for entity, (path, data) in self._definitions.items()}
        self._key = hashlib.sha256(json.dumps(definitions, sort_keys=True, default=str).encode()).hexdigest()
        self._process = gate_process()
        self._process.ask("open", self._key, definitions)
        freeze_long_lived_objects()

    def check(
        self, entity: str, pages: list[tuple[list[Candidate], str]], now: datetime, unchanged: list[int] | None = None,
        refused: list[list[QualityFailure]] | None = None,
    ) -> list[tuple[list[Candidate], list[QualityFailure], list[QualityFailure]]]:
        """Per page of (candidates, request): those that load (warned ones included), those quarantined (an
        expectation of severity "error" broken, or refused by the record model: `refused[n]`, page n's) and those
        warned about (only "warning" expectations broken).

        One GX run covers all the pages (its cost is mostly per run); the failure share that stops the run is
        still judged page by page, on quarantined records only (refused ones included), out of all the page's
        records of the entity: `unchanged[n]` counts page n's that left unchecked, their content unchanged since it
        last passed (the records checked again are then mostly those that failed before, and alone would overstate
        the share).
        """
        refused = refused or [[] for _ in pages]
        everything = [candidate for candidates, _ in pages for candidate in candidates]
        if not everything and not any(refused):
            return [([], [], []) for _ in pages]
        broken, warned = {}, {}
        if everything:
            self._ensure_open()
            broken, warned = self._broken_rows(entity, everything, pages[0][1], now)
        starts = list(accumulate((len(candidates) for candidates, _ in pages), initial=0))
        broken_by_page, warned_by_page = _by_page(broken, starts), _by_page(warned, starts)
        outcomes = []
        for number, (candidates, request) in enumerate(pages):
            mine, notes, kept_out = broken_by_page.get(number, {}), warned_by_page.get(number, {}), refused[number]
            checked = len(candidates) + len(kept_out) + (unchanged[number] if unchanged else 0)
            self._stop_if_too_many(entity, [*mine.values(), *(f.expectations for f in kept_out)], checked, request)
            failures = kept_out + [
                QualityFailure(entity, str(candidates[row].source_id), sorted({*labels, *notes.get(row, [])}),
                               candidates[row].payload)
                for row, labels in mine.items()
            ]
            warnings = [
                QualityFailure(entity, str(candidates[row].source_id), labels, candidates[row].payload, "warning")
                for row, labels in notes.items() if row not in mine
            ]
            passed = [c for row, c in enumerate(candidates) if row not in mine] if mine else list(candidates)
            outcomes.append((passed, failures, warnings))
        return outcomes

    def _broken_rows(
        self, entity: str, candidates: list[Candidate], request: str, now: datetime
    ) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
        """Rows that broke an expectation of severity "error", and rows that broke one of severity "warning"
        (pmsync.sync.gate_suites.GxSuites.broken_rows, in the gate's process)."""
        assert self._process is not None
        columns = candidate_columns(candidates, now, self._frame_columns[entity])
        return self._process.ask("check", self._key, entity, columns, request)

    def _stop_if_too_many(self, entity: str, broken: list[list[str]], rows: int, request: str) -> None:
        """Stop the run (DataQualityError) when the quarantined share of a page's `rows` records exceeds the limit;
        `broken` holds each quarantined record's labels."""
        share = len(broken) / rows if rows else 0.0
        if broken and share > self.max_failure_share and rows >= self.min_rows_for_share:
            top = Counter(label for labels in broken for label in labels).most_common(3)
            raise DataQualityError(
                f"{entity}: {len(broken)} of {rows} records ({share:.0%}) failed data-quality checks, over "
                f"the {self.max_failure_share:.0%} limit; nothing of this page was written. Top failing: "
                + ", ".join(f"{label} ×{count}" for label, count in top)
                + f" [{request}]",
                facts={"entity": entity, "failed": len(broken), "checked": rows},
            )


def _by_page(rows: dict[int, list[str]], starts: list[int]) -> dict[int, dict[int, list[str]]]:
    """Rows of the whole frame, per page number, numbered within their page (`starts`: each page's first row)."""
    pages: dict[int, dict[int, list[str]]] = {}
    for row, labels in rows.items():
        number = bisect_right(starts, row) - 1
        pages.setdefault(number, {})[row - starts[number]] = labels
    return pages


def check_pages(gate: QualityGate, stream: Stream, pages: list[SourcePage], now: datetime) -> list[CheckedPage]:
    """The records of each page become candidates per entity, and go through the gate (no Prefect needed); the
    records their model refused are quarantined as the stream's own entity, each field and reason a label
    `spec(field): reason`, and count towards their page's failure share. Known records (KNOWN_ROWS) pass unchecked
    and count like unchanged ones."""
    with collector_paused():
        by_entity = [_candidates_by_entity(page) for page in pages]
        known = [_candidates_by_entity(page, known=True) for page in pages]
        checked = [CheckedPage(page, {}) for page in pages]
        own = stream.entities[0]
        refused = [[refused_failure(own, record) for record in page.refused] for page in pages]
        for entity in stream.entities:
            unchanged = [
                unchecked(page, entity) + len(mine.get(entity, []))
                for page, mine in zip(pages, known)
            ]
            outcomes = gate.check(
                entity, [(mine.get(entity, []), page.request) for mine, page in zip(by_entity, pages)], now, unchanged,
                refused if entity == own else None,
            )
            for page_checked, mine, (passed, failures, warnings) in zip(checked, known, outcomes):
                page_checked.candidates[entity] = [*mine.get(entity, []), *passed]
                page_checked.failures.extend(failures)
                page_checked.warnings.extend(warnings)
    return checked


def _candidates_by_entity(page: SourcePage, *, known: bool = False) -> dict[str, list[Candidate]]:
    """The candidates of the page's records per entity: those the gate checks or, `known`, those of the records that
    pass unchecked (KNOWN_ROWS: already on the platform as they are)."""
    known_ids = page.extra.get(KNOWN_ROWS, ())
    if known and not known_ids:
        return {}
    chosen = [(record, raw) for record, raw in zip(page.records, page.raw) if (record.id in known_ids) == known]
    if not chosen:
        return {}
    storable_already = is_storable([raw for _, raw in chosen]) if known_ids else is_storable(page.raw)
    found: dict[str, list[Candidate]] = {}
    for record, raw in chosen:
        for candidate in addressed(record.candidates(raw, storable_already=storable_already)):
            found.setdefault(candidate.entity, []).append(candidate)
    return found
