"""What the quality gate decides: the error that stops a run, each record it holds back or warns about, each page's
outcome, and the records their model refused as held-back records."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pmsync.sync.rule_types import Stream
from pmsync.source import SourcePage
from pmsync.source.paging import RefusedRecord
from schemas.records import Candidate
from schemas.source_values import storable


class DataQualityError(Exception):
    """Fatal for the run: a batch failed too many expectations (or a suite cannot run); fix the source or the suite.

    `facts` holds what an alert may carry for a stop by share: the entity and the counts (no record, no value)."""

    def __init__(self, message: str, facts: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.facts = facts or {}


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
        """Source ids of the entity's records that broke no expectation, not even a warning (their quarantine row is
        released); not an id another copy on the page was quarantined under (a copy its model refused)."""
        held = {f.source_id for f in [*self.warnings, *self.failures] if f.entity == entity}
        return [str(c.source_id) for c in self.candidates.get(entity, []) if str(c.source_id) not in held]


def refused_failure(entity: str, refused: RefusedRecord) -> QualityFailure:
    """A record its model refused, as the quarantine keeps it: its key, a label per field (`spec(buildingID): Input
    should be a valid integer`), its raw JSON made storable."""
    labels = sorted({f"spec({name}): {reason}" for name, reason in refused.problems})
    return QualityFailure(entity, refused.key, labels, storable(refused.raw))


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
