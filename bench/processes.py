"""The benchmark's child processes: the sandbox source, a Prefect server, and a timed `pmsync` command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

BIN = Path(sys.executable).parent
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_answering(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


class Service:
    """A long-running child process (sandbox or Prefect server), stopped on exit."""

    def __init__(self, args: list[str], health_url: str, env: dict[str, str], log: Path, timeout: float):
        self.log = log.open("wb")
        self.process = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until_answering(health_url, self.process, timeout)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_sandbox(units: int, ledger: bool, work: Path, timeout: float = 1800, seed: int | None = None,
                  log_name: str | None = None) -> tuple[Service, str]:
    """The sandbox with `units` units (of `seed`, else the sandbox's default) in its own process; returns it and its
    root URL."""
    port = free_port()
    args = [str(BIN / "pmsync"), "sandbox", "serve", "--port", str(port), "--size", str(units),
            "--ledger" if ledger else "--no-ledger", *(["--seed", str(seed)] if seed is not None else [])]
    root = f"http://127.0.0.1:{port}"
    log = work / (log_name or f"sandbox-{units}.log")
    return Service(args, f"{root}/_sandbox/health", dict(os.environ), log, timeout), root


def start_prefect_server(work: Path, timeout: float = 180, database_url: str | None = None,
                         settings: dict[str, str] | None = None) -> tuple[Service, str]:
    """A Prefect server on its own SQLite database (or on `database_url`, a `postgresql+asyncpg://` URL), with extra
    PREFECT_* `settings`; returns it and its API URL."""
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_LOGGING_LEVEL": "WARNING", **(settings or {})}
    if database_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
    env.pop("PREFECT_API_URL", None)
    args = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    api = f"http://127.0.0.1:{port}/api"
    return Service(args, f"{api}/health", env, work / "prefect-server.log", timeout), api


def tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of a process and all its descendants (0 once it has exited)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat_file:
                fields = stat_file.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * PAGE_SIZE
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, ()))
    return total


@dataclass
class CommandResult:
    """How one `pmsync` command went: wall seconds, peak RSS of its process tree, exit status and output tail."""

    seconds: float
    peak_rss_bytes: int
    returncode: int
    output_tail: str


def run_measured(args: list[str], env: dict[str, str], sample_every: float = 0.2) -> CommandResult:
    """Runs a command to completion while sampling its process tree's RSS."""
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_bytes(process.pid))
            done.wait(sample_every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = process.communicate()[0]
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return CommandResult(seconds, peak, process.returncode, output.decode(errors="replace")[-3000:])
