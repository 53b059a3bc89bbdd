"""The `pmsync` command line: runs the same flows as the deployments, and shows what they did."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from typer._click.exceptions import UsageError  # typer 0.29 vendors click and exports only BadParameter, a subclass
from typer.exceptions import Abort, Exit, TyperException
from typer.core import TyperGroup

from pmsync.cli import bench, changes, commerce, reconcile, run_history, status, workorders
from pmsync.cli.automations import automations_app
from pmsync.cli.common import fail, fail_with
from pmsync.cli.deploy import deploy
from pmsync.cli.integration import integration_app
from pmsync.cli.sandbox import sandbox_app
from pmsync.cli.sync import sync_app
from pmsync.runs.process_exit import skip_final_collection


@contextmanager
def usage_errors_in_one_line() -> Iterator[None]:
    """A usage error (an unknown option or command, a value out of its bounds) ends like every other failure: one
    `error:` line on stderr, naming the command's help, and exit code 2. A group called bare still shows its help."""
    try:
        yield
    except UsageError as usage:
        if type(usage).__name__ == "NoArgsIsHelpError":
            raise
        where = f" (see `{usage.ctx.command_path} --help`)" if usage.ctx is not None else ""
        fail(" ".join(usage.format_message().split()) + where, usage.exit_code)


@contextmanager
def unexpected_failures_in_one_line() -> Iterator[None]:
    """An exception no command turned into its `error:` line (a bug, or a library's failure nobody expected) still
    ends in one line, its class and message, and exit 1; PMSYNC_TRACEBACK=1 shows where it came from instead."""
    import os

    try:
        yield
    except (TyperException, Exit, Abort, KeyboardInterrupt):
        raise
    except Exception as failure:
        if os.environ.get("PMSYNC_TRACEBACK") == "1":
            raise
        fail_with(failure)


class PmsyncGroup(TyperGroup):
    """The `pmsync` group: its own and every subcommand's arguments are parsed inside it, their usage errors in one line."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        with usage_errors_in_one_line():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        skip_final_collection()
        with usage_errors_in_one_line(), unexpected_failures_in_one_line():
            return super().invoke(ctx)


app = typer.Typer(cls=PmsyncGroup, no_args_is_help=True, add_completion=True, help=__doc__)
app.add_typer(sync_app, name="sync")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(status.state_app, name="state")
app.add_typer(run_history.runs_app, name="runs")
app.command("unlock")(status.unlock)
app.command("quality")(status.quality)
app.command("explain")(status.explain_record)
app.command("changes")(changes.changes)
reconcile.register(app)
workorders.register(app)
commerce.register(app)
bench.register(app)
app.command("deploy")(deploy)
app.add_typer(automations_app, name="automations")
app.add_typer(integration_app, name="integration")
