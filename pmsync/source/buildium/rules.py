"""Buildium's rule table, rentals and associations: its listings (paths are this package's) and what each entity
syncs."""

from __future__ import annotations

from dataclasses import replace

from pmsync.sync.association_rules import ASSOCIATION_RULES
from pmsync.sync.rule_types import (INTEGRATION_DATA, AdoptByMarker, EntityRule, GoesWhenInactive, LivesOnActiveLease,
                               ParentLink, Reconciled, RuleTable, Stream)
from pmsync.source.buildium.balances import BALANCE_RULES, BALANCE_STREAMS, LEASE_LEDGER
from pmsync.source.buildium.inclusions import ActiveAtSource, AllOf, AssignedToStaffUser, ParentOfKind
from pmsync.source.buildium.association_records import (AssociationOwnerRecord, AssociationRecord,
                                                        AssociationUnitRecord, OwnershipAccountRecord)
from pmsync.source.buildium.parts import ASSOCIATION, RENTAL
from pmsync.source.buildium.records import (LeaseRecord, RentalOwnerRecord, RentalRecord, RentalUnitRecord,
                                            VendorRecord, WorkOrderRecord)

MANAGER = {
    "assigned_manager_source_id": "manager_source_id",
    "assigned_manager_name": "manager_name",
    "assigned_manager_email": "manager_email",
}

BUILDIUM_STREAMS = (
    Stream("rentals", "/v1/rentals", RentalRecord, ("property",)),
    Stream("rentalunits", "/v1/rentals/units", RentalUnitRecord, ("unit",)),
    Stream("leases", "/v1/leases", LeaseRecord, ("lease", "resident")),
    Stream("rentalowners", "/v1/rentals/owners", RentalOwnerRecord, ("owner",)),
    Stream("vendors", "/v1/vendors", VendorRecord, ("service_provider",)),
    Stream("associations", "/v1/associations", AssociationRecord, ("association",)),
    Stream("associationunits", "/v1/associations/units", AssociationUnitRecord, ("association_unit",)),
    Stream("workorders", "/v1/workorders", WorkOrderRecord, ("work_order",)),
    Stream("ownershipaccounts", "/v1/associations/ownershipaccounts", OwnershipAccountRecord, ("ownership_account",),
           nightly=True),
    Stream("associationowners", "/v1/associations/owners", AssociationOwnerRecord, ("association_owner",)),
    *BALANCE_STREAMS,
)
"""Parents first: work orders after associations and their units (a work order's property may be either kind).
Ownership accounts have no lastupdated filter (dialect.filters_by_window): the initial and the nightly lease sync read
them whole, the hourly delta not at all (an owner whose account is new parks until the nightly sync brings it)."""

BUILDIUM_RULES = RuleTable(
    source_system="buildium",
    vendor="buildium",
    suites="buildium",
    reconciles=(Reconciled("unit", "property"), Reconciled("association_unit", "association")),
    streams=BUILDIUM_STREAMS,
    rules={
        "property": EntityRule("property", include=ActiveAtSource(), on_update=INTEGRATION_DATA,
                               goes_when_inactive=GoesWhenInactive(children=("unit",))),
        "unit": EntityRule(
            "unit",
            parents=(ParentLink("property", "property_id"),),
            on_update=INTEGRATION_DATA | {"property_id"},
            comes_back_when_listed=True,
        ),
        "lease": EntityRule(
            "lease",
            parents=(ParentLink("unit", "unit_id"), ParentLink("property", "property_id", required=False)),
        ),
        "resident": EntityRule(
            "resident",
            include=LivesOnActiveLease(),
            parents=(ParentLink("unit", "unit_id"), ParentLink("lease", "lease_id")),
            on_update=frozenset({"unit_id", "lease_id", "move_in_date", "move_out_date"}),
        ),
        "work_order": EntityRule(
            "work_order",
            include=AllOf((AssignedToStaffUser(), ParentOfKind("property", frozenset({RENTAL, ASSOCIATION})))),
            parents=(
                ParentLink("property", "property_id", inherit=MANAGER, or_kinds=("association",)),
                ParentLink("unit", "unit_id", required=False, or_kinds=("association_unit",)),
            ),
            on_update=frozenset(),
            adopt=AdoptByMarker("push_marker", "push_marker"),
        ),
        "owner": EntityRule("owner"),
        "service_provider": EntityRule("service_provider"),
        **ASSOCIATION_RULES,
        "association": replace(ASSOCIATION_RULES["association"], include=ActiveAtSource(),
                               goes_when_inactive=GoesWhenInactive(children=("association_unit",))),
        **BALANCE_RULES,
    },
    lease_ledger=tuple(stream.name for stream in LEASE_LEDGER),
    on_demand=LEASE_LEDGER,
)
"""Propertyware's rules on Buildium's rentals: an inactive rental is not imported (its units park: no property), and
a rental that turns inactive deactivates its property and units (GoesWhenInactive, logged on the property);
residents are Current tenants of Active leases, and only their unit, lease and move dates change on update; a work
order syncs when its task is assigned to the staff user and its property is on the platform, and a sync never
changes it; owners and vendors are synced, since Buildium lists them. The association side is
pmsync.sync.association_rules' (one definition), with an inactive association left out, and one turning inactive deactivated, as a rental is. A work
order's property and unit are a rental's or an association's, as its task's Property.Type says (ids repeat across
the two): each link resolves against that kind's rows only (ParentLink.or_kinds); a property of no known type is
excluded (property_kind_not_synced)."""
