"""Prefect events a finished run raises for automations: a quality stop, a refused mass deactivation, stale parked records."""

from __future__ import annotations

from prefect.events import emit_event

from pmsync.sync.scope import RunSummary
from tasks.artifacts import publish_run_summary

QUALITY_STOPPED = "pmsync.quality.stopped"
MASS_DEACTIVATION_REFUSED = "pmsync.reconciliation.mass-deactivation-refused"
PARKED_RECORDS_STALE = "pmsync.parked-records.stale"
EVENT_NAMES = (QUALITY_STOPPED, MASS_DEACTIVATION_REFUSED, PARKED_RECORDS_STALE)

ERROR_EVENTS = {"DataQualityError": QUALITY_STOPPED, "MassDeactivationRefused": MASS_DEACTIVATION_REFUSED}
"""A run's error class and the event it raises; the event carries the error's `facts` (entity or kind, and counts)."""


def integration_resource(name: str) -> dict[str, str]:
    """The resource every pmsync event is about: the integration (automations match `pmsync.integration.*`)."""
    return {"prefect.resource.id": f"pmsync.integration.{name}", "prefect.resource.name": name}


def run_events(summary: RunSummary) -> list[tuple[str, dict]]:
    """The events of a finished run and their payloads: counts and ids only (no message, no record, no secret)."""
    found = []
    base = {"run_id": summary.run_id, "flow": summary.flow}
    if summary.error_class in ERROR_EVENTS:
        found.append((ERROR_EVENTS[summary.error_class],
                      {**base, "error_class": summary.error_class, **summary.error_facts}))
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
