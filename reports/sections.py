"""HTML pieces of the Reports page: the snapshots table, a snapshot's changes with its filter and downloads (all escaped)."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlencode

from pmsync.exports.snapshots import PROPERTY_DEACTIVATED, UNIT_DEACTIVATED, UNIT_REACTIVATED, format_utc

TABLES = {
    UNIT_DEACTIVATED: ("deactivated-units", "Units deactivated", "deactivated at (UTC)"),
    UNIT_REACTIVATED: ("reactivated-units", "Units reactivated", "reactivated at (UTC)"),
    PROPERTY_DEACTIVATED: ("deactivated-properties", "Properties deactivated", "deactivated at (UTC)"),
}


def table(headers: list[str], rows: list[list[str]], table_id: str) -> str:
    """A table; `rows` hold HTML already escaped."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table id="{escape(table_id)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def report_link(base: str, snapshot_id: int, suffix: str, property_id: int | None = None) -> str:
    """A snapshot's download under `base`, the integration's path (`/integrations/NAME`)."""
    query = f"?{urlencode({'property': property_id})}" if property_id is not None else ""
    return f"{base}/snapshots/{int(snapshot_id)}/report.{suffix}{query}"


def downloads(base: str, snapshot_id: int, property_id: int | None = None) -> str:
    """The "Download CSV" and "Download Excel" links of a snapshot's report (of one property, when filtered)."""
    return (
        f'<a class="download csv" href="{escape(report_link(base, snapshot_id, "csv", property_id))}" download>Download CSV</a> · '
        f'<a class="download xlsx" href="{escape(report_link(base, snapshot_id, "xlsx", property_id))}" download>Download Excel</a>'
    )


def snapshots_table(snapshots: list[dict[str, Any]], base: str) -> str:
    """The snapshots of one integration, each linking its page under `base` (`/integrations/NAME`)."""
    headers = ["snapshot", "integration", "taken at (UTC)", "run", "units deactivated", "units reactivated",
               "properties deactivated", "active units in source", "active units on platform", "guard overridden", ""]
    rows = [
        [f'<a href="{escape(base)}/snapshots/{int(s["id"])}">{int(s["id"])}</a>', escape(s["integration"]),
         escape(format_utc(s["taken_at"])), str(s["run_id"]), str(s["deactivated_units"]),
         str(s["reactivated_unit_count"]), str(s["deactivated_property_count"]), str(s["source_unit_count"]),
         str(s["platform_active_unit_count"]), "yes" if s["mass_deactivation_allowed"] else "no", downloads(base, s["id"])]
        for s in snapshots
    ]
    return table(headers, rows, "snapshots")


def property_label(source_id: int, name: str | None) -> str:
    return f"{source_id} · {name}" if name else str(source_id)


def filter_form(action: str, choices: list[tuple[int, str | None]], chosen: int | None) -> str:
    """A GET form choosing one property of the snapshot (`?property=ID`), or all."""
    options = ['<option value="">All properties</option>'] + [
        f'<option value="{int(source_id)}"{" selected" if source_id == chosen else ""}>'
        f"{escape(property_label(source_id, name))}</option>"
        for source_id, name in choices
    ]
    return (
        f'<form id="filter" method="get" action="{escape(action, quote=True)}"><label>Property '
        f'<select name="property">{"".join(options)}</select></label> <button type="submit">Filter</button></form>'
    )


def _change_rows(change: str, rows: list[dict[str, Any]]) -> list[list[str]]:
    if change == PROPERTY_DEACTIVATED:
        return [[str(r["property_id"]), escape(r["property_name"] or ""), escape(format_utc(r["changed_at"])),
                 escape(r["reason"])] for r in rows]
    return [[str(r["property_id"]), escape(r["property_name"] or ""), str(r["unit_id"]), escape(r["unit_name"] or ""),
             escape(format_utc(r["changed_at"])), escape(r["reason"])] for r in rows]


def snapshot_section(
    snapshot: dict[str, Any], changes: dict[str, list[dict[str, Any]]], action: str,
    choices: list[tuple[int, str | None]], property_id: int | None, shown_rows: int = 1000, *, base: str,
) -> str:
    """A snapshot's summary, its property filter and downloads (under `base`, the integration's path), and a table per
    kind of change (its first `shown_rows`; `changes` holds one row more where there are more)."""
    scope, whose = "", "All properties"
    if property_id is not None:
        label = escape(property_label(property_id, dict(choices).get(property_id)))
        scope, whose = f" of property {label}", f"Property {label}"
    counts = ", ".join(
        f"{'more than ' if len(changes[change]) > shown_rows else ''}{min(len(changes[change]), shown_rows)} {title.lower()}"
        for change, (_, title, _) in TABLES.items()
    )
    parts = [
        f"<p>Integration {escape(snapshot['integration'])}, taken {escape(format_utc(snapshot['taken_at']))} UTC "
        f"by run {int(snapshot['run_id'])}.</p><p>{whose}: {counts}. "
        f"{downloads(base, snapshot['id'], property_id)}</p>",
        filter_form(action, choices, property_id),
    ]
    for change, (table_id, title, moment) in TABLES.items():
        rows = changes[change]
        parts.append(f"<h3>{escape(title)}</h3>")
        if not rows:
            parts.append(f'<p id="{table_id}-none">None{scope}.</p>')
            continue
        headers = (["property id", "property", moment, "reason"] if change == PROPERTY_DEACTIVATED
                   else ["property id", "property", "unit id", "unit", moment, "reason"])
        parts.append(table(headers, _change_rows(change, rows[:shown_rows]), table_id))
        if len(rows) > shown_rows:
            parts.append(f'<p class="more">The first {shown_rows} are shown; the downloads hold them all.</p>')
    return "".join(parts)
