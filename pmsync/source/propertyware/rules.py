"""Propertyware's rule table: its listings (paths and filters are this package's), and what each entity syncs."""

from __future__ import annotations

from dataclasses import replace

from pmsync.sync.rule_types import (
    INTEGRATION_DATA,
    AdoptByMarker,
    EntityRule,
    LivesOnActiveLease,
    ManagedByIntegrationUser,
    ParentLink,
    RuleTable,
    Stream,
)
from schemas.records import BuildingRecord, ChargeRecord, LeaseRecord, PaymentRecord, UnitRecord, WorkOrderRecord

MANAGER = {
    "assigned_manager_source_id": "manager_source_id",
    "assigned_manager_name": "manager_name",
    "assigned_manager_email": "manager_email",
}

PROPERTYWARE_STREAMS = (
    Stream("buildings", "/buildings", BuildingRecord, ("property",)),
    Stream("units", "/units", UnitRecord, ("unit",)),
    Stream("leases", "/leases", LeaseRecord, ("lease", "resident")),
    Stream("workorders", "/workorders", WorkOrderRecord, ("work_order",)),
    Stream("charges", "/leases/charges", ChargeRecord, ("charge",), readable_by_id=False),
    Stream("payments", "/leases/payments", PaymentRecord, ("payment",), readable_by_id=False),
)

PROPERTYWARE_RULES = RuleTable(
    source_system="propertyware",
    vendor="propertyware",
    streams=PROPERTYWARE_STREAMS,
    rules={
        "property": EntityRule("property", on_update=INTEGRATION_DATA),
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
            include=ManagedByIntegrationUser(),
            parents=(
                ParentLink("property", "property_id", inherit=MANAGER),
                ParentLink("unit", "unit_id", required=False),
                ParentLink("resident", "resident_id", required=False, resolve="primary_resident_of_named_lease"),
            ),
            on_update=frozenset(),
            adopt=AdoptByMarker("search_tag", "push_marker"),
        ),
        "charge": EntityRule("charge", parents=(ParentLink("lease", "lease_id"),)),
        "payment": EntityRule("payment", parents=(ParentLink("lease", "lease_id"),)),
    },
)

CONTACT_UPDATING_RULES = replace(
    PROPERTYWARE_RULES,
    source_system="propertyware-contact-updates",
    rules={
        **PROPERTYWARE_RULES.rules,
        "resident": replace(
            PROPERTYWARE_RULES.rules["resident"],
            on_update=PROPERTYWARE_RULES.rules["resident"].on_update | {"first_name", "last_name", "email", "phone"},
        ),
    },
)
"""Like Condo Manager → Condo Control: syncs also refresh residents' names, e-mails and phones."""
