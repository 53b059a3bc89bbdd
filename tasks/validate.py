"""Validate: the quality gate — each fetched page checked against its entities' Great Expectations suites."""

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
from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from pmsync.rules import Stream
from pmsync.runs import utc_now
from pmsync.source import SourcePage
from schemas.records import Candidate

NOT_IN_FRAME = {"source_data"}


class DataQualityError(Exception):
    """Fatal for the run: a batch failed too many expectations (or a suite cannot run); fix the source or the suite."""


@dataclass(frozen=True)
class QualityFailure:
    """One record the gate kept out, with the expectations it broke."""

    entity: str
    source_id: str
    expectations: list[str]
    record: dict[str, Any]


@dataclass
class CheckedPage:
    """A page after the gate: candidates that passed, per entity, and the records it quarantined."""

    page: SourcePage
    candidates: dict[str, list[Candidate]]
    failures: list[QualityFailure] = field(default_factory=list)


class QualityGate:
    """The suites of `expectations/`, loaded once per run into an ephemeral GX context."""

    def __init__(self, directory: Path, entities: list[str], max_failure_share: float, min_rows_for_share: int = 10):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        for name in [n for n in logging.root.manager.loggerDict if n.startswith("great_expectations")]:
            logging.getLogger(name).setLevel(logging.WARNING)
        self.max_failure_share = max_failure_share
        self.min_rows_for_share = min_rows_for_share
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self._suites = {}
        self._batches = {}
        for entity in entities:
            path = directory / f"{entity}.json"
            if not path.exists():
                raise DataQualityError(f"no expectation suite for {entity}: create {path}")
            data = json.loads(path.read_text())
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

    def check(self, entity: str, candidates: list[Candidate], request: str, now: datetime) -> tuple[list[Candidate], list[QualityFailure]]:
        """Split candidates into those that pass and those that broke an expectation (stop when too many broke)."""
        if not candidates:
            return [], []
        frame = candidate_frame(candidates, now)
        result = self._batches[entity].get_batch(batch_parameters={"dataframe": frame}).validate(
            self._suites[entity], result_format={"result_format": "COMPLETE"}
        )
        broken: dict[int, list[str]] = {}
        for outcome in result.results:
            if outcome.success:
                continue
            label = _label(outcome.expectation_config)
            rows = (outcome.result or {}).get("unexpected_index_list")
            raised = outcome.exception_info and outcome.exception_info.get("raised_exception")
            if raised or rows is None:
                detail = (outcome.exception_info or {}).get("exception_message") or "it applies to the whole batch"
                raise DataQualityError(f"{entity}: expectation {label} could not be evaluated row by row ({detail}) [{request}]")
            for row in rows:
                broken.setdefault(row, []).append(label)
        share = len(broken) / len(candidates)
        if broken and share > self.max_failure_share and len(candidates) >= self.min_rows_for_share:
            top = Counter(label for labels in broken.values() for label in labels).most_common(3)
            raise DataQualityError(
                f"{entity}: {len(broken)} of {len(candidates)} records ({share:.0%}) failed data-quality checks, over "
                f"the {self.max_failure_share:.0%} limit; nothing of this page was written. Top failing: "
                + ", ".join(f"{label} ×{count}" for label, count in top)
                + f" [{request}]"
            )
        failures = [
            QualityFailure(entity, str(candidates[row].source_id), labels, candidates[row].payload)
            for row, labels in broken.items()
        ]
        return [c for row, c in enumerate(candidates) if row not in broken], failures


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


@task(name="open_quality_gate", cache_policy=NONE, persist_result=False)
def open_quality_gate(directory: Path, entities: list[str], max_failure_share: float) -> QualityGate:
    """Load every entity's suite once for the run."""
    return QualityGate(directory, entities, max_failure_share)


@task(name="validate_page", cache_policy=NONE, persist_result=False)
def validate_page(gate: QualityGate, stream: Stream, page: SourcePage) -> CheckedPage:
    """Candidates of the page per entity, through the gate; quarantined records are named with their expectations."""
    candidates = [c for record, raw in zip(page.records, page.raw) for c in record.candidates(raw)]
    checked = CheckedPage(page, {})
    now = utc_now()
    for entity in stream.entities:
        passed, failures = gate.check(entity, [c for c in candidates if c.entity == entity], page.request, now)
        checked.candidates[entity] = passed
        checked.failures.extend(failures)
    if checked.failures:
        labels = Counter(label for failure in checked.failures for label in failure.expectations)
        get_run_logger().warning(
            "%s: %d record(s) quarantined (%s)",
            stream.name,
            len(checked.failures),
            ", ".join(f"{label} ×{count}" for label, count in labels.most_common(3)),
        )
    return checked
