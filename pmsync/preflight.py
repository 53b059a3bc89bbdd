"""Before a command starts Prefect: configuration checked in a second, and a temporary Prefect server given time."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError

EPHEMERAL_STARTUP_SECONDS = 180
"""How long a temporary Prefect server may take to answer: a first start on a cold 2-core machine migrates a new
database (measured 16–25 s; Prefect's own default of 20 s fails there)."""


class ConfigurationError(Exception):
    """Fatal: a setting is missing or malformed; the message names the variable, never its value."""


def check_configuration(integration_block: str | None, *, needs_source: bool = True) -> None:
    """Everything a flow command needs that can be checked without Prefect; raises ConfigurationError.

    An integration named by block is read through Prefect later; without one the PMSYNC_* environment must hold a
    complete integration.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from pmsync.integrations import IntegrationNotConfigured, environment_settings, integration_from_environment
    from pmsync.settings import ImportSettings, PlatformSettings, invalid_settings

    try:
        platform = PlatformSettings()
        ImportSettings()
        settings = environment_settings()
    except ValidationError as invalid:
        raise ConfigurationError(invalid_settings(invalid)) from None
    except IntegrationNotConfigured as invalid:
        raise ConfigurationError(str(invalid)) from None
    try:
        make_url(platform.database_url)
    except ArgumentError:
        raise ConfigurationError(
            "PMSYNC_DATABASE_URL is not a database URL (e.g. sqlite:///pmsync.db or postgresql://USER@HOST/DB)"
        ) from None
    if needs_source and not integration_block:
        try:
            integration_from_environment(settings)
        except IntegrationNotConfigured as missing:
            raise ConfigurationError(str(missing)) from None


@contextmanager
def prefect_ready() -> Iterator[None]:
    """Run flows here: against the configured Prefect server, or a temporary one with a startup time a cold
    machine meets, announced in one line on stderr."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    timeout = max(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value(), EPHEMERAL_STARTUP_SECONDS)
    print(
        f"no PREFECT_API_URL set: starting a temporary local Prefect server for this run (up to {timeout} s on a "
        "first start; set PREFECT_API_URL to use a running server)",
        file=sys.stderr,
        flush=True,
    )
    with temporary_settings(updates={PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: timeout}):
        yield
