"""`pmsync deploy` against a Prefect server that does not answer: one `error:` line naming what to do, exit 3 (run
again later), before anything is registered or deployed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

PMSYNC = Path(sys.executable).parent / "pmsync"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_deploy_to_a_server_that_does_not_answer_says_how_to_start_one(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/api"
    env = {**os.environ, "PREFECT_API_URL": url, "PREFECT_HOME": str(tmp_path / "home")}
    done = subprocess.run([str(PMSYNC), "deploy"], env=env, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"error: the Prefect server at {url} does not answer (ConnectError")
    assert line.endswith("start it (`prefect server start`) or set PREFECT_API_URL to one that runs")
