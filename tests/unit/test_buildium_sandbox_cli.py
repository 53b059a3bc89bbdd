"""`pmsync sandbox serve --source buildium` serves the Buildium dialect and its banner's settings open it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import requests

from sandbox.runner import LAST_BANNER_LINE

BIN = Path(sys.executable).parent
EXPORT = re.compile(r"^\s*export (PMSYNC_[A-Z_]+)=(\S+)$")


def clean_environment() -> dict[str, str]:
    """This process's environment without any PMSYNC_* or Prefect server setting: only what the banner sets counts."""
    return {name: value for name, value in os.environ.items()
            if not name.startswith("PMSYNC_") and name != "PREFECT_API_URL"}


def test_the_buildium_sandbox_prints_its_settings_and_they_open_it(tmp_path):
    command = [str(BIN / "pmsync"), "sandbox", "serve", "--source", "buildium", "--port", "0", "--size", "12"]
    server = subprocess.Popen(command, cwd=tmp_path, env=clean_environment(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        banner = []
        for line in server.stdout:
            banner.append(line.rstrip("\n"))
            if line.strip() == LAST_BANNER_LINE:
                break
        assert banner[0].startswith("Buildium sandbox ready at http://127.0.0.1:") and "12 units" in banner[0], banner
        given = dict(match.groups() for line in banner if (match := EXPORT.match(line)))
        assert set(given) == {"PMSYNC_SOURCE_SYSTEM", "PMSYNC_BUILDIUM_BASE_URL", "PMSYNC_BUILDIUM_CLIENT_ID",
                              "PMSYNC_BUILDIUM_CLIENT_SECRET", "PMSYNC_BUILDIUM_STAFF_USER_ID",
                              "PMSYNC_BUILDIUM_VENDOR_ID"}
        headers = {"x-buildium-client-id": given["PMSYNC_BUILDIUM_CLIENT_ID"],
                   "x-buildium-client-secret": given["PMSYNC_BUILDIUM_CLIENT_SECRET"]}
        response = requests.get(given["PMSYNC_BUILDIUM_BASE_URL"] + "/v1/rentals/units", headers=headers,
                                params={"orderby": "Id", "limit": 1000})
        assert response.status_code == 200 and response.headers["X-Total-Count"] == str(len(response.json()))
        vendor = requests.get(f"{given['PMSYNC_BUILDIUM_BASE_URL']}/v1/vendors/{given['PMSYNC_BUILDIUM_VENDOR_ID']}",
                              headers=headers)
        assert vendor.status_code == 200 and vendor.json()["IsActive"] is True
        assert requests.get(given["PMSYNC_BUILDIUM_BASE_URL"] + "/v1/rentals").status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()


def test_an_unknown_source_is_refused_with_exit_2(tmp_path):
    done = subprocess.run([str(BIN / "pmsync"), "sandbox", "serve", "--source", "appfolio"], cwd=tmp_path,
                          env=clean_environment(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Unknown --source 'appfolio'" in done.stderr
