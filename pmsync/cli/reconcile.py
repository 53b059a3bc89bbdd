"""`pmsync` commands of reconciliation: reconcile, undo or force a unit's or property's state, export, Reports page."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from pmsync.cli.bounded import bounded
from pmsync.cli.common import (
    INTEGRATION, console, fail, integration_name, integration_of_run, open_platform, preflight, run_flow, short_lived,
    shown_integration,
)
from pmsync.cli.json_output import JSON_OPTION, print_json

SHOWN_ROWS = 50
MAX_ID = 2**63 - 1
"""The largest id the platform database stores (BIGINT)."""


def register(app: typer.Typer) -> None:
    """Add the reconciliation commands to the `pmsync` app."""
    unit_app = typer.Typer(no_args_is_help=True, help="Units on the platform.")
    property_app = typer.Typer(no_args_is_help=True, help="Properties on the platform.")
    report_app = typer.Typer(no_args_is_help=True, help="Reports analysts download.")
    reports_app = typer.Typer(no_args_is_help=True, help="The Reports web page.")
    app.command("reconcile")(reconcile)
    unit_app.command("reactivate")(unit_reactivate)
    property_app.command("disable")(property_disable)
    property_app.command("enable")(property_enable)
    report_app.command("deactivated")(report_deactivated)
    report_app.command("snapshots")(report_snapshots)
    reports_app.command("serve")(reports_serve)
    app.add_typer(unit_app, name="unit")
    app.add_typer(property_app, name="property")
    app.add_typer(report_app, name="report")
    app.add_typer(reports_app, name="reports")


def reconcile(
    integration: Optional[str] = INTEGRATION,
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; write nothing."),
    allow_mass_deactivation: bool = typer.Option(
        False, "--allow-mass-deactivation", help="Go ahead although the run deactivates more than --max-share."
    ),
    max_share: float = typer.Option(
        0.2, "--max-share", callback=bounded("DeactivationShare"),
        help="Largest share of active units one run may deactivate: a number from 0 to 1.",
    ),
) -> None:
    """Deactivate units and properties the source no longer has, reactivate ones that came back, store a snapshot."""
    preflight(integration)
    result = run_flow(
        "property-reconciliation", integration=integration, dry_run=dry_run,
        allow_mass_deactivation=allow_mass_deactivation, max_deactivation_share=max_share,
    )
    if dry_run:
        console.print("dry run — nothing was written; a real run would make these changes:", highlight=False)
    else:
        from pmsync.platform.database import make_engine
        from pmsync.platform.settings import PlatformSettings

        name, _ = integration_of_run(make_engine(PlatformSettings().database_url), result["run_id"])
        console.print(f"reconciliation — run {result['run_id']} · {name} · snapshot {result['snapshot_id']}",
                      highlight=False)
    for key, title in (
        ("deactivated_units", "units deactivated"),
        ("reactivated_units", "units reactivated"),
        ("deactivated_properties", "properties deactivated"),
        ("reactivated_properties", "properties reactivated"),
    ):
        _print_rows(f"{title}: {len(result[key])}", result[key])
    if not dry_run:
        console.print(
            f"report of the snapshot: pmsync report deactivated --snapshot {result['snapshot_id']} --out FILE.csv|FILE.xlsx",
            highlight=False,
        )


def _print_rows(title: str, rows: list[dict]) -> None:
    if not rows:
        console.print(title, highlight=False)
        return
    table = Table(title=title, title_justify="left")
    for column in rows[0]:
        table.add_column(column)
    for row in rows[:SHOWN_ROWS]:
        table.add_row(*(str(value) for value in row.values()))
    console.print(table)
    if len(rows) > SHOWN_ROWS:
        console.print(f"… and {len(rows) - SHOWN_ROWS} more", highlight=False)


def unit_reactivate(source_id: int = typer.Argument(..., help="The unit's id in the source."), integration: Optional[str] = INTEGRATION) -> None:
    """Undo a unit's deactivation in one step (logged on its property)."""
    from pmsync.reconcile.parts import ChangeRefused, NotOnPlatform, reactivate_unit_by_hand

    try:
        console.print(reactivate_unit_by_hand(open_platform(), integration_name(integration), source_id), highlight=False)
    except (NotOnPlatform, ChangeRefused) as refused:
        fail(str(refused))


def _set_disabled(source_id: int, integration: Optional[str], disabled: bool) -> None:
    from pmsync.reconcile.parts import ChangeRefused, NotOnPlatform, set_property_disabled_by_hand

    try:
        message = set_property_disabled_by_hand(open_platform(), integration_name(integration), source_id, disabled)
    except (NotOnPlatform, ChangeRefused) as refused:
        fail(str(refused))
    console.print(message, highlight=False)


