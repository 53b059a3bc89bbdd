"""What every `pmsync` command shares: console, one-line failure and its exit code, settings check, platform, running a
job, results.

Heavy libraries (SQLAlchemy, the rules, Prefect) are imported inside the helpers that need them, so `--help` and the
read-only commands pay only for what they use.
"""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from pmsync.one_line import one_line

if TYPE_CHECKING:
    from rich.table import Table
    from sqlalchemy import Engine

console = Console(markup=False)
"""Markup off: names, messages and errors come from the source and users, and print as they are (`[/b]` too)."""
error_console = Console(stderr=True, markup=False)
"""Where a failure's one line goes: stderr, so stdout holds only what a command produced."""

EXIT_OTHER = 1
EXIT_CONFIGURATION = 2
EXIT_SOURCE_UNAVAILABLE = 3
EXIT_REFUSED = 4

EXIT_CODES: dict[str, int] = {
    "pmsync.runs.preflight.ConfigurationError": EXIT_CONFIGURATION,
    "pmsync.platform.database.PlatformDatabaseMissing": EXIT_CONFIGURATION,
    "pmsync.runs.parameters.ParameterRejected": EXIT_CONFIGURATION,
    "pmsync.integrations.integration.IntegrationNotConfigured": EXIT_CONFIGURATION,
    "pmsync.integrations.retirement.IntegrationRemoved": EXIT_CONFIGURATION,
    "pmsync.integrations.retirement.RetirementRefused": EXIT_CONFIGURATION,
    "pmsync.integrations.identity.IntegrationNeedsRepoint": EXIT_CONFIGURATION,
    "pmsync.integrations.enrollment.EnrollmentRefused": EXIT_CONFIGURATION,
    "pmsync.runs.deployments.DeployMisconfigured": EXIT_CONFIGURATION,
    "pmsync.runs.deployments.DeployFailed": EXIT_OTHER,
    "pmsync.push.sender.PushNotSupported": EXIT_CONFIGURATION,
    "reports.access.ReportsRefused": EXIT_CONFIGURATION,
    "pmsync.source.errors.SourceAuthError": EXIT_CONFIGURATION,
    "pmsync.source.errors.SourceRequestUnsendable": EXIT_CONFIGURATION,
    "pmsync.source.errors.SourceRequestRejected": EXIT_CONFIGURATION,
    "pmsync.source.errors.SourceUnavailable": EXIT_SOURCE_UNAVAILABLE,
    "pmsync.source.errors.SourceDataError": EXIT_OTHER,
    "pmsync.source.errors.SourcePagingBroken": EXIT_OTHER,
    "pmsync.source.errors.SourceError": EXIT_OTHER,
    "pmsync.runs.locks.IntegrationBusy": EXIT_SOURCE_UNAVAILABLE,
    "pmsync.runs.locks.LockLost": EXIT_SOURCE_UNAVAILABLE,
    "pmsync.sync.gate_results.DataQualityError": EXIT_REFUSED,
    "pmsync.sync.gate_process.QualityGateStopped": EXIT_SOURCE_UNAVAILABLE,
    "pmsync.reconcile.parts.MassDeactivationRefused": EXIT_REFUSED,
    "pmsync.reconcile.parts.ChangeRefused": EXIT_REFUSED,
    "pmsync.imports.kinds.CsvRejected": EXIT_REFUSED,
    "pmsync.imports.reading.CsvRefused": EXIT_REFUSED,
}
"""A failure's exit code by its exception's class, or the nearest base class listed (by module and name, so the
modules are not imported to compare): configuration or credentials 2, run again later 3 (the source is unavailable, or
another run holds the integration), refused by a guard 4; anything else EXIT_OTHER. A listed failure's message says
what to do and is shown without its class.

A source rejecting a sync's own request (400/403/404) is configuration: the account's permissions or the base URL. A
source sending data pmsync cannot read, or paging that makes no progress, is 1: a rerun fails the same way and
someone has to read the line (and tell the vendor)."""

INTEGRATION_HELP = (
    "Integration name (default: PMSYNC_INTEGRATION_NAME, else 'default'). Commands that run a job load the Propertyware "
    "Integration block of a name given here; without one they use the PMSYNC_* environment."
)


