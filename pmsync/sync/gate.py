"""The quality gate: each fetched page checked against its entities' Great Expectations suites (no Prefect)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from pmsync.rules import Stream
from pmsync.source import SourcePage
from schemas.records import Candidate

NOT_IN_FRAME = {"source_data"}
SEVERITIES = ("error", "warning")
"""An expectation's meta "severity": "error" (the default) quarantines a failing record; "warning" lets it load and
records it (quarantine status "warning"), reported in the run summary and `pmsync quality`."""


class DataQualityError(Exception):
    """Fatal for the run: a batch failed too many expectations (or a suite cannot run); fix the source or the suite."""


@dataclass(frozen=True)
class QualityFailure:
    """One record the gate kept out (severity "error") or let through with a warning, with the expectations it broke."""

    entity: str
    source_id: str
    expectations: list[str]
    record: dict[str, Any]
    severity: str = "error"


@dataclass
class CheckedPage:
    """A page after the gate: candidates that passed (warned ones included), per entity, the records it quarantined
    and the ones it warned about."""

    page: SourcePage
    candidates: dict[str, list[Candidate]]
    failures: list[QualityFailure] = field(default_factory=list)
    warnings: list[QualityFailure] = field(default_factory=list)

    def clean_source_ids(self, entity: str) -> list[str]:
        """Source ids of the entity's records that broke no expectation, not even a warning (their quarantine row is released)."""
        warned = {w.source_id for w in self.warnings if w.entity == entity}
        return [str(c.source_id) for c in self.candidates.get(entity, []) if str(c.source_id) not in warned]


class QualityGate:
    """The suites of `expectations/`, read once per run; GX itself loads only when a page brings records.

    Importing Great Expectations costs seconds, which an hourly delta with nothing changed need not pay.
    """

    def __init__(self, directory: Path, entities: list[str], max_failure_share: float, min_rows_for_share: int = 10):
        self.max_failure_share = max_failure_share
        self.min_rows_for_share = min_rows_for_share
        self._definitions: dict[str, tuple[Path, dict]] = {}
        for entity in entities:
            path = directory / f"{entity}.json"
            if not path.exists():
                raise DataQualityError(f"no expectation suite for {entity}: create {path}")
            self._definitions[entity] = (path, json.loads(path.read_text()))
            for expectation in self._definitions[entity][1].get("expectations", []):
                severity = (expectation.get("meta") or {}).get("severity", "error")
                if severity not in SEVERITIES:
                    raise DataQualityError(
                        f"{path}: {expectation.get('type')} has severity {severity!r}; use one of {', '.join(SEVERITIES)}"
                    )
        self._suites: dict[str, Any] = {}
        self._batches: dict[str, Any] = {}

    def _open(self) -> None:
        """Build the ephemeral GX context with every suite (once, on the first page that has records)."""
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        for name in [n for n in logging.root.manager.loggerDict if n.startswith("great_expectations")]:
            logging.getLogger(name).setLevel(logging.WARNING)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        for entity, (path, data) in self._definitions.items():
            suite = gx.ExpectationSuite(name=data["name"], expectations=data["expectations"], meta=data.get("meta"))
            if len(suite.expectations) != len(data["expectations"]):
                raise DataQualityError(
                    f"{path}: only {len(suite.expectations)} of {len(data['expectations'])} expectations are valid "
                    "(an unknown expectation type?)"
                )
            self._suites[entity] = context.suites.add(suite)
            self._batches[entity] = (
                context.data_sources.add_pandas(f"pandas-{entity}")
                .add_dataframe_asset(f"page-{entity}")
                .add_batch_definition_whole_dataframe(f"page-{entity}")
            )

    def check(
        self, entity: str, pages: list[tuple[list[Candidate], str]], now: datetime
    ) -> list[tuple[list[Candidate], list[QualityFailure], list[QualityFailure]]]:
        """Per page of (candidates, request): those that load (warned ones included), those quarantined (an
        expectation of severity "error" broken) and those warned about (only "warning" expectations broken).

        One GX run covers all the pages (its cost is mostly per run); the failure share that stops the run is
        still judged page by page, on quarantined records only.
        """
        everything = [candidate for candidates, _ in pages for candidate in candidates]
        if not everything:
            return [([], [], []) for _ in pages]
        if not self._suites:
            self._open()
        broken, warned = self._broken_rows(entity, everything, pages[0][1], now)
        outcomes, offset = [], 0
        for candidates, request in pages:
            mine = {row - offset: labels for row, labels in broken.items() if offset <= row < offset + len(candidates)}
            notes = {row - offset: labels for row, labels in warned.items() if offset <= row < offset + len(candidates)}
            offset += len(candidates)
            self._stop_if_too_many(entity, mine, len(candidates), request)
            failures = [
                QualityFailure(entity, str(candidates[row].source_id), sorted({*labels, *notes.get(row, [])}),
                               candidates[row].payload)
                for row, labels in mine.items()
            ]
            warnings = [
                QualityFailure(entity, str(candidates[row].source_id), labels, candidates[row].payload, "warning")
                for row, labels in notes.items() if row not in mine
            ]
            outcomes.append(([c for row, c in enumerate(candidates) if row not in mine], failures, warnings))
        return outcomes

    def _broken_rows(
        self, entity: str, candidates: list[Candidate], request: str, now: datetime
    ) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
        """Rows that broke an expectation of severity "error", and rows that broke one of severity "warning"."""
        result = self._batches[entity].get_batch(batch_parameters={"dataframe": candidate_frame(candidates, now)}).validate(
            self._suites[entity], result_format={"result_format": "COMPLETE"}
        )
        broken: dict[int, list[str]] = {}
        warned: dict[int, list[str]] = {}
        for outcome in result.results:
            if outcome.success:
                continue
            label = _label(outcome.expectation_config)
            rows = (outcome.result or {}).get("unexpected_index_list")
            raised = outcome.exception_info and outcome.exception_info.get("raised_exception")
            if raised or rows is None:
                detail = (outcome.exception_info or {}).get("exception_message") or "it applies to the whole batch"
                raise DataQualityError(f"{entity}: expectation {label} could not be evaluated row by row ({detail}) [{request}]")
            severity = (outcome.expectation_config.meta or {}).get("severity", "error")
            for row in rows:
                (warned if severity == "warning" else broken).setdefault(row, []).append(label)
        return broken, warned

    def _stop_if_too_many(self, entity: str, broken: dict[int, list[str]], rows: int, request: str) -> None:
        share = len(broken) / rows if rows else 0.0
        if broken and share > self.max_failure_share and rows >= self.min_rows_for_share:
            top = Counter(label for labels in broken.values() for label in labels).most_common(3)
            raise DataQualityError(
                f"{entity}: {len(broken)} of {rows} records ({share:.0%}) failed data-quality checks, over "
                f"the {self.max_failure_share:.0%} limit; nothing of this page was written. Top failing: "
                + ", ".join(f"{label} ×{count}" for label, count in top)
                + f" [{request}]"
            )