def property_disable(source_id: int = typer.Argument(..., help="The property's id in the source."), integration: Optional[str] = INTEGRATION) -> None:
    """Disable a property on the platform by hand; no sync or reconciliation reactivates it."""
    _set_disabled(source_id, integration, True)


def property_enable(source_id: int = typer.Argument(..., help="The property's id in the source."), integration: Optional[str] = INTEGRATION) -> None:
    """Enable a property that was disabled by hand (the next reconciliation deactivates it if the source lost it)."""
    _set_disabled(source_id, integration, False)


CHANGE_LABELS = ("unit(s) deactivated", "unit(s) reactivated", "propert(ies) deactivated")

def _stored_id(value: Optional[int]) -> Optional[int]:
    if value is not None and not 0 <= value <= MAX_ID:
        raise typer.BadParameter(f"{value} is no id the platform stores: give a whole number from 0 to {MAX_ID}")
    return value


def _report_file(out: Path) -> Path:
    if out.suffix.lower() not in (".csv", ".xlsx"):
        raise typer.BadParameter(f"{out.name!r} names no format the report is written in: end it in .csv or .xlsx")
    return out


def report_deactivated(
    out: Path = typer.Option(
        ..., "--out", callback=_report_file,
        help="File to write: .csv (UTF-8 with a byte-order mark, for Excel) or .xlsx (a sheet per kind of change).",
    ),
    snapshot: Optional[int] = typer.Option(None, "--snapshot", callback=_stored_id, help="Snapshot id (default: the integration's most recent)."),
    integration: Optional[str] = INTEGRATION,
    property_id: Optional[int] = typer.Option(None, "--property", callback=_stored_id, help="Only this property's rows (its Propertyware id)."),
) -> None:
    """A reconciliation snapshot's report: the units it deactivated and reactivated and the properties it deactivated,
    each with its property, as CSV or an Excel workbook (formula-like cells kept as text)."""
    from pmsync.exports.snapshots import CHANGES, UnknownSnapshot
    from pmsync.exports.files import export_report

    try:
        engine = open_platform()
        found, counts = export_report(engine, out, snapshot, shown_integration(engine, integration)[0], property_id)
    except UnknownSnapshot as unknown:
        fail(str(unknown))
    except OSError as unwritable:
        fail(f"cannot write {out}: {unwritable.strerror or unwritable}; choose a writable --out path")
    written = ", ".join(f"{counts[change]} {label}" for change, label in zip(CHANGES, CHANGE_LABELS))
    console.print(
        f"wrote snapshot {found['id']} ({found['integration']}, {found['taken_at']:%Y-%m-%d %H:%M} UTC) to {out}: {written}",
        highlight=False, soft_wrap=True,
    )


@short_lived
def report_snapshots(
    limit: int = typer.Option(20, help="How many recent snapshots to list."),
    integration: Optional[str] = INTEGRATION,
    as_json: bool = JSON_OPTION,
) -> None:
    """An integration's recent reconciliation snapshots, newest first, with what each changed."""
    from pmsync.exports.snapshots import recent_snapshots

    engine = open_platform()
    found = recent_snapshots(engine, limit, shown_integration(engine, integration)[0])
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("no reconciliation snapshot yet; run `pmsync reconcile`", highlight=False)
        return
    table = Table(title="reconciliation snapshots", title_justify="left")
    for column in ("snapshot", "integration", "taken at (UTC)", "run", "units deactivated", "units reactivated",
                   "properties deactivated", "guard overridden"):
        table.add_column(column)
    for s in found:
        table.add_row(
            str(s["id"]), s["integration"], f"{s['taken_at']:%Y-%m-%d %H:%M:%S}", str(s["run_id"]), str(s["deactivated_units"]),
            str(s["reactivated_unit_count"]), str(s["deactivated_property_count"]), "yes" if s["mass_deactivation_allowed"] else "no",
        )
    console.print(table)


def reports_serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind; any but loopback needs PMSYNC_REPORTS_TOKEN."),
    port: int = typer.Option(8780, help="Port."),
    integration: Optional[str] = INTEGRATION,
) -> None:
    """Serve the Reports page of every integration on the platform, or of --integration's only (other names are then
    404): recent snapshots, a chart of deactivations, each snapshot's changes by property, CSV and Excel downloads,
    uploads; until interrupted."""
    from pmsync.settings import PlatformSettings
    from reports.app import ReportsRefused, check_binding, serve
    from reports.settings import ReportsSettings

    token = ReportsSettings().token
    try:
        check_binding(host, token)
    except ReportsRefused as refused:
        fail(str(refused))
    engine = open_platform()
    shown = "every integration" if integration is None else shown_integration(engine, integration)[0]
    console.print(f"Reports of {shown} at http://{host}:{port}/ (Ctrl-C stops)", highlight=False)
    serve(PlatformSettings().database_url, host, port, token, integration)
