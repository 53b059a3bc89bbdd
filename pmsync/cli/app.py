"""The `pmsync` command line: runs the same flows as the deployments, and shows what they did."""

from __future__ import annotations

import typer

from pmsync.cli import bench, commerce, reconcile, status, workorders
from pmsync.cli.automations import automations_app
from pmsync.cli.deploy import deploy
from pmsync.cli.integration import integration_app
from pmsync.cli.sandbox import sandbox_app
from pmsync.cli.sync import sync_app

app = typer.Typer(no_args_is_help=True, add_completion=True, help=__doc__)
app.add_typer(sync_app, name="sync")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(status.state_app, name="state")
app.command("runs")(status.runs)
app.command("unlock")(status.unlock)
app.command("quality")(status.quality)
app.command("explain")(status.explain_record)
reconcile.register(app)
workorders.register(app)
commerce.register(app)
bench.register(app)
app.command("deploy")(deploy)
app.add_typer(automations_app, name="automations")
app.add_typer(integration_app, name="integration")
