"""`--integration` on every command: one option, one help text, one default (PMSYNC_INTEGRATION_NAME, else
'default'); the read-only commands show only that integration and refuse a name the platform does not know (exit 2,
naming the known ones). Real `pmsync` processes on a real SQLite file and PostgreSQL database synced from the sandbox."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import timedelta

import pytest
import sqlalchemy as sa
import typer.main

from pmsync.cli.app import app
from pmsync.cli.common import EXIT_CONFIGURATION, INTEGRATION_HELP
from pmsync.jobs import JOBS
from pmsync.runs.bookkeeping import utc_now
from pmsync.push.workorders import create_work_order
from schemas.tables import integration_locks, integrations, quarantine, sync_runs, units
from tests.unit.test_cli_exit_codes import error_line, run_pmsync

WITHOUT_INTEGRATION = {
    "sandbox serve": "serves generated data; reads no platform",
    "bench": "creates and drops databases of its own",
    "deploy": "every registered integration block by default, or each named with a repeatable --integration of its own",
    "automations apply": "the server's automations watch every integration",
    "integration add": "the integration to add is its argument, NAME (a block slug)",
    "integration remove": "the integration to remove is its argument, NAME",
    "integration list": "lists every integration, blocks and platform side by side",
    "integration repoint": "the integration to re-point is its argument, NAME",
    "sync batch": "the integrations to sync are its arguments, NAME...",
}
"""Commands without the one shared option, and why."""
ADOPTING_THE_SHARED_OPTION: set[str] = set()
"""Modules whose commands still define an `--integration` of their own; drop a module here once it uses
`pmsync.cli.common.INTEGRATION`."""


def all_commands(group, path: tuple[str, ...] = ()):
    """Every runnable command of the click tree behind `app`, as (its words, the command)."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            if command.callback is not None and command.invoke_without_command:
                yield (*path, name), command
            yield from all_commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_command_with_an_integration_takes_the_one_shared_option():
    checked = []
    for words, command in all_commands(typer.main.get_command(app)):
        if " ".join(words) in WITHOUT_INTEGRATION or command.callback.__module__ in ADOPTING_THE_SHARED_OPTION:
            continue
        [option] = [p for p in command.params if "--integration" in p.opts] or [None]
        assert option is not None, f"`pmsync {' '.join(words)}` has no --integration"
        assert (option.help, option.default, option.metavar) == (INTEGRATION_HELP, None, "NAME"), " ".join(words)
        checked.append(" ".join(words))
    assert {"runs", "state", "state reset", "unlock", "quality", "explain", "workorder show", "workorder list",
            "sync initial", "sync delta", "balance", "import owners"} <= set(checked)


@pytest.fixture
def two_integrations(integration_env, monkeypatch, platform_engine) -> dict[str, str]:
    """Two integrations synced from the sandbox into one platform: the environment's ('default') and 'acme', which
    also has a work order made on the platform and a record in quarantine."""
    JOBS["initial-sync"]()
    monkeypatch.setenv("PMSYNC_INTEGRATION_NAME", "acme")
    JOBS["initial-sync"]()
    monkeypatch.delenv("PMSYNC_INTEGRATION_NAME")
    with platform_engine.begin() as connection:
        acme = connection.execute(sa.select(integrations.c.id).where(integrations.c.name == "acme")).scalar_one()
        run = connection.execute(sa.select(sa.func.max(sync_runs.c.id)).where(sync_runs.c.integration_id == acme)).scalar_one()
        unit = connection.execute(sa.select(units.c.id, units.c.property_id).where(units.c.integration_id == acme)).first()
        connection.execute(sa.insert(quarantine).values(
            integration_id=acme, entity="resident", source_id="77", status="open", expectations=["email"],
            record={"id": 77}, run_id=run, first_seen_at=utc_now(), last_seen_at=utc_now(),
        ))
    create_work_order(platform_engine, "acme", property_id=unit.property_id, unit_id=unit.id, description="Leaky tap")
    return integration_env


