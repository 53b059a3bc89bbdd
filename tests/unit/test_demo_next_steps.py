"""After `make demo` the next step is printed and works: `pmsync sandbox serve`'s banner gives every setting the client
needs to read it (derived from IntegrationSettings, so a new required credential without a banner line fails), and the
lines the demo prints last — the sandbox's restart line, the exports, the commands — run as printed, from any
directory, against the demo's database. The demo's platform is SQLite by design (`.demo/platform.db`), so these run
on SQLite only."""

from __future__ import annotations

import os
import re
import shlex
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pmsync.cli.demo_next_steps import demo_environment, next_steps
from pmsync.settings import IntegrationSettings
from pmsync.source import PropertywareClient
from sandbox.runner import LAST_BANNER_LINE
from schemas.records import UnitRecord

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
EXPORT = re.compile(r"^\s*export (PMSYNC_[A-Z_]+)=(\S+)$")
START_SECONDS = 60


def clean_environment() -> dict[str, str]:
    """This process's environment without any PMSYNC_* or Prefect server setting: only what the lines set counts."""
    return {name: value for name, value in os.environ.items()
            if not name.startswith("PMSYNC_") and name != "PREFECT_API_URL"}


def required_settings(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The variables the source client needs: those IntegrationSettings reports missing with none set, and the base
    URL (its default is a fixed port)."""
    for name in list(os.environ):
        if name.startswith("PMSYNC_"):
            monkeypatch.delenv(name)
    return {*IntegrationSettings().missing(), "PMSYNC_PW_BASE_URL"}


def started(command: list[str], cwd: Path) -> tuple[subprocess.Popen, list[str]]:
    """Start a `pmsync sandbox serve` command; its process and the banner it printed."""
    server = subprocess.Popen(command, cwd=cwd, env=clean_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    banner: list[str] = []
    for line in server.stdout:
        banner.append(line.rstrip("\n"))
        if line.strip() == LAST_BANNER_LINE:
            return server, banner
    server.wait(timeout=START_SECONDS)
    raise AssertionError(f"the sandbox ended before its banner was complete: {banner}")


def stopped(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)
    server.stdout.close()


def test_the_sandbox_banner_lists_every_setting_the_client_needs_and_they_open_it(monkeypatch, tmp_path):
    required = required_settings(monkeypatch)
    assert {"PMSYNC_PW_CLIENT_ID", "PMSYNC_PW_CLIENT_SECRET", "PMSYNC_PW_SYSTEM_ID"} <= required
    server, banner = started([str(BIN / "pmsync"), "sandbox", "serve", "--port", "0", "--size", "5"], tmp_path)
    try:
        assert banner[0].startswith("Propertyware sandbox ready at http://127.0.0.1:"), banner
        assert "sandbox-only" in banner[1], banner
        given = dict(match.groups() for line in banner if (match := EXPORT.match(line)))
        assert required <= set(given), f"the banner lacks {sorted(required - set(given))}"
        for name, value in given.items():
            monkeypatch.setenv(name, value)
        settings = IntegrationSettings()
        assert settings.missing() == []
        client = PropertywareClient(settings.pw_base_url, settings.pw_client_id, settings.pw_client_secret,
                                    settings.pw_system_id, page_size=5)
        try:
            assert client.list_page("/units", UnitRecord, entity="units").records  # the credentials open it
        finally:
            client.close()
    finally:
        stopped(server)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_lines(lines: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", "\n".join(lines)], cwd=cwd, env=clean_environment(), capture_output=True,
                          text=True, timeout=300)


def test_the_lines_the_demo_prints_last_work_as_printed(tmp_path):
    demo_dir, port, units = tmp_path / ".demo", free_port(), 30
    printed = [line.strip() for line in next_steps(demo_dir, port, units, BIN).splitlines()]
    [restart] = [line for line in printed if line.endswith(f"sandbox serve --port {port} --size {units} --seed 7")]
    exports = [line for line in printed if line.startswith("export ")]
    commands = [line.split("#")[0].strip() for line in printed if line.startswith("pmsync ")]
    assert [command.split()[1] for command in commands] == ["runs", "sync", "quality"]
    demo_dir.mkdir()  # as `make demo` does
    elsewhere = tmp_path / "elsewhere"  # the lines name absolute paths: they work from any directory
    elsewhere.mkdir()
    assert len(exports) == 1 + len(demo_environment(demo_dir, port))  # PATH, then the demo's own environment

    server, _ = started(shlex.split(restart), elsewhere)
    try:
        demo = run_lines([*exports, "pmsync sync initial"], elsewhere)  # what `make demo` runs with these exports
        assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
        answers = {command: run_lines([*exports, command], elsewhere) for command in commands}
    finally:
        stopped(server)
    for command, done in answers.items():
        assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    assert "initial" in answers["pmsync runs"].stdout and "succeeded" in answers["pmsync runs"].stdout
    assert "succeeded" in answers["pmsync sync delta"].stdout + answers["pmsync sync delta"].stderr
    assert (demo_dir / "platform.db").is_file()


def test_the_demo_runs_with_these_exports_and_prints_these_lines():
    """`make demo` takes its environment and its last lines from this module, so what is tested above is what it does."""
    target = (REPO / "Makefile").read_text(encoding="utf-8").split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "-m pmsync.cli.demo_next_steps --dir $(DEMO_DIR) --port $(DEMO_PORT) --exports" in target
    assert target.rstrip().endswith("-m pmsync.cli.demo_next_steps --dir $(DEMO_DIR) --port $(DEMO_PORT) --units $(DEMO_UNITS)")
    assert "--size $(DEMO_UNITS) " in target and "--seed" not in target  # the sandbox's default seed, 7, as printed


def test_the_lines_the_buildium_demo_prints_last_work_as_printed(tmp_path):
    """`make demo SOURCE=buildium`'s last lines: the Buildium sandbox's restart line and its settings, as printed."""
    demo_dir, port, units = tmp_path / ".demo", free_port(), 20
    printed = [line.strip() for line in next_steps(demo_dir, port, units, BIN, "buildium").splitlines()]
    [restart] = [line for line in printed
                 if line.endswith(f"sandbox serve --source buildium --port {port} --size {units} --seed 7")]
    exports = [line for line in printed if line.startswith("export ")]
    given = dict(match.groups() for line in exports if (match := EXPORT.match(line)))
    assert given["PMSYNC_SOURCE_SYSTEM"] == "buildium" and "PMSYNC_PW_CLIENT_ID" not in given
    commands = [line.split("#")[0].strip() for line in printed if line.startswith("pmsync ")]
    demo_dir.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    server, banner = started(shlex.split(restart), elsewhere)
    try:
        assert banner[0].startswith(f"Buildium sandbox ready at http://127.0.0.1:{port} "), banner
        banner_settings = dict(match.groups() for line in banner if (match := EXPORT.match(line)))
        assert {name: given[name] for name in banner_settings} == banner_settings  # the demo's are the banner's
        demo = run_lines([*exports, "pmsync sync initial"], elsewhere)
        assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
        answers = {command: run_lines([*exports, command], elsewhere) for command in commands}
    finally:
        stopped(server)
    for command, done in answers.items():
        assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    assert "initial" in answers["pmsync runs"].stdout and "succeeded" in answers["pmsync runs"].stdout
    with sqlite3.connect(demo_dir / "platform.db") as database:  # rentals and associations landed
        kinds = dict(database.execute("SELECT kind, count(*) FROM properties GROUP BY kind").fetchall())
    assert kinds.keys() == {"rental", "association"} and min(kinds.values()) > 0, kinds


def make_dry_run(*variables: str) -> str:
    done = subprocess.run(["make", "--dry-run", "demo", *variables], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_demo_source_buildium_serves_the_buildium_sandbox_and_plain_make_demo_propertywares():
    buildium, plain = make_dry_run("SOURCE=buildium"), make_dry_run()
    assert "pmsync sandbox serve --source buildium --port 8765 --size 300 " in buildium
    assert "-m pmsync.cli.demo_next_steps --source buildium --dir .demo --port 8765 --exports" in buildium
    assert "-m pmsync.cli.demo_next_steps --source buildium --dir .demo --port 8765 --units 300" in buildium
    assert "pmsync sandbox serve --port 8765 --size 300 " in plain and "--source" not in plain
