"""The lock's settings: a lease in seconds (60 by default), the deprecated minutes still honoured with a warning, both
at once refused before a command starts (exit 2, naming both variables)."""

from __future__ import annotations

import logging
import subprocess
from datetime import timedelta

import pytest
from pydantic import ValidationError

from pmsync.cli.common import EXIT_CONFIGURATION
from pmsync.platform.settings import PlatformSettings, _warn_lease_minutes
from tests.flows.test_cli import run_pmsync


def test_the_lease_is_a_minute_by_default_and_set_in_seconds(monkeypatch):
    monkeypatch.delenv("PMSYNC_LOCK_LEASE_SECONDS", raising=False)
    monkeypatch.delenv("PMSYNC_LOCK_LEASE_MINUTES", raising=False)
    assert PlatformSettings().lock_lease == timedelta(seconds=60)
    monkeypatch.setenv("PMSYNC_LOCK_LEASE_SECONDS", "4.5")
    assert PlatformSettings().lock_lease == timedelta(seconds=4.5)
    monkeypatch.setenv("PMSYNC_LOCK_LEASE_SECONDS", "0")
    with pytest.raises(ValidationError, match="lock_lease_seconds"):
        PlatformSettings()


def test_the_deprecated_lease_in_minutes_still_sets_it_with_a_warning(monkeypatch, caplog):
    monkeypatch.delenv("PMSYNC_LOCK_LEASE_SECONDS", raising=False)
    monkeypatch.setenv("PMSYNC_LOCK_LEASE_MINUTES", "15")
    _warn_lease_minutes.cache_clear()
    with caplog.at_level(logging.WARNING, logger="pmsync.settings"):
        assert PlatformSettings().lock_lease == timedelta(minutes=15)
        assert PlatformSettings().lock_lease == timedelta(minutes=15)
    assert caplog.text.count("PMSYNC_LOCK_LEASE_MINUTES is deprecated") == 1, "once a process"
    assert "set PMSYNC_LOCK_LEASE_SECONDS instead" in caplog.text


def test_both_lease_variables_are_refused_before_a_command_starts():
    env = {"PMSYNC_LOCK_LEASE_MINUTES": "15", "PMSYNC_LOCK_LEASE_SECONDS": "60"}
    refused: subprocess.CompletedProcess = run_pmsync("sync", "delta", env=env)
    assert refused.returncode == EXIT_CONFIGURATION
    assert refused.stderr.strip().splitlines()[-1] == (
        "error: PMSYNC_LOCK_LEASE_MINUTES and PMSYNC_LOCK_LEASE_SECONDS are both set: keep PMSYNC_LOCK_LEASE_SECONDS "
        "only (the minutes are its deprecated older form)"
    )