def json_of(*args: str, env: dict[str, str]):
    done = run_pmsync(*args, "--json", env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    return json.loads(done.stdout)


def test_read_only_commands_show_only_the_integration_named_or_the_environments(two_integrations, platform_engine):
    env = two_integrations
    with platform_engine.connect() as connection:
        runs_of = dict(connection.execute(
            sa.select(integrations.c.name, sa.func.count()).join(sync_runs).group_by(integrations.c.name)
        ).all())
    assert runs_of == {"default": 1, "acme": 1}

    assert {run["integration"] for run in json_of("runs", env=env)} == {"default"}
    assert {run["integration"] for run in json_of("runs", "--integration", "acme", env=env)} == {"acme"}
    assert {run["integration"] for run in json_of("runs", env={**env, "PMSYNC_INTEGRATION_NAME": "acme"})} == {"acme"}
    shown = run_pmsync("runs", "--integration", "acme", env=env)
    assert shown.returncode == 0 and re.search(r"(?m)^\s*2\s+initial\s+acme\s.*\ssucceeded\s", shown.stdout)
    assert " default " not in shown.stdout

    assert {mark["run_id"] for mark in json_of("state", "--integration", "acme", env=env)} == {2}
    assert {mark["run_id"] for mark in json_of("state", env=env)} == {1}

    held, held_by_acme = json_of("quality", env=env), json_of("quality", "--integration", "acme", env=env)
    assert {row["integration"] for row in held["summary"] + held["items"]} == {"default"}
    assert {row["integration"] for row in held_by_acme["summary"] + held_by_acme["items"]} == {"acme"}
    assert "77" in {item["source_id"] for item in held_by_acme["items"]} - {item["source_id"] for item in held["items"]}

    assert json_of("workorder", "list", env=env) == []
    [listed] = json_of("workorder", "list", "--integration", "acme", env=env)
    assert json_of("workorder", "show", f"WO-{listed['id']}", "--integration", "acme", env=env)["description"] == "Leaky tap"
    elsewhere = run_pmsync("workorder", "show", f"WO-{listed['id']}", env=env)
    assert elsewhere.returncode == EXIT_CONFIGURATION and elsewhere.stdout == ""
    assert error_line(elsewhere) == (
        f"error: work order platform number WO-{listed['id']} belongs to integration 'acme', not 'default'; "
        "add --integration acme"
    )


READ_ONLY_COMMANDS = [
    ("runs",), ("state",), ("state", "reset", "unit"), ("quality",), ("workorder", "list"), ("workorder", "show", "1"),
    ("unlock",), ("explain", "unit", "1", "--no-source"),
]


def test_a_name_the_platform_does_not_know_exits_2_naming_the_known_ones(two_integrations):
    for command in READ_ONLY_COMMANDS:
        refused = run_pmsync(*command, "--integration", "acme-typo", env=two_integrations)

        assert refused.returncode == EXIT_CONFIGURATION, (command, refused.stdout + refused.stderr[-2000:])
        assert refused.stdout == ""
        assert error_line(refused) == (
            "error: integration 'acme-typo' is not on the platform; name one of: acme, default "
            "(--integration NAME or PMSYNC_INTEGRATION_NAME)"
        ), command


def hold_lock(engine: sa.Engine, integration: str) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(integration_locks).values(
            integration_name=integration, holder="stuck-host:7 flow run y", flow="delta",
            acquired_at=utc_now(), expires_at=utc_now() + timedelta(hours=1),
        ))


def test_unlock_takes_the_integration_as_an_option_and_still_the_deprecated_name(two_integrations, platform_engine):
    env = two_integrations
    hold_lock(platform_engine, "acme")
    untouched = run_pmsync("unlock", env=env)
    cleared = run_pmsync("unlock", "--integration", "acme", env=env)
    hold_lock(platform_engine, "acme")
    by_name = run_pmsync("unlock", "acme", env=env)
    both = run_pmsync("unlock", "acme", "--integration", "default", env=env)

    assert untouched.returncode == 0 and untouched.stdout.strip() == "integration 'default' was not locked"
    assert cleared.returncode == 0 and cleared.stderr == ""
    assert "unlocked 'acme': it was held by stuck-host:7 flow run y (delta sync)" in cleared.stdout
    assert by_name.returncode == 0 and "unlocked 'acme'" in by_name.stdout
    assert by_name.stderr.strip() == "warning: `pmsync unlock acme` is deprecated; use `pmsync unlock --integration acme`"
    assert both.returncode == EXIT_CONFIGURATION and error_line(both).startswith("error: two integrations named")
    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(integration_locks)).scalar_one() == 0


def test_state_reset_takes_the_integration_after_reset_or_before_it(two_integrations):
    env = two_integrations
    after = run_pmsync("state", "reset", "unit", "--integration", "acme", env=env)
    before = run_pmsync("state", "--integration", "acme", "reset", "lease", env=env)
    conflicting = run_pmsync("state", "--integration", "default", "reset", "unit", "--integration", "acme", env=env)

    assert after.returncode == 0 and after.stdout.startswith("stream units"), after.stderr[-2000:]
    assert before.returncode == 0 and before.stdout.startswith("stream leases"), before.stderr[-2000:]
    assert conflicting.returncode == EXIT_CONFIGURATION and error_line(conflicting).startswith("error: two integrations")
    assert {mark["stream"] for mark in json_of("state", "--integration", "acme", env=env)}.isdisjoint({"units", "leases"})
    assert {"units", "leases"} <= {mark["stream"] for mark in json_of("state", env=env)}


def test_nothing_synced_yet_every_integration_is_empty(platform_url, platform_engine):
    with platform_engine.connect():  # an empty database (a missing SQLite file is refused: no file is created)
        pass
    env = {"PMSYNC_DATABASE_URL": platform_url}
    shown: subprocess.CompletedProcess = run_pmsync("runs", "--integration", "anything", env=env)
    assert shown.returncode == 0 and shown.stdout.strip() == "no runs yet of integration 'anything'", shown.stderr[-2000:]
