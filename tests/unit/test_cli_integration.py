"""`pmsync integration add|remove|list|repoint` before any server is asked: names, settings and the secret are checked
first, a refused secret is never echoed, and it is asked for at a hidden prompt (a real terminal) when not given."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pmsync.cli.common import EXIT_CONFIGURATION

SECRET = "Sup3r-s3cret-value"
SETTINGS = ["--base-url", "http://127.0.0.1:9/pw/api/rest/v1", "--client-id", "client-1", "--system-id", "42",
            "--integration-user", "sync@example.com"]
PROMPT_TIMEOUT_SECONDS = 120
REPO = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None, home: Path) -> subprocess.CompletedProcess:
    """`pmsync ARGS` with no terminal on stdin and no Prefect server configured (a Prefect home of its own)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PMSYNC_"))}
    return subprocess.run(
        [sys.executable, "-c", "from pmsync.cli import app; app()", *args],
        env={**inherited, "PREFECT_HOME": str(home), "COLUMNS": "200", **(env or {})},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "prefect-home"


def test_help_names_the_commands_the_required_settings_and_the_secrets_variable(home):
    group = run("integration", "--help", home=home)
    add = run("integration", "add", "--help", home=home)

    assert group.returncode == 0 and all(command in group.stdout for command in ("add", "remove", "list", "repoint"))
    assert add.returncode == 0
    for option in ("--base-url", "--client-id", "--system-id", "--integration-user", "--source-system", "--client-secret",
                   "--overwrite", "--repoint", "--no-initial-sync", "PMSYNC_ADD_CLIENT_SECRET"):
        assert option in add.stdout, option


@pytest.mark.parametrize("name", ["Dune", "dune_west", "dune.west", "dune west", "../dune"])
def test_a_name_that_is_not_a_block_slug_is_refused_before_anything_else(name, home):
    for command in (["add", name, *SETTINGS, "--client-secret", SECRET], ["remove", name, "--yes"]):
        refused = run("integration", *command, home=home)

        assert refused.returncode == EXIT_CONFIGURATION, refused.stderr
        assert refused.stdout == ""
        assert refused.stderr.strip() == f"error: integration names must be block slugs (lowercase letters, digits, dashes): {name!r}"


def test_a_missing_setting_is_named(home):
    missing = run("integration", "add", "dune", "--base-url", "http://x", "--client-id", "c", "--system-id", "1",
                  "--client-secret", SECRET, home=home)

    assert missing.returncode == 2 and "--integration-user" in missing.stderr
    assert SECRET not in missing.stdout + missing.stderr


@pytest.mark.parametrize("secret", [f"{SECRET} tail", f"{SECRET}\r\nX-Injected: 1", f"\t{SECRET}"])
def test_a_secret_the_block_refuses_is_named_never_echoed_whether_given_as_option_or_variable(secret, home):
    for given in ({"args": ["--client-secret", secret]}, {"env": {"PMSYNC_ADD_CLIENT_SECRET": secret}}):
        refused = run("integration", "add", "dune", *SETTINGS, *given.get("args", []), env=given.get("env"), home=home)

        assert refused.returncode == EXIT_CONFIGURATION, refused.stderr
        assert refused.stderr.startswith("error: the integration's settings are not valid: client_secret: ")
        assert "(the value is not shown)" in refused.stderr
        assert SECRET not in refused.stdout + refused.stderr


def test_a_bad_setting_beside_the_secret_names_its_field_and_still_not_the_secret(home):
    refused = run("integration", "add", "dune", *SETTINGS, "--client-id", "has space",
                  env={"PMSYNC_ADD_CLIENT_SECRET": SECRET}, home=home)
    unknown = run("integration", "add", "dune", *SETTINGS, "--source-system", "yardi",
                  env={"PMSYNC_ADD_CLIENT_SECRET": SECRET}, home=home)

    assert refused.returncode == EXIT_CONFIGURATION and "client_id contains whitespace" in refused.stderr, refused.stderr
    assert unknown.returncode == EXIT_CONFIGURATION, unknown.stderr
    assert unknown.stderr.startswith("error: --source-system 'yardi' is unknown; use one of: propertyware")
    assert SECRET not in refused.stdout + refused.stderr + unknown.stdout + unknown.stderr


def test_repointing_to_the_environment_needs_the_name_the_environment_configures(home):
    other = run("integration", "repoint", "dune", "--to", "environment", "--yes", env={"PMSYNC_INTEGRATION_NAME": "acme"},
                home=home)
    bad = run("integration", "repoint", "dune", "--to", "elsewhere", home=home)

    assert other.returncode == EXIT_CONFIGURATION and other.stdout == ""
    assert other.stderr.strip() == ("error: the PMSYNC_* environment configures integration 'acme', not 'dune': set "
                                    "PMSYNC_INTEGRATION_NAME=dune with its settings, or re-point it --to block")
    assert bad.returncode == EXIT_CONFIGURATION and "'elsewhere' is not one of" in bad.stderr, bad.stderr


def test_without_a_secret_or_a_terminal_to_ask_in_the_command_says_where_to_give_it(home):
    refused = run("integration", "add", "dune", *SETTINGS, home=home)

    assert refused.returncode == EXIT_CONFIGURATION
    assert refused.stderr.strip() == ("error: no client secret: set PMSYNC_ADD_CLIENT_SECRET (or pass --client-secret); "
                                      "there is no terminal to ask in")


def test_valid_settings_still_need_a_prefect_server_and_the_secret_stays_unshown(home):
    refused = run("integration", "add", "dune", *SETTINGS, env={"PMSYNC_ADD_CLIENT_SECRET": SECRET}, home=home)
    removed = run("integration", "remove", "dune", "--yes", home=home)
    listed = run("integration", "list", home=home)
    repointed = run("integration", "repoint", "dune", "--yes", home=home)

    for done in (refused, removed, listed, repointed):
        assert done.returncode == EXIT_CONFIGURATION and "no Prefect server configured" in done.stderr, done.stderr
    assert SECRET not in refused.stdout + refused.stderr


def test_the_secret_is_asked_for_at_a_hidden_prompt_in_a_terminal(home):
    """A real pseudo-terminal: the typed secret is not echoed back and the command goes on to need its server."""
    controller, terminal = os.openpty()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PMSYNC_"))}
    process = subprocess.Popen(
        [sys.executable, "-c", "from pmsync.cli import app; app()", "integration", "add", "dune", *SETTINGS],
        env={**inherited, "PREFECT_HOME": str(home), "COLUMNS": "200"},
        stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True,
    )
    os.close(terminal)
    try:
        seen = read_until(controller, b"client secret: ")
        os.write(controller, SECRET.encode() + b"\n")
        seen += read_until(controller, None)
        assert process.wait(timeout=PROMPT_TIMEOUT_SECONDS) == EXIT_CONFIGURATION, seen
    finally:
        process.kill()
        os.close(controller)
    assert b"no Prefect server configured" in seen, seen
    assert SECRET.encode() not in seen


def read_until(controller: int, marker: bytes | None) -> bytes:
    """What the terminal showed until it ends with `marker` (None: until the program closed it). The hidden prompt is
    `client secret:` from click, then ` ` from getpass once it has turned the echo off: a secret typed before that
    space would be echoed (and then flushed)."""
    seen = b""
    deadline = time.monotonic() + PROMPT_TIMEOUT_SECONDS
    while marker is None or not seen.endswith(marker):
        assert time.monotonic() < deadline, seen
        ready, _, _ = select.select([controller], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the program closed the terminal (Linux answers EIO)
            break
        if not chunk:
            break
        seen += chunk
    return seen


def test_the_platforms_own_deployments_are_deployed_once_never_copied_per_integration(home):
    shown = run("deploy", "--show", "--project-dir", str(REPO), "--integration", "acme", "--integration", "dune",
                home=home)

    assert shown.returncode == 0, shown.stderr[-2000:]
    deployments = yaml.safe_load(shown.stdout)["deployments"]
    names = [deployment["name"] for deployment in deployments]
    assert names[:2] == ["enroll", "retire"] and not any(name.startswith(("enroll-", "retire-")) for name in names)
    for platform in deployments[:2]:
        assert "platform" in platform["tags"] and "parameters" not in platform and "schedules" not in platform
    for name in ("acme", "dune"):
        own = [deployment for deployment in deployments if deployment["name"].endswith(f"-{name}")]
        assert len(own) == 9 and all(deployment["parameters"] == {"integration": name} for deployment in own)
