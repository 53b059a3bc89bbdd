"""Prefect events a finished run raises for automations: a quality stop, a refused mass deactivation, stale parked records."""

from __future__ import annotations

import re

from prefect.events import emit_event

from pmsync.sync.scope import RunSummary
from tasks.artifacts import publish_run_summary

QUALITY_STOPPED = "pmsync.quality.stopped"
MASS_DEACTIVATION_REFUSED = "pmsync.reconciliation.mass-deactivation-refused"
PARKED_RECORDS_STALE = "pmsync.parked-records.stale"
EVENT_NAMES = (QUALITY_STOPPED, MASS_DEACTIVATION_REFUSED, PARKED_RECORDS_STALE)

ERROR_EVENTS = {"DataQualityError": QUALITY_STOPPED, "MassDeactivationRefused": MASS_DEACTIVATION_REFUSED}
"""A run's error class (the start of RunSummary.error) and the event it raises."""
# The counts in the messages of pmsync/sync/gate.py and pmsync/reconcile_plan.py (tests/e2e reads both back).
QUALITY_SHARE = re.compile(r"^DataQualityError: (?P<entity>\w+): (?P<failed>\d+) of (?P<checked>\d+) records")
WOULD_DEACTIVATE = re.compile(r"would deactivate (?P<gone>\d+) of (?P<active>\d+) active (?P<what>units|properties)")


def integration_resource(name: str) -> dict[str, str]:
    """The resource every pmsync event is about: the integration (automations match `pmsync.integration.*`)."""
    return {"prefect.resource.id": f"pmsync.integration.{name}", "prefect.resource.name": name}


def run_events(summary: RunSummary) -> list[tuple[str, dict]]:
    """The events of a finished run and their payloads: counts and ids only (no message, no record, no secret)."""
    found = []
    base = {"run_id": summary.run_id, "flow": summary.flow}
    error_class = (summary.error or "").split(":", 1)[0]
    if error_class in ERROR_EVENTS:
        payload = {**base, "error_class": error_class}
        if match := QUALITY_SHARE.match(summary.error or ""):
            payload.update(entity=match["entity"], failed=int(match["failed"]), checked=int(match["checked"]))
        elif match := WOULD_DEACTIVATE.search(summary.error or ""):
            payload.update(kind=match["what"], would_deactivate=int(match["gone"]), active=int(match["active"]))
        found.append((ERROR_EVENTS[error_class], payload))
    if summary.stale_parked:
        found.append((PARKED_RECORDS_STALE, {
            **base, "stale_parked": summary.stale_parked, "alert_hours": summary.parked_alert.total_seconds() / 3600,
        }))
    return found


def emit_run_events(summary: RunSummary) -> None:
    """Send the run's events to the Prefect server; a run's flow run, flow, deployment and tags are attached as
    related resources by Prefect itself."""
    for event, payload in run_events(summary):
        emit_event(event, resource=integration_resource(summary.integration), payload=payload)


def publish_run_summary_and_events(summary: RunSummary) -> None:
    """The run's events, then its summary artifact (the publisher tasks/steps.py gives the jobs)."""
    emit_run_events(summary)
    publish_run_summary(summary)
