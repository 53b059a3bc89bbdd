"""Inclusion rules Buildium's records need that the engine's do not have: active at the source, assigned to the staff
user by id."""

from __future__ import annotations

from dataclasses import dataclass

from pmsync.rule_types import Exclusion
from schemas.records import Candidate


@dataclass(frozen=True)
class ActiveAtSource:
    """A record the source marks inactive (`facts["source_active"] is False`) is not applied: an inactive rental is
    not imported; one that turns inactive is left to reconciliation to deactivate."""

    def exclusion(self, candidate: Candidate, integration_user: str) -> Exclusion | None:
        if candidate.facts.get("source_active") is False:
            return Exclusion("inactive_at_source", f"{candidate.entity} {candidate.source_id} is inactive in the source")
        return None


@dataclass(frozen=True)
class AssignedToStaffUser:
    """A work order syncs only when its task is assigned to the integration's staff user (`facts["assigned_to_user_id"]`
    equals the integration user, a Buildium user id)."""

    def exclusion(self, candidate: Candidate, integration_user: str) -> Exclusion | None:
        assignee = candidate.facts.get("assigned_to_user_id")
        if assignee is not None and str(assignee) == integration_user.strip():
            return None
        task = candidate.facts.get("task_source_id")
        if assignee is None:
            return Exclusion("assigned_to_nobody",
                             f"task {task} is not assigned to the staff user (PMSYNC_BUILDIUM_STAFF_USER_ID); assign it")
        return Exclusion("assigned_to_other_user", f"task {task} is assigned to user {assignee}, not the staff user")
