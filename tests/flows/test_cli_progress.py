"""`pmsync sync initial` shows a progress bar when stdout is a terminal (a real pseudo-terminal), and when it is a pipe
plain progress lines on stderr only, stdout free of control codes; run in process and as a Prefect flow here."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL

from pmsync.cli.common import EXIT_REFUSED
from tests.flows.test_progress import make_units_fail_quality

PMSYNC = str(Path(sys.executable).with_name("pmsync"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BAR = "━"
DRAWN_BAR = re.compile(r"initial sync [━╸╺]+ +\d+%")


def command_env(env: dict[str, str], *, prefect: bool) -> dict[str, str]:
    """The user's environment: the test harness's Prefect server for a flow, else no Prefect setting at all."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PMSYNC_"))}
    server = {"PREFECT_API_URL": PREFECT_API_URL.value()} if prefect else {}
    return {**inherited, **env, **server, "TERM": "xterm-256color", "COLUMNS": "160"}


def run_in_terminal(args: list[str], env: dict[str, str], timeout: float = 300) -> tuple[int, str]:
    """Run `args` with stdin, stdout and stderr on a new pseudo-terminal (160 columns); its exit code and output."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    process = subprocess.Popen(args, stdin=secondary, stdout=secondary, stderr=secondary, env=env, close_fds=True)
    os.close(secondary)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the terminal's last writer exited
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(primary)
    try:
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"{' '.join(args)} did not end in {timeout} s; its output so far:\n{output.decode(errors='replace')[-3000:]}")
    return code, output.decode("utf-8", errors="replace")


def screen_lines(output: str) -> list[str]:
    """The output's lines without control codes; each redraw of the bar (after a carriage return) a line of its own."""
    return [line for line in re.split(r"[\r\n]+", ANSI.sub("", output)) if line.strip()]


def assert_the_bar_reached_100_and_log_lines_stay_whole(code: int, output: str) -> None:
    assert code == 0, output[-3000:]
    assert "\x1b[?25l" in output, "the bar hides the cursor while it is drawn"
    lines = screen_lines(output)
    bars = [line for line in lines if DRAWN_BAR.match(line)]
    assert bars and bars[0].endswith("buildings: 0 of ? records · 0 of 6 streams done")
    assert re.search(r"100%.*payments: \d+ of \d+ records · 6 of 6 streams done · succeeded", bars[-1]), bars[-1]
    assert any(line.startswith("initial sync — run 1") for line in lines), "the result table follows the bar"
    assert not [line for line in lines if BAR in line and "INFO" in line], "a log line never lands on the bar's line"


def test_a_sync_in_a_terminal_shows_a_progress_bar_and_its_log_lines_above_it(integration_env):
    code, output = run_in_terminal([PMSYNC, "sync", "initial"], command_env(integration_env, prefect=False))

    assert_the_bar_reached_100_and_log_lines_stay_whole(code, output)
    assert any(re.match(r"\d\d:\d\d:\d\d\.\d{3} \| INFO    \| units: records 1–", line) for line in screen_lines(output))


def test_a_failed_sync_in_a_terminal_leaves_its_bar_below_100_and_ends_with_its_error_line(integration_env, sandbox):
    make_units_fail_quality(sandbox.store)

    code, output = run_in_terminal([PMSYNC, "sync", "initial"], command_env(integration_env, prefect=False))

    assert code == EXIT_REFUSED, output[-3000:]
    lines = screen_lines(output)
    bars = [line for line in lines if DRAWN_BAR.match(line)]
    assert bars and re.search(r" 1[67]% .* units: ", bars[-1]), bars[-1]
    assert lines[-1].startswith("error: unit: ") and "failed data-quality checks" in lines[-1]


def test_a_sync_into_a_pipe_prints_plain_progress_lines_on_stderr_and_no_control_codes(integration_env):
    done = subprocess.run([PMSYNC, "sync", "initial"], env=command_env(integration_env, prefect=False),
                          capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]
    assert "\x1b" not in done.stdout and not DRAWN_BAR.search(done.stdout) and "progress:" not in done.stdout
    assert done.stdout.startswith("initial sync — run 1")
    progress = [line for line in done.stderr.splitlines() if line.startswith("progress: ")]
    assert len(progress) == 7, "a line as each of the 6 streams ends, and one as the run succeeds"
    assert progress[0].startswith("progress: initial sync · buildings: ") and "1 of 6 streams done · 17 %" in progress[0]
    assert progress[-1].endswith("6 of 6 streams done · 100 % · succeeded")
    assert "\x1b" not in done.stderr and not DRAWN_BAR.search(done.stderr)


@pytest.mark.flow
def test_a_sync_run_as_a_prefect_flow_in_a_terminal_shows_the_same_bar(integration_env):
    code, output = run_in_terminal([PMSYNC, "sync", "initial"], command_env(integration_env, prefect=True))

    assert_the_bar_reached_100_and_log_lines_stay_whole(code, output)
    assert "Finished in state Completed" in ANSI.sub("", output)
