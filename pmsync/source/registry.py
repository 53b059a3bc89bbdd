"""The source systems pmsync knows: one row per vendor package; a new source is a package and a row here."""

from __future__ import annotations

from pmsync.sync.rule_types import RuleTable
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


def known_entities() -> list[str]:
    """Every entity some rule table syncs, once, parents first (in their tables' stream order): what the CLI offers
    and orders counts by, from the rule tables rather than a list of its own."""
    return list(dict.fromkeys(entity for table in RULE_TABLES.values() for entity in table.entities()))


def known_streams() -> dict[str, tuple[str, ...]]:
    """Every stream name of the rule tables with the entities its records become (the first table naming it wins)."""
    found: dict[str, tuple[str, ...]] = {}
    for table in RULE_TABLES.values():
        for stream in table.streams:
            found.setdefault(stream.name, stream.entities)
    return found


def integration_block_types() -> dict[str, str]:
    """Every vendor's integration block type, slug → display name, in registry order (Propertyware first): what an
    integration block can be on the Prefect server."""
    return {package.block_type_slug: package.block_type_name for package in SOURCE_PACKAGES.values()}
