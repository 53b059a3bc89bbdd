"""Sync rules as data: the types (pmsync.sync.rule_types), every source system's rule table and the CSV import's."""

from pmsync.sync.rule_types import (
    ALL_FIELDS,
    CSV_IMPORT_RULES,
    INTEGRATION_DATA,
    AdoptByMarker,
    Always,
    EntityRule,
    Exclusion,
    Inclusion,
    LivesOnActiveLease,
    ManagedByIntegrationUser,
    ParentLink,
    RuleTable,
    Stream,
)
from pmsync.source.propertyware.rules import (
    CONTACT_UPDATING_RULES,
    MANAGER,
    PROPERTYWARE_RULES,
    PROPERTYWARE_STREAMS,
)
from pmsync.source.registry import RULE_TABLES

__all__ = [
    "ALL_FIELDS", "CSV_IMPORT_RULES", "INTEGRATION_DATA", "AdoptByMarker", "Always", "EntityRule", "Exclusion",
    "Inclusion", "LivesOnActiveLease", "ManagedByIntegrationUser", "ParentLink", "RuleTable", "Stream",
    "CONTACT_UPDATING_RULES", "MANAGER", "PROPERTYWARE_RULES", "PROPERTYWARE_STREAMS", "RULE_TABLES",
]
