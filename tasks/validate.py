"""Validate: the quality gate as Prefect tasks (the gate itself is pmsync.sync.gate)."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from pmsync.rules import Stream
from pmsync.runs import utc_now
from pmsync.source import SourcePage
from pmsync.sync.gate import CheckedPage, QualityGate, check_pages, held_summaries


@task(name="open_quality_gate", cache_policy=NONE, persist_result=False)
def open_quality_gate(directory: Path, entities: list[str], max_failure_share: float, warm: bool = False) -> QualityGate:
    """Read every entity's suite once for the run (a missing suite fails here, before any page is fetched).

    `warm`: start loading Great Expectations in the background now, overlapping the first fetch — for runs that will
    bring records (an initial sync); a delta leaves it to the first page with records."""
    gate = QualityGate(directory, entities, max_failure_share)
    if warm:
        gate.warm_up()
    return gate


@task(name="validate_pages", cache_policy=NONE, persist_result=False)
def validate_pages(gate: QualityGate, stream: Stream, pages: list[SourcePage]) -> list[CheckedPage]:
    """Candidates of each page per entity, through the gate (one GX run per entity for all the pages); quarantined
    records are named with their expectations."""
    checked = check_pages(gate, stream, pages, utc_now())
    for line in held_summaries(stream, checked):
        get_run_logger().warning(line)
    return checked
