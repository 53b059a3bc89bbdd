"""Sync rules of the association side (condos and HOAs: associations, their units, ownership accounts and owners), as
data any source package with associations puts in its rule table; each entity's rows are kind 'association'
(schemas.entity_rows), so an association and a rental of one id never meet."""

from __future__ import annotations

from dataclasses import dataclass

from pmsync.sync.rule_types import INTEGRATION_DATA, EntityRule, Exclusion, ParentLink
from schemas.records import Candidate


@dataclass(frozen=True)
class OwnsAnActiveAccount:
    """An association owner is a resident (group "Owners") of a unit while the ownership account that makes them its
    owner is active (facts: `ownership_account_source_id`, `unit_agreement_active`, `ownership_account_status`)."""

    def exclusion(self, candidate: Candidate, integration_user: str) -> Exclusion | None:
        account = candidate.facts.get("ownership_account_source_id")
        if account is None:
            return Exclusion("no_ownership_account", "the owner holds no ownership account, so owns no unit")
        if candidate.facts.get("unit_agreement_active") is not True:
            status = candidate.facts.get("ownership_account_status") or "(none)"
            return Exclusion("ownership_account_inactive", f"ownership account {account} is not active (status {status})")
        return None


ASSOCIATION_RULES: dict[str, EntityRule] = {
    "association": EntityRule("association", on_update=INTEGRATION_DATA),
    "association_unit": EntityRule(
        "association_unit",
        parents=(ParentLink("association", "property_id"),),
        on_update=INTEGRATION_DATA | {"property_id"},
        comes_back_when_listed=True,
    ),
    "ownership_account": EntityRule(
        "ownership_account",
        parents=(ParentLink("association_unit", "unit_id"), ParentLink("association", "property_id", required=False)),
    ),
    "association_owner": EntityRule(
        "association_owner",
        include=OwnsAnActiveAccount(),
        parents=(ParentLink("association_unit", "unit_id"), ParentLink("ownership_account", "ownership_account_id")),
        on_update=frozenset({"unit_id", "ownership_account_id", "move_in_date", "move_out_date"}),
    ),
}
"""As for rentals: an association keeps the platform's name, address and manager (integration data refreshed); a unit
follows its association; an ownership account is the source's in every field; an owner, like a tenant, keeps the
platform's name, e-mail and phone, and follows its unit, account and purchase and sale dates (move-in and move-out)."""