def candidate_frame(candidates: list[Candidate], now: datetime) -> pd.DataFrame:
    """One row per candidate: its columns, its parents' source ids, and how far its last change is ahead of now."""
    rows = []
    for candidate in candidates:
        row: dict[str, Any] = {"source_id": candidate.source_id}
        for column, value in candidate.columns.items():
            if column not in NOT_IN_FRAME:
                row[column] = float(value) if isinstance(value, Decimal) else value
        for parent, source_id in candidate.parents.items():
            row[f"{parent}_source_id"] = source_id
        modified = candidate.columns.get("source_modified_at")
        row["modified_seconds_ahead"] = (modified - now).total_seconds() if modified else None
        rows.append(row)
    return pd.DataFrame(rows)


def _label(config: Any) -> str:
    kwargs = config.kwargs
    columns = kwargs.get("column") or ",".join(
        str(c) for c in (kwargs.get("column_list") or [kwargs.get("column_A"), kwargs.get("column_B")]) if c
    )
    return f"{config.type}({columns})"


def check_pages(gate: QualityGate, stream: Stream, pages: list[SourcePage], now: datetime) -> list[CheckedPage]:
    """The records of each page become candidates per entity, and go through the gate (no Prefect needed)."""
    candidates = [[c for record, raw in zip(page.records, page.raw) for c in record.candidates(raw)] for page in pages]
    checked = [CheckedPage(page, {}) for page in pages]
    for entity in stream.entities:
        outcomes = gate.check(entity, [([c for c in mine if c.entity == entity], page.request)
                                       for mine, page in zip(candidates, pages)], now)
        for page_checked, (passed, failures, warnings) in zip(checked, outcomes):
            page_checked.candidates[entity] = passed
            page_checked.failures.extend(failures)
            page_checked.warnings.extend(warnings)
    return checked


def held_summaries(stream: Stream, checked: list[CheckedPage]) -> list[str]:
    """One line per kind of held record in a batch (quarantined, loaded with a warning) with its top expectations."""
    lines = []
    for kind, held in (("quarantined", "failures"), ("loaded with a warning", "warnings")):
        records = [record for page_checked in checked for record in getattr(page_checked, held)]
        if records:
            labels = Counter(label for record in records for label in record.expectations)
            top = ", ".join(f"{label} ×{count}" for label, count in labels.most_common(3))
            lines.append(f"{stream.name}: {len(records)} record(s) {kind} ({top})")
    return lines