def complete_integration(incomplete: str) -> list[str]:
    """Shell completion of `--integration`: the platform's integrations whose names start with what was typed.

    A completion runs as the user types, where an error would land in their prompt: a platform that cannot be read
    (no database yet, unreachable, malformed settings) completes nothing."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    try:
        names = registered_integrations()
    except (ValidationError, SQLAlchemyError, OSError):
        return []
    return [name for name in names if name.startswith(incomplete)]


def registered_integrations() -> list[str]:
    """The names in the platform's integrations table, sorted; no schema migrated and no SQLite file created."""
    from pathlib import Path

    from sqlalchemy import create_engine, select
    from sqlalchemy.engine import make_url

    from pmsync.platform.database import normalise_url
    from pmsync.platform.settings import PlatformSettings
    from schemas.tables import integrations

    url = make_url(normalise_url(PlatformSettings().database_url))
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:" or not Path(url.database).is_file():
            return []
        connect_args: dict[str, object] = {"timeout": 2}
    else:
        connect_args = {"connect_timeout": 2}
    engine = create_engine(url, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(integrations.c.name).order_by(integrations.c.name)).scalars())
    finally:
        engine.dispose()


INTEGRATION = typer.Option(
    None, "--integration", metavar="NAME", help=INTEGRATION_HELP, autocompletion=complete_integration, show_default=False
)
"""The one `--integration` of every command: None when not given, so a job command tells a block named from the
PMSYNC_* environment's integration; `integration_name` gives the name either way."""

Params = ParamSpec("Params")
Result = TypeVar("Result")


