"""What a run publishes in the Prefect UI: table and markdown artifacts built from the library's plain summaries."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import quote

from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from pmsync.imports.kinds import CheckReport
from pmsync.imports.run import SHOWN_ERRORS, FixUpFile
from pmsync.journal.read import change_line, counts_line
from pmsync.push.sender import PushTarget
from pmsync.reconcile.parts import ReconciliationPlan
from pmsync.sync.scope import RunSummary, SyncSession

ARTIFACT_ROWS = 1000


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "integration"


def _top(labels: Counter | None) -> str:
    return ", ".join(f"{label} ×{n}" for label, n in (labels or Counter()).most_common(3))


def publish_run_summary(summary: RunSummary) -> None:
    """A table artifact of the run: per entity counts, its top failing expectations, and the records loaded with a
    warning and their top warnings (ids and counts only)."""
    rows = [
        {
            "entity": entity, **numbers, "passed quality": numbers["fetched"] - numbers["quarantined"],
            "top failing expectations": _top(summary.failing.get(entity)),
            "loaded with a warning": summary.warned.get(entity, 0), "top warnings": _top(summary.warnings.get(entity)),
        }
        for entity, numbers in summary.counts.items()
    ]
    took = (summary.finished_at - summary.started_at).total_seconds()
    state = f"failed: {summary.error}" if summary.error else "succeeded"
    since = f"{summary.window_from:%Y-%m-%d %H:%M:%S}" if summary.window_from else "the beginning"
    create_table_artifact(
        key=f"{summary.flow}-sync-{slug(summary.integration)}",
        table=rows,
        description=(
            f"run {summary.run_id} · {summary.flow} sync of {summary.integration!r} · {state} · {took:.1f} s · "
            f"window {since} → {summary.started_at:%Y-%m-%d %H:%M:%S} UTC"
        ),
    )
    publish_changes(summary, f"{summary.flow}-sync-changes-{slug(summary.integration)}")


def changes_table(summary: RunSummary) -> tuple[list[dict[str, Any]], str]:
    """What the run changed, as a table artifact's rows and description: its first changes with their old and new
    values (source text stays cell text, never markup), led by its records per entity and action."""
    rows = [{"record": c["entity"], "source id": c["source_id"], "action": c["action"],
             "changed fields": change_line(c).partition(": ")[2]} for c in summary.first_changes]
    total = sum(n for actions in summary.changes.values() for n in actions.values())
    shown = f"the first {len(rows)} of {total} shown; " if total > len(rows) else ""
    description = (f"run {summary.run_id} changed {total} record(s): {counts_line(summary.changes) or 'none'} · "
                   f"{shown}all: pmsync changes --run {summary.run_id} --integration {summary.integration}")
    return rows or [{"record": None, "source id": None, "action": "no record changed", "changed fields": ""}], description


def publish_changes(summary: RunSummary, key: str) -> None:
    rows, description = changes_table(summary)
    create_table_artifact(key=key, table=rows, description=description)


def snapshot_page(reports_url: str, integration: str, snapshot_id: int) -> str:
    """The snapshot's page on the Reports site (PMSYNC_REPORTS_URL), under its integration's path; no token: the page's
    sign-in returns to it."""
    return f"{reports_url.rstrip('/')}/integrations/{quote(integration, safe='')}/snapshots/{snapshot_id}"


def publish_reconciliation(session: SyncSession, plan: ReconciliationPlan, snapshot_id: int, reports_url: str) -> None:
    """A table artifact of the units deactivated (ids and names only), a link artifact to the snapshot's page on the
    Reports site, and a markdown artifact with the counts and the downloads."""
    name = session.integration_name
    shown = plan.gone_units[:ARTIFACT_ROWS]
    more = f" (first {len(shown)} of {len(plan.gone_units)}; all in the report)" if len(shown) < len(plan.gone_units) else ""
    create_table_artifact(
        key=f"reconciliation-deactivated-units-{slug(name)}",
        table=[t.row() for t in shown] or [{"unit id": None, "unit": "no unit was deactivated"}],
        description=f"snapshot {snapshot_id} · run {session.run_id} · units deactivated in {name!r}{more}",
    )
    page = snapshot_page(reports_url, name, snapshot_id)
    create_link_artifact(
        key=f"reconciliation-report-link-{slug(name)}",
        link=page,
        link_text=f"Reconciliation report of {name}, snapshot {snapshot_id}",
        description=f"snapshot {snapshot_id} · run {session.run_id} · the Reports page (sign in with the reports token)",
    )
    create_markdown_artifact(
        key=f"reconciliation-report-{slug(name)}",
        markdown=(
            f"# Reconciliation of {name}: snapshot {snapshot_id}\n\n"
            "| units deactivated | units reactivated | properties deactivated | properties reactivated |\n"
            "|---|---|---|---|\n"
            f"| {len(plan.gone_units)} | {len(plan.back_units)} | {len(plan.gone_properties)} | {len(plan.back_properties)} |\n\n"
            f"[Open the report]({page}) · [Download CSV]({page}/report.csv) · [Download Excel]({page}/report.xlsx) · "
            f"or `pmsync report deactivated --integration {name} --snapshot {snapshot_id} --out FILE.xlsx`\n"
        ),
        description=f"reconciliation report of snapshot {snapshot_id}",
    )


def publish_push_summary(target: PushTarget, outcomes: list[dict[str, Any]]) -> None:
    """A table artifact of each pushed work order's outcome."""
    if not outcomes:
        return
    counts = Counter(outcome["sync_status"] for outcome in outcomes)
    create_table_artifact(
        key=f"work-order-push-{target.integration}".lower().replace("_", "-"),
        table=[{key: str(value) for key, value in outcome.items()} for outcome in outcomes],
        description=f"Work-order push of {target.integration}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
    )


def publish_fix_up(session: SyncSession, kind: str, fix: FixUpFile) -> None:
    """The rejected file's rows with problems (the first SHOWN_ERRORS) and where its fix-up CSV went."""
    shown = f", the first {len(fix.bad_rows)} shown" if len(fix.bad_rows) < fix.total_bad_rows else ""
    create_table_artifact(
        key=f"csv-import-{kind}-fix-up",
        table=fix.bad_rows,
        description=f"run {session.run_id} · fix-up CSV {fix.name} ({fix.where}): the file plus a problems column; "
        f"its {fix.total_bad_rows} row(s) with problems{shown}",
    )


def publish_import(kind: str, summary: RunSummary, report: CheckReport | None) -> None:
    """The import's counts, or the rejected file's problems, as a table artifact."""
    key = f"csv-import-{kind}"
    if report is not None and report.errors:
        rows = [vars(e) for e in report.errors[:SHOWN_ERRORS]]
        description = f"run {summary.run_id} · {kind} file rejected · " + report.text(limit=0).splitlines()[0]
        create_table_artifact(key=key, table=rows, description=description)
        return
    state = f"failed: {summary.error}" if summary.error else "imported"
    create_table_artifact(key=key, table=[{"entity": e, **n} for e, n in summary.counts.items()],
                          description=f"run {summary.run_id} · {kind} · {state}")
    publish_changes(summary, f"{key}-changes")
