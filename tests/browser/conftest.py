"""Browser tests: real headless Chromium driven over the W3C WebDriver protocol (Debian's chromium-driver)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
import requests

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
"""Session-wide folder for the pages' screenshots, kept after the run (CI uploads it; .gitignore skips it)."""

WINDOW_WIDTH, WINDOW_HEIGHT = 1400, 1800
"""Large enough that a screenshot shows a whole page of the tests' small reports (headless Chromium starts at 800×600)."""
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before answering on {url}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on {url} within {timeout:.0f} s")


class Browser:
    """One WebDriver session of headless Chromium, with downloads going to `downloads`."""

    def __init__(self, driver_url: str, downloads: Path, profile: Path, binary: str) -> None:
        self.driver_url = driver_url
        options = {
            "binary": binary,
            "args": [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"],
            "prefs": {"download.default_directory": str(downloads), "download.prompt_for_download": False},
        }
        capabilities = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}}
        self.session = self._call("POST", "/session", capabilities)["sessionId"]
        self.command("window/rect", {"width": WINDOW_WIDTH, "height": WINDOW_HEIGHT})
        self.command("chromium/send_command", {"cmd": "Page.setDownloadBehavior",
                                               "params": {"behavior": "allow", "downloadPath": str(downloads)}})

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        response = requests.request(method, self.driver_url + path, json=body, timeout=60)
        payload = response.json()
        if response.status_code >= 400:
            raise RuntimeError(f"WebDriver {method} {path} failed: {payload.get('value', payload)}")
        return payload["value"]

    def command(self, path: str, body: dict | None = None, method: str = "POST") -> Any:
        return self._call(method, f"/session/{self.session}/{path}", body if body is not None else {})

    def open(self, url: str) -> None:
        self.command("url", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        return self.command("execute/sync", {"script": script, "args": list(args)})

    def _element(self, css: str) -> str:
        element = self.command("element", {"using": "css selector", "value": css})
        return next(iter(element.values()))

    def click(self, css: str) -> None:
        self.command(f"element/{self._element(css)}/click")

    def type(self, css: str, text: str) -> None:
        self.command(f"element/{self._element(css)}/value", {"text": text})

    def wait_for(self, css: str, timeout: float = 15.0) -> None:
        """Until the page shows an element matching `css` (a click that navigates returns before the next page)."""
        deadline = time.monotonic() + timeout
        while not self.run("return document.readyState === 'complete' && !!document.querySelector(arguments[0])", css):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {css} on {self.current_url()} after {timeout:g} s")
            time.sleep(0.1)

    def cookies(self) -> list[dict]:
        return self.command("cookie", method="GET")

    def current_url(self) -> str:
        return self.command("url", method="GET")

    def screenshot(self, path: Path) -> Path:
        """Saves what the window shows now as a PNG at `path` (WebDriver's base64 screenshot)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.command("screenshot", method="GET")))
        return path

    def quit(self) -> None:
        self._call("DELETE", f"/session/{self.session}")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """Headless Chromium; skipped only where none is installed and CI is not set (CI must have it)."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        missing = "chromium" if chromium is None else "chromedriver"
        if os.environ.get("CI"):
            pytest.fail(f"{missing} is missing in CI: .ci/run installs Debian's chromium and chromium-driver")
        pytest.skip(f"{missing} is not installed (apt-get install chromium chromium-driver)")
    port = free_port()
    process = subprocess.Popen([driver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/status", process)
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        session = Browser(f"http://127.0.0.1:{port}", downloads, tmp_path / "profile", chromium)
        try:
            yield session
        finally:
            session.quit()
    finally:
        process.terminate()
        process.wait(timeout=10)


class Screenshot(Protocol):
    def __call__(self, page: str) -> Path: ...


@pytest.fixture
def screenshot(browser: Browser, request: pytest.FixtureRequest) -> Screenshot:
    """`screenshot("page-name")` keeps the browser's current page as test-artifacts/screenshots/<test>-<page>.png."""
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")

    def keep(page: str) -> Path:
        return browser.screenshot(SCREENSHOTS / f"{test_name}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', page)}.png")

    return keep
