"""The CLI decides "is a Prefect server configured?" without importing Prefect; it must agree with Prefect's own
reading of PREFECT_API_URL (environment, .env, prefect.toml, the active profile), else a sync would run in process
while the user expects it in the UI, or the other way round."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pmsync.cli.prefect_config import configured_api_url
from pmsync.cli.running import runs_in_process

PROFILES = """active = "{active}"
[profiles.local]
PREFECT_LOGGING_LEVEL = "INFO"
[profiles.remote]
PREFECT_API_URL = "http://profile.example:4200/api"
"""
CASES: dict[str, dict] = {
    "nothing": {"env": {}, "files": {}},
    "environment": {"env": {"PREFECT_API_URL": "http://env.example:4200/api"}, "files": {}},
    "dotenv": {"env": {}, "files": {".env": "# a comment\nPREFECT_API_URL=http://dotenv.example:4200/api\n"}},
    "prefect_toml": {"env": {}, "files": {"prefect.toml": '[api]\nurl = "http://toml.example:4200/api"\n'}},
    "active_profile": {"env": {}, "files": {"home/profiles.toml": PROFILES.format(active="remote")}},
    "profile_without_url": {"env": {}, "files": {"home/profiles.toml": PROFILES.format(active="local")}},
    "profile_chosen_by_env": {"env": {"PREFECT_PROFILE": "remote"},
                              "files": {"home/profiles.toml": PROFILES.format(active="local")}},
    "environment_beats_profile": {"env": {"PREFECT_API_URL": "http://env.example:4200/api"},
                                  "files": {"home/profiles.toml": PROFILES.format(active="remote")}},
    "dotenv_beats_profile": {"env": {}, "files": {".env": "PREFECT_API_URL=http://dotenv.example:4200/api\n",
                                                   "home/profiles.toml": PROFILES.format(active="remote")}},
}
PREFECT_READS = """
import json, os, sys
from prefect.settings.models.root import Settings
answers = {}
for name, case in json.loads(sys.argv[1]).items():
    os.chdir(case["cwd"])
    for key in [k for k in os.environ if k.startswith("PREFECT_")]:
        del os.environ[key]
    os.environ.update(case["env"])
    answers[name] = Settings().api.url or None
print(json.dumps(answers))
"""


@pytest.fixture
def cases(tmp_path: Path) -> dict[str, dict]:
    """Each case in its own working directory with its files; PREFECT_HOME is `home/` inside it."""
    prepared = {}
    for name, case in CASES.items():
        cwd = tmp_path / name
        (cwd / "home").mkdir(parents=True)
        for relative, text in case["files"].items():
            (cwd / relative).write_text(text)
        prepared[name] = {"cwd": str(cwd), "env": {"PREFECT_HOME": str(cwd / "home"), **case["env"]}}
    return prepared


def test_the_cli_reads_the_api_url_as_prefect_does(cases, monkeypatch):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    prefect = subprocess.run([sys.executable, "-c", PREFECT_READS, json.dumps(cases)], env=env, capture_output=True,
                             text=True, timeout=300)
    assert prefect.returncode == 0, prefect.stderr[-2000:]
    expected = json.loads(prefect.stdout.strip().splitlines()[-1])

    ours = {}
    for name, case in cases.items():
        with monkeypatch.context() as patch:
            for key in [k for k in os.environ if k.startswith("PREFECT_")]:
                patch.delenv(key)
            for key, value in case["env"].items():
                patch.setenv(key, value)
            patch.chdir(case["cwd"])
            ours[name] = configured_api_url()
    assert ours == expected
    assert expected["nothing"] is None and expected["active_profile"] == "http://profile.example:4200/api"


def test_a_named_block_always_runs_as_a_prefect_flow(monkeypatch, tmp_path):
    for key in [k for k in os.environ if k.startswith("PREFECT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert runs_in_process(None)
    assert not runs_in_process("account-b")  # blocks live on a Prefect server
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert not runs_in_process(None)


HEARTBEAT_DURING_A_CLI_FLOW_RUN = """
from prefect.settings import get_current_settings
from pmsync.cli.running import heartbeats_only_when_configured
with heartbeats_only_when_configured():
    print(get_current_settings().flows.heartbeat_frequency)
"""


@pytest.mark.parametrize("configured, expected", [({}, "None"), ({"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "60"}, "60"),
                                                  ({"PREFECT_RUNNER_HEARTBEAT_FREQUENCY": "90"}, "90")])
def test_a_flow_run_the_cli_starts_sends_heartbeats_only_when_the_operator_set_them(tmp_path, configured, expected):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path), **configured)
    seen = subprocess.run([sys.executable, "-c", HEARTBEAT_DURING_A_CLI_FLOW_RUN], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert seen.returncode == 0, seen.stderr[-2000:]
    assert seen.stdout.strip().splitlines()[-1] == expected
