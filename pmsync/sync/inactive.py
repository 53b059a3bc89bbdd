"""A sync's deactivations: a record the source marks inactive takes its active platform row, and the active rows of
its children, with it; each is logged on its property (as reconciliation logs it) and journaled."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from pmsync.reconcile.reasons import DEACTIVATED
from pmsync.platform.database import among
from pmsync.reconcile.parts import Target, log_row, set_active
from pmsync.sync.rule_types import EntityRule, RuleTable
from schemas.entity_rows import rows_of
from schemas.records import Candidate
from schemas.tables import property_logs


def deactivate_inactive_at_source(
    connection: Connection, integration_id: int, rules: RuleTable, rule: EntityRule, candidates: Iterable[Candidate],
    run_id: int, now: datetime,
) -> list[Target]:
    """Deactivate the active rows of `rule.entity` whose candidates the source marks inactive (the rule's
    `goes_when_inactive`), and their children's active rows; what was deactivated, parents first."""
    goes = rule.goes_when_inactive
    inactive = sorted({c.source_id for c in candidates if goes is not None and c.facts.get(goes.fact) is False})
    if not inactive:
        return []
    rows = rows_of(rule.entity)
    table = rows.table
    listing = rules.stream_of(rule.entity).name if rules.streams else rule.entity
    found = connection.execute(select(table.c.id, table.c.source_id, table.c.name).where(
        rows.mine(integration_id), table.c.active.is_(True), among(connection, table.c.source_id, inactive)))
    gone = [Target(rule.entity, row.id, row.source_id, row.name, row.id, row.source_id, row.name, DEACTIVATED,
                   f"the {listing} listing of {rule.entity} {row.source_id}") for row in found]
    if not gone:
        return []
    set_active(connection, table, gone, False, now, run_id)
    children = [target for child in goes.children for target in _children(connection, integration_id, rules, rule,
                                                                        child, gone, run_id, now)]
    by = f"by sync run {run_id}"
    connection.execute(property_logs.insert(), [
        *(log_row(t, "property_deactivated", f"property deactivated {by}: {t.reason()}", run_id, now) for t in gone),
        *(log_row(t, "unit_deactivated", f"unit {t.source_id} {t.name!r} deactivated {by}: {t.reason()}", run_id, now)
          for t in children),
    ])
    return [*gone, *children]


def _children(
    connection: Connection, integration_id: int, rules: RuleTable, rule: EntityRule, child: str, gone: list[Target],
    run_id: int, now: datetime,
) -> list[Target]:
    """Deactivate the active `child` rows linked to the rows gone (by the column of the child rule's link to them)."""
    link = next((link for link in rules.rules[child].parents if rule.entity in link.entities), None)
    if link is None:
        raise ValueError(f"rule table {rules.source_system!r}: {rule.entity}'s goes_when_inactive names child {child!r}, "
                         f"whose rule has no parent link to {rule.entity}; add one or drop the child")
    rows = rows_of(child)
    table = rows.table
    parents = {target.id: target for target in gone}
    found = connection.execute(select(table.c.id, table.c.source_id, table.c.name, table.c[link.column].label("parent")).where(
        rows.mine(integration_id), table.c.active.is_(True), among(connection, table.c[link.column], sorted(parents))))
    targets = [Target(child, row.id, row.source_id, row.name, parents[row.parent].id, parents[row.parent].source_id,
                      parents[row.parent].name, DEACTIVATED, parents[row.parent].request) for row in found]
    set_active(connection, table, targets, False, now, run_id)
    return targets
