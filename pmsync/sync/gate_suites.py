"""A run's expectation suites in Great Expectations, as the quality gate's process holds them: failing rows per frame
(imports nothing of pmsync: the gate's process starts with GX alone)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

VERDICTS_ONLY = {"result_format": "BOOLEAN_ONLY"}
FAILING_ROWS = {"result_format": "COMPLETE"}
"""GX result formats: a verdict per expectation, then (for a failed one) every failing row's index."""


class SuiteRefused(Exception):
    """A suite GX cannot build or evaluate row by row (the gate raises it as DataQualityError, with this message)."""


def frame_of(columns: dict[str, list]) -> pd.DataFrame:
    """The frame of the gate's columns (`pmsync.sync.gate_frame.candidate_columns`), in their order."""
    import pandas as pd

    return pd.DataFrame(columns, columns=list(columns))


def load_great_expectations() -> None:
    """Import GX (seconds of CPU, once per process), its loggers at WARNING."""
    import great_expectations  # noqa: F401
    from great_expectations.validator.v1_validator import Validator  # noqa: F401

    for name in [n for n in logging.root.manager.loggerDict if n.startswith("great_expectations")]:
        logging.getLogger(name).setLevel(logging.WARNING)


class GxSuites:
    """Every entity's suite in an ephemeral GX context, each with a whole-dataframe batch definition.

    `definitions` maps an entity to its suite file's path (for messages) and the suite's JSON; a suite GX cannot
    build raises SuiteRefused naming the file."""

    def __init__(self, definitions: dict[str, tuple[str, dict]]) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        # What `Batch.validate` and `ValidationDefinition.run` use; either would load (and fingerprint) the frame
        # twice, or keep every result in the context's store.
        from great_expectations.validator.v1_validator import Validator

        self._validator = Validator
        self._suites: dict[str, Any] = {}
        self._batches: dict[str, Any] = {}
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        for entity, (path, data) in definitions.items():
            try:
                suite = gx.ExpectationSuite(name=data["name"], expectations=data["expectations"], meta=data.get("meta"))
            except Exception as refused:  # GX raises pydantic, KeyError or its own errors for a malformed suite
                raise SuiteRefused(f"{path}: the suite cannot be built ({type(refused).__name__}: {refused})") from refused
            if len(suite.expectations) != len(data["expectations"]):
                raise SuiteRefused(
                    f"{path}: only {len(suite.expectations)} of {len(data['expectations'])} expectations are valid "
                    "(an unknown expectation type?)"
                )
            self._suites[entity] = context.suites.add(suite)
            self._batches[entity] = (
                context.data_sources.add_pandas(f"pandas-{entity}")
                .add_dataframe_asset(f"page-{entity}")
                .add_batch_definition_whole_dataframe(f"page-{entity}")
            )

    def broken_rows(
        self, entity: str, columns: dict[str, list], request: str
    ) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
        """Rows of the frame of `columns` that broke an expectation of severity "error", and rows that broke one of
        severity "warning", each with the labels of what they broke.

        The suite first runs for a verdict per expectation only (BOOLEAN_ONLY: counts, half the cost of naming
        rows); only the expectations that failed run again on the same loaded batch, naming their rows (COMPLETE).
        """
        suite = self._suites[entity]
        validator = self._validator(
            batch_definition=self._batches[entity], batch_parameters={"dataframe": frame_of(columns)},
            result_format=VERDICTS_ONLY,
        )
        failed = [outcome for outcome in validator.validate_expectation_suite(suite).results if not outcome.success]
        if not failed:
            return {}, {}
        validator.result_format = FAILING_ROWS
        expectations = {expectation.id: expectation for expectation in suite.expectations}
        broken: dict[int, list[str]] = {}
        warned: dict[int, list[str]] = {}
        for verdict in failed:
            raised = _raised(verdict)
            outcome = verdict if raised else validator.validate_expectation(expectations[verdict.expectation_config.id])
            if outcome.success:
                continue
            label = _label(outcome.expectation_config)
            rows = (outcome.result or {}).get("unexpected_index_list")
            raised = raised or _raised(outcome)
            if raised or rows is None:
                detail = raised or "it applies to the whole batch"
                raise SuiteRefused(f"{entity}: expectation {label} could not be evaluated row by row ({detail}) [{request}]")
            severity = (outcome.expectation_config.meta or {}).get("severity", "error")
            held = warned if severity == "warning" else broken
            for row in rows:
                held.setdefault(int(row), []).append(label)
        return broken, warned


def _raised(outcome: Any) -> str | None:
    """What GX raised evaluating an expectation, if it did; its exception info is flat, or keyed by the metric that
    raised (a column the frame lacks)."""
    info = outcome.exception_info or {}
    for entry in [info, *(value for value in info.values() if isinstance(value, dict))]:
        if entry.get("raised_exception"):
            return str(entry.get("exception_message") or "an exception without a message")
    return None


def _label(config: Any) -> str:
    kwargs = config.kwargs
    columns = kwargs.get("column") or ",".join(
        str(c) for c in (kwargs.get("column_list") or [kwargs.get("column_A"), kwargs.get("column_B")]) if c
    )
    return f"{config.type}({columns})"
