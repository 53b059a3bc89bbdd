"""Shell completion: the installed `pmsync` script answers bash's completion requests (typer's protocol:
`_PMSYNC_COMPLETE=complete_bash`, `COMP_WORDS`, `COMP_CWORD`) with its commands, and `--integration` with the
integrations of the platform database, synced from the sandbox into a real SQLite file and PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.unit.test_cli_integration_option import two_integrations  # noqa: F401  (a fixture)

PMSYNC = str(Path(sys.executable).with_name("pmsync"))
NAMED_SHELL = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
"""Typer's own switch for its tests: `--show-completion bash` takes the shell named instead of detecting the parent
process's (under `make` that is sh, which typer does not support; a user runs it from their shell)."""


def completions(words: str, env: dict[str, str]) -> list[str]:
    """What bash offers for the last word of `words` (empty after a trailing space), from a real `pmsync` process."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PMSYNC_"))}
    split = words.split(" ")
    done = subprocess.run(
        [PMSYNC], capture_output=True, text=True, timeout=60,
        env={**inherited, **env, "_PMSYNC_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(split) - 1)},
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr[-2000:]
    return done.stdout.split()


def test_commands_and_subcommands_complete(tmp_path):
    env = {"PMSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'platform.db'}"}

    assert {"sync", "runs", "state", "unlock", "quality", "explain", "workorder", "import", "balance"} <= set(
        completions("pmsync ", env)
    )
    assert completions("pmsync wo", env) == ["workorder"]
    assert set(completions("pmsync workorder ", env)) == {"create", "update", "sync-now", "show", "list", "push-pending"}
    assert "--integration" in completions("pmsync runs --", env)


def test_integration_names_complete_from_the_platform_database(two_integrations, tmp_path):
    env = two_integrations

    assert completions("pmsync runs --integration ", env) == ["acme", "default"]
    assert completions("pmsync sync delta --integration a", env) == ["acme"]
    assert completions("pmsync state --integration d", env) == ["default"]
    assert completions("pmsync workorder list --integration x", env) == []
    assert completions("pmsync unlock ", env) == ["acme", "default"]
    assert bash_completes("pmsync runs --integration a", env, tmp_path) == ["acme"]


def bash_completes(words: str, env: dict[str, str], home: Path) -> list[str]:
    """What bash itself offers for `words` through the script `pmsync --show-completion bash` prints."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PMSYNC_"))}
    script = home / "pmsync.sh"
    script.write_text(subprocess.run([PMSYNC, "--show-completion", "bash"], capture_output=True, text=True, timeout=60,
                                     env={**inherited, **NAMED_SHELL, "HOME": str(home)}).stdout)
    asked = (
        f"source {script}; COMP_WORDS=({words}); COMP_CWORD={len(words.split()) - 1}; "
        f"_pmsync_completion {PMSYNC}; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    )
    done = subprocess.run(["bash", "--norc", "-c", asked], env={**inherited, **env}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr[-2000:]
    return done.stdout.split()


def test_a_platform_that_cannot_be_read_completes_no_names_and_prints_nothing(tmp_path):
    missing = tmp_path / "never-created.db"

    assert completions("pmsync runs --integration ", {"PMSYNC_DATABASE_URL": f"sqlite:///{missing}"}) == []
    assert not missing.exists(), "completing must not create a database"
    unreachable = {"PMSYNC_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}
    assert completions("pmsync runs --integration ", unreachable) == []
    assert completions("pmsync runs --integration ", {"PMSYNC_DATABASE_URL": "not a url"}) == []


def test_the_completion_script_is_shown_and_installed_for_bash(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PMSYNC_"))}, **NAMED_SHELL,
           "HOME": str(tmp_path)}

    shown = subprocess.run([PMSYNC, "--show-completion", "bash"], env=env, capture_output=True, text=True, timeout=60)
    installed = subprocess.run([PMSYNC, "--install-completion", "bash"], env=env, capture_output=True, text=True, timeout=60)

    assert shown.returncode == 0 and "_PMSYNC_COMPLETE=complete_bash" in shown.stdout, shown.stderr[-2000:]
    assert installed.returncode == 0, installed.stderr[-2000:]
    script = tmp_path / ".bash_completions" / "pmsync.sh"
    assert script.read_text() == shown.stdout.rstrip("\n")
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()

