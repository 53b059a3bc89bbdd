"""`pmsync` commands of owners, service providers and commerce data: CSV import and a lease's balance on demand."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from pmsync.cli.bounded import bounded
from pmsync.cli.common import EXIT_REFUSED, INTEGRATION, console, error_console, fail, fail_with, preflight, run_flow

SHOWN_PROBLEMS = 50


def register(app: typer.Typer) -> None:
    """Add `pmsync import …` and `pmsync balance` to the `pmsync` app.

    `pmsync import` is the operator on their own machine: it reads FILE where it is and writes the fix-up CSV where
    asked (flow `csv_import_operator_file`, which no deployment runs; PMSYNC_IMPORT_DIR confines deployments only).
    """
    import_app = typer.Typer(no_args_is_help=True, help="Owners and service providers from a CSV file (not synced).")
    import_app.command("owners")(import_owners)
    import_app.command("service-providers")(import_service_providers)
    app.add_typer(import_app, name="import")
    app.command("balance")(balance)


FILE = typer.Argument(
    ..., exists=True, dir_okay=False, readable=True,
    help="CSV file: UTF-8 (with or without BOM), comma or semicolon separated.",
)
"""A file that is not there (or not a readable file) is a usage error, exit 2, refused before any run is recorded."""
ERRORS_OUT = typer.Option(
    None, "--errors-out", help="Where the fix-up CSV of a rejected file goes (default: FILE with .errors.csv)."
)


def import_owners(file: Path = FILE, errors_out: Optional[Path] = ERRORS_OUT, integration: Optional[str] = INTEGRATION) -> None:
    """Owners: owner_id, first_name, last_name, email [, company, phone, group]; group defaults to Owners."""
    _import("owners", file, errors_out, integration)


def import_service_providers(
    file: Path = FILE, errors_out: Optional[Path] = ERRORS_OUT, integration: Optional[str] = INTEGRATION
) -> None:
    """Service providers: vendor_id, company_name, email [, contact_name, phone, trade]."""
    _import("service-providers", file, errors_out, integration)


def _import(kind: str, file: Path, errors_out: Path | None, integration: str | None) -> None:
    preflight(integration, needs_source=False)
    from pmsync.cli.running import run_job
    from pmsync.imports.kinds import CsvRefused, CsvRejected

    try:
        result = run_job("csv-import-operator-file", kind=kind, file=file, integration=integration, errors_out=errors_out)
    except CsvRejected as rejected:
        error_console.print(str(rejected), soft_wrap=True, highlight=False)
        fail(f"{file} was not imported: fix the rows above and upload it again", EXIT_REFUSED)
    except CsvRefused as refused:
        fail(f"{file} was not imported: {refused}", EXIT_REFUSED)
    except Exception as failure:  # a failed import ends in one readable line and its class's exit code
        fail_with(failure)
    numbers = next(iter(result["counts"].values()))
    console.print(
        f"{kind} imported (run {result['run_id']}): {numbers['fetched']} rows, {numbers['created']} created, "
        f"{numbers['updated']} updated, {numbers['unchanged']} unchanged",
        highlight=False,
    )


def balance(
    lease_id: int = typer.Argument(..., callback=bounded("LeaseId"), help="The lease's id in the source (Propertyware, Buildium)."),
    integration: Optional[str] = INTEGRATION,
) -> None:
    """Fetch one lease's balance, charges and payments from the source now, update the platform, print them."""
    preflight(integration)
    result = run_flow("lease-balance", lease_id=lease_id, integration=integration)
    ledger = result["ledger"]
    if ledger.get("lease") is None:
        fail(f"lease {lease_id} is not on the platform: {ledger.get('why') or 'unknown reason'}")
    lease = ledger["lease"]
    open_charges = "" if lease["open_charges"] is None else f"open charges {_money(lease['open_charges'])}, "
    console.print(
        f"lease {lease_id} · {lease['lease_name']} · balance {_money(lease['balance'])} "
        f"({open_charges}charged {_money(lease['charged'])}, paid {_money(lease['paid'])})"
        f" · fetched from the source at {ledger['fetched_at']:%Y-%m-%d %H:%M:%S} UTC (run {result['run_id']})",
        highlight=False,
    )
    charges = Table(title="charges", title_justify="left")
    for name in ("id", "date", "amount", "due", "paid", "gl account", "ref"):
        charges.add_column(name, justify="right" if name in ("amount", "due", "paid") else "left")
    for c in ledger["charges"]:
        charges.add_row(str(c["source_id"]), str(c["post_date"] or ""), _money(c["amount"]), _money(c["amount_due"]),
                        _money(c["amount_paid"]), str(c["gl_account_source_id"] or ""), c["ref_no"] or "")
    payments = Table(title="payments", title_justify="left")
    for name in ("id", "date", "amount", "type", "ref"):
        payments.add_column(name, justify="right" if name == "amount" else "left")
    for p in ledger["payments"]:
        payments.add_row(str(p["source_id"]), str(p["post_date"] or ""), _money(p["amount"]), p["payment_type"] or "",
                         p["ref_no"] or "")
    console.print(charges)
    console.print(payments)


def _money(value: object) -> str:
    return "" if value is None else f"{float(value):,.2f}"  # type: ignore[arg-type]
