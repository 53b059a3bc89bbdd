"""A sync's deactivations: a record the source marks inactive takes its active platform row, and the active rows of
its children, with it; when the source marks it active again, what that took comes back. Each change is logged on its
property (as reconciliation logs it) and journaled."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from pmsync.reconcile.reasons import DEACTIVATED, REACTIVATED
from pmsync.platform.database import among
from pmsync.reconcile.parts import Target, log_row, set_active
from pmsync.sync.rule_types import EntityRule, ParentLink, RuleTable
from schemas.entity_rows import rows_of
from schemas.records import Candidate
from schemas.tables import property_logs


def deactivate_inactive_at_source(
    connection: Connection, integration_id: int, rules: RuleTable, rule: EntityRule, candidates: Iterable[Candidate],
    run_id: int, now: datetime,
) -> list[Target]:
    """Follow the source's active flag (the rule's `goes_when_inactive`): deactivate the active rows of `rule.entity`
    whose candidates the source marks inactive, and their children's active rows; bring back the rows of those it
    marks active again that such a deactivation took (`reactivate_active_again`). What changed, parents first."""
    goes = rule.goes_when_inactive
    if goes is None:
        return []
    candidates = list(candidates)
    back = reactivate_active_again(connection, integration_id, rules, rule,
                                   sorted({c.source_id for c in candidates if c.facts.get(goes.fact) is True}), run_id, now)
    inactive = sorted({c.source_id for c in candidates if c.facts.get(goes.fact) is False})
    if not inactive:
        return back
    rows = rows_of(rule.entity)
    table = rows.table
    found = connection.execute(select(table.c.id, table.c.source_id, table.c.name).where(
        rows.mine(integration_id), table.c.active.is_(True), among(connection, table.c.source_id, inactive)))
    gone = [_target(rules, rule, row) for row in found]
    if not gone:
        return back
    set_active(connection, table, gone, False, now, run_id)
    children = [target for child in goes.children for target in _children(connection, integration_id, rules, rule,
                                                                        child, gone, run_id, now)]
    by = f"by sync run {run_id}"
    connection.execute(property_logs.insert(), [
        *(log_row(t, "property_deactivated", f"property deactivated {by}: {t.reason()}", run_id, now) for t in gone),
        *(log_row(t, "unit_deactivated", f"unit {t.source_id} {t.name!r} deactivated {by}: {t.reason()}", run_id, now)
          for t in children),
    ])
    return [*back, *gone, *children]


def reactivate_active_again(
    connection: Connection, integration_id: int, rules: RuleTable, rule: EntityRule, active_ids: list[int],
    run_id: int, now: datetime,
) -> list[Target]:
    """The rows of `rule.entity` the source marks active again, and their children's rows, that its deactivation took
    come back: a row whose stored reason is the one that deactivation writes (the child's is its parent's), so a row
    deactivated by reconciliation, by its own status or by hand stays as it is, and the children of a property
    disabled by hand stay inactive. What came back, parents first."""
    if not active_ids:
        return []
    rows = rows_of(rule.entity)
    table = rows.table
    by_hand = [table.c.manually_disabled.is_(False)] if "manually_disabled" in table.c else []
    found = connection.execute(select(table.c.id, table.c.source_id, table.c.name, table.c.active,
                                      table.c.deactivation_reason).where(
        rows.mine(integration_id), *by_hand, among(connection, table.c.source_id, active_ids)))
    parents = [(_target(rules, rule, row), row) for row in found]
    back = [target for target, row in parents if not row.active and row.deactivation_reason == target.reason()]
    live = [target for target, row in parents if row.active or target in back]
    set_active(connection, table, back, True, now, run_id)
    children = [target for child in rule.goes_when_inactive.children
                for target in _children_back(connection, integration_id, rules, rule, child, live, run_id, now)]
    by = f"by sync run {run_id}"
    logs = [
        *(log_row(t, "property_reactivated", f"property reactivated {by}: {REACTIVATED}", run_id, now) for t in back),
        *(log_row(t, "unit_reactivated", f"unit {t.source_id} {t.name!r} reactivated {by}: {rule.entity} "
                  f"{t.property_source_id} is {REACTIVATED}", run_id, now) for t in children),
    ]
    if logs:
        connection.execute(property_logs.insert(), logs)
    return [*back, *children]


def _target(rules: RuleTable, rule: EntityRule, row) -> Target:
    """A row of `rule.entity` as its deactivation by the source's active flag names it (its reason included)."""
    listing = rules.stream_of(rule.entity).name if rules.streams else rule.entity
    return Target(rule.entity, row.id, row.source_id, row.name, row.id, row.source_id, row.name, DEACTIVATED,
                  f"the {listing} listing of {rule.entity} {row.source_id}")


def _link(rules: RuleTable, rule: EntityRule, child: str) -> ParentLink:
    link = next((link for link in rules.rules[child].parents if rule.entity in link.entities), None)
    if link is None:
        raise ValueError(f"rule table {rules.source_system!r}: {rule.entity}'s goes_when_inactive names child {child!r}, "
                         f"whose rule has no parent link to {rule.entity}; add one or drop the child")
    return link


def _child_targets(connection: Connection, integration_id: int, rules: RuleTable, rule: EntityRule, child: str,
                   parents: list[Target], active: bool) -> list[tuple[Target, str | None]]:
    """The `child` rows of `active` state linked to the `parents` (by the column of the child rule's link to them), as
    targets of their parent's deactivation, each with its stored reason."""
    if not parents:
        return []
    link, rows = _link(rules, rule, child), rows_of(child)
    table = rows.table
    by_id = {target.id: target for target in parents}
    found = connection.execute(select(
        table.c.id, table.c.source_id, table.c.name, table.c.deactivation_reason, table.c[link.column].label("parent"),
    ).where(rows.mine(integration_id), table.c.active.is_(active), among(connection, table.c[link.column], sorted(by_id))))
    return [(Target(child, row.id, row.source_id, row.name, by_id[row.parent].id, by_id[row.parent].source_id,
                    by_id[row.parent].name, DEACTIVATED, by_id[row.parent].request), row.deactivation_reason)
            for row in found]


def _children(
    connection: Connection, integration_id: int, rules: RuleTable, rule: EntityRule, child: str, gone: list[Target],
    run_id: int, now: datetime,
) -> list[Target]:
    """Deactivate the active `child` rows linked to the rows gone (their reason: their parent's)."""
    targets = [target for target, _ in _child_targets(connection, integration_id, rules, rule, child, gone, True)]
    set_active(connection, rows_of(child).table, targets, False, now, run_id)
    return targets


def _children_back(
    connection: Connection, integration_id: int, rules: RuleTable, rule: EntityRule, child: str, live: list[Target],
    run_id: int, now: datetime,
) -> list[Target]:
    """Reactivate the inactive `child` rows of the live parents whose stored reason is their parent's deactivation."""
    targets = [target for target, reason in _child_targets(connection, integration_id, rules, rule, child, live, False)
               if reason == target.reason()]
    set_active(connection, rows_of(child).table, targets, True, now, run_id)
    return targets
