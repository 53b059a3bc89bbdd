"""The source systems pmsync knows: one row per vendor package; a new source is a package and a row here."""

from __future__ import annotations

from pmsync.rule_types import RuleTable
from pmsync.source.buildium.package import BUILDIUM
from pmsync.source.propertyware.package import PROPERTYWARE
from pmsync.source.protocol import SourcePackage

SOURCE_PACKAGES: dict[str, SourcePackage] = {package.vendor: package for package in (PROPERTYWARE, BUILDIUM)}
"""One row per vendor: its package (client, rule tables, credentials)."""

RULE_TABLES: dict[str, RuleTable] = {
    table.source_system: table for package in SOURCE_PACKAGES.values() for table in package.rule_tables
}
"""Every source system's rule table by its name (PMSYNC_SOURCE_SYSTEM, a block's source_system)."""


def package_of(source_system: str) -> SourcePackage:
    """The package that reads `source_system`'s accounts; KeyError for a source system no package knows."""
    return SOURCE_PACKAGES[RULE_TABLES[source_system].vendor]