def short_lived(command: Callable[Params, Result]) -> Callable[Params, Result]:
    """For a read-only command, which prints and exits: no cyclic garbage collection while it runs, and what it leaves
    frozen when it returns, so the interpreter's shutdown collections skip it; the collector then resumes as it was.

    Its imports (SQLAlchemy, pydantic, rich) leave some 70,000 objects that each full collection walks, a few times
    while it runs and twice more at exit: about a third of its CPU time. What it leaves (an engine, its pool) is
    released with the process, which closes the database connection.
    """

    @functools.wraps(command)
    def run_without_collections(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return command(*args, **kwargs)
        finally:
            gc.freeze()
            if collecting:
                gc.enable()

    return run_without_collections


def fail(reason: str, code: int | None = None) -> NoReturn:
    """Print `error: reason` as one line on stderr and exit with `code`: by default the code `EXIT_CODES` gives the
    exception being handled (when called in an `except` block), else EXIT_OTHER."""
    if code is None:
        handled = sys.exc_info()[1]
        code = (listed_exit_code(handled) if handled is not None else None) or EXIT_OTHER
    error_console.print(Text.assemble(("error:", "red"), f" {one_line(reason)}"), soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def listed_exit_code(failure: BaseException) -> int | None:
    """The exit code `EXIT_CODES` gives `failure`'s class or its nearest listed base class; None when none is listed."""
    for kind in type(failure).__mro__:
        code = EXIT_CODES.get(f"{kind.__module__}.{kind.__qualname__}")
        if code is not None:
            return code
    return None


def fail_with(failure: BaseException) -> NoReturn:
    """End a command on a job's failure: its message's first line (after its class's name when `EXIT_CODES` does not
    list it) and the exit code of its class."""
    first_line = str(failure).splitlines()[0] if str(failure) else ""
    code = listed_exit_code(failure)
    if code is None:
        fail(f"{type(failure).__name__}: {first_line}")
    fail(first_line, code)


def preflight(integration: str | None, *, needs_source: bool = True) -> None:
    """Fail in a second on missing or malformed settings, an integration name pmsync does not know or a Prefect server
    that does not answer, before Prefect is imported or a server started."""
    from pmsync.cli.known_integrations import check_integration_known
    from pmsync.runs.preflight import ConfigurationError, check_configuration

    try:
        check_configuration(integration, needs_source=needs_source)
    except ConfigurationError as problem:
        fail(str(problem), EXIT_CONFIGURATION)
    check_integration_known(integration, needs_block=needs_source)


def run_flow(flow_name: str, **params: object) -> dict:
    """Run a job (in this process, or as its Prefect flow: `pmsync.cli.running`); a failure ends in one line."""
    from pmsync.cli.running import run_job

    try:
        return run_job(flow_name, **params)
    except Exception as failure:  # a failed run must still end in one readable line and its class's exit code
        fail_with(failure)


def open_platform() -> Engine:
    """The platform database of PMSYNC_DATABASE_URL, migrated only when its schema is behind; a SQLite file that does
    not exist is not created (its callers read, or change what a sync made): exit 2 saying so."""
    from pmsync.platform.database import PlatformDatabaseMissing, make_engine, migrate, require_platform_database
    from pmsync.runs.preflight import ConfigurationError, checked_platform_settings

    try:
        url = checked_platform_settings().database_url
        require_platform_database(url)
    except (ConfigurationError, PlatformDatabaseMissing) as refused:
        fail(str(refused), EXIT_CONFIGURATION)
    engine = make_engine(url)
    migrate(engine)
    return engine


def integration_name(integration: str | None) -> str:
    """The integration a command means: the one named, else PMSYNC_INTEGRATION_NAME, else 'default'."""
    from pmsync.platform.settings import IntegrationNameSettings

    return integration or IntegrationNameSettings().integration_name


def shown_integration(engine: Engine, integration: str | None) -> tuple[str, int | None]:
    """The name and platform id of the integration a command reads (`integration_name`), checked against the platform.

    A name the platform does not know ends the command (exit 2) naming the ones it knows; while no sync has registered
    any integration, every name is simply empty (id None)."""
    from sqlalchemy import select

    from schemas.tables import integrations

    name = integration_name(integration)
    with engine.connect() as connection:
        known = dict(connection.execute(select(integrations.c.name, integrations.c.id)).all())
    if name in known or not known:
        return name, known.get(name)
    fail(
        f"integration {name!r} is not on the platform; name one of: {', '.join(sorted(known))} "
        "(--integration NAME or PMSYNC_INTEGRATION_NAME)",
        EXIT_CONFIGURATION,
    )


def counts_table(title: str, counts: dict[str, dict[str, int]]) -> Table:
    """One row per entity (in the rule table's order) and one column per count of a run."""
    from rich.table import Table

    from pmsync.runs.bookkeeping import COUNTS
    from pmsync.source.registry import known_entities

    table = Table(title=title, title_justify="left")
    table.add_column("entity")
    for name in COUNTS:
        table.add_column(name, justify="right")
    order = {entity: index for index, entity in enumerate(known_entities())}
    for entity in sorted(counts, key=lambda e: order.get(e, len(order))):
        table.add_row(entity, *(str(counts[entity].get(name, 0)) for name in COUNTS))
    return table


def print_reasons(engine: Engine, run_id: int) -> None:
    """One line of why records of the run were not applied, per entity, status and reason."""
    from pmsync.runs.bookkeeping import unapplied_reasons

    print_unapplied(unapplied_reasons(engine, run_id))


def print_unapplied(reasons: list[dict]) -> None:
    """One line of why records of a run were not applied (as `pmsync.runs.bookkeeping.unapplied_reasons` counts them)."""
    if reasons:
        console.print("not applied: " + "; ".join(
            f"{r['entity']} {r['status']} {r['reason']} {r['records']}" for r in reasons
        ), highlight=False)


def platform_totals(engine: Engine, integration_id: int) -> dict[str, int]:
    """Rows per public table of one integration, for the closing summary (other companies' rows are not its business)."""
    from sqlalchemy import func, select

    from schemas.entity_rows import platform_tables

    with engine.connect() as connection:
        return {
            table.name: connection.execute(
                select(func.count()).select_from(table).where(table.c.integration_id == integration_id)
            ).scalar_one()
            for table in platform_tables()
        }


def integration_of_run(engine: Engine, run_id: int) -> tuple[str, int]:
    """The name and platform id of the integration a run belongs to."""
    from sqlalchemy import select

    from schemas.tables import integrations, sync_runs

    with engine.connect() as connection:
        return connection.execute(
            select(integrations.c.name, integrations.c.id).join(sync_runs, sync_runs.c.integration_id == integrations.c.id)
            .where(sync_runs.c.id == run_id)
        ).one()._tuple()


def print_result(title: str, result: dict) -> None:
    """A sync's counts table, its reasons, the platform's row totals and any parked records left waiting."""
    from pmsync.platform.database import make_engine
    from pmsync.platform.settings import PlatformSettings

    engine = make_engine(PlatformSettings().database_url)
    integration, integration_id = integration_of_run(engine, result["run_id"])
    console.print(counts_table(f"{title} — run {result['run_id']} · {integration}", result["counts"]))
    print_reasons(engine, result["run_id"])
    totals = platform_totals(engine, integration_id)
    console.print(f"platform rows of {integration}: " + ", ".join(f"{name} {count}" for name, count in totals.items()),
                  highlight=False)
    if result.get("stale_parked"):
        console.print(f"{result['stale_parked']} parked records are still waiting for their parent", style="yellow")
