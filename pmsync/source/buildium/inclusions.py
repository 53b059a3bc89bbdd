"""Inclusion rules Buildium's records need that the engine's do not have: active at the source, assigned to the staff
user by id, a parent of a synced kind, and all of several."""

from __future__ import annotations

from dataclasses import dataclass

from pmsync.sync.rule_types import Exclusion, Inclusion
from schemas.records import Candidate


@dataclass(frozen=True)
class ActiveAtSource:
    """A record the source marks inactive (`facts["source_active"] is False`) is not applied: an inactive rental is
    not imported."""

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


@dataclass(frozen=True)
class ParentOfKind:
    """A record applies only when its `parent` is of one of `kinds` (`facts["parent_kinds"]`): Buildium's ids repeat
    across kinds, so a work order whose property says no known type (neither Rental nor Association) is left out
    rather than linked to whichever kind has that id."""

    parent: str
    kinds: frozenset[str]

    def exclusion(self, candidate: Candidate, integration_user: str) -> Exclusion | None:
        kind = (candidate.facts.get("parent_kinds") or {}).get(self.parent)
        if kind in self.kinds:
            return None
        return Exclusion(f"{self.parent}_kind_not_synced",
                         f"its {self.parent} is of kind {kind or '(unknown)'}; this rule table syncs "
                         f"{', '.join(sorted(self.kinds))} only")


@dataclass(frozen=True)
class AllOf:
    """A record applies when every one of `inclusions` lets it; the first that does not says why."""

    inclusions: tuple[Inclusion, ...]

    def exclusion(self, candidate: Candidate, integration_user: str) -> Exclusion | None:
        for inclusion in self.inclusions:
            exclusion = inclusion.exclusion(candidate, integration_user)
            if exclusion is not None:
                return exclusion
        return None
