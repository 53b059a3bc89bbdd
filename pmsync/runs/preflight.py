"""Before a command starts its job: configuration checked in a second, naming what is missing or malformed."""

from __future__ import annotations

from pydantic import ValidationError


class ConfigurationError(Exception):
    """Fatal: a setting is missing or malformed; the message names the variable, never its value."""


def check_configuration(integration_block: str | None, *, needs_source: bool = True) -> None:
    """Everything a flow command needs that can be checked without Prefect; raises ConfigurationError.

    An integration named by block is read through Prefect later; without one the PMSYNC_* environment must hold a
    complete integration.
    """
    from pmsync.integrations.integration import IntegrationNotConfigured, environment_settings, integration_from_environment
    from pmsync.settings import ImportSettings, invalid_settings

    checked_platform_settings()
    try:
        ImportSettings()
        settings = environment_settings()
    except ValidationError as invalid:
        raise ConfigurationError(invalid_settings(invalid)) from None
    except IntegrationNotConfigured as invalid:
        raise ConfigurationError(str(invalid)) from None
    if needs_source and not integration_block:
        try:
            integration_from_environment(settings)
        except IntegrationNotConfigured as missing:
            raise ConfigurationError(str(missing)) from None


def checked_platform_settings():
    """The PMSYNC_* platform settings, their database URL parsed; raises ConfigurationError naming what is wrong."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from pmsync.platform.settings import PlatformSettings, invalid_settings

    try:
        platform = PlatformSettings()
    except ValidationError as invalid:
        raise ConfigurationError(invalid_settings(invalid)) from None
    try:
        make_url(platform.database_url)
    except ArgumentError:
        raise ConfigurationError(
            "PMSYNC_DATABASE_URL is not a database URL (e.g. sqlite:///pmsync.db or postgresql://USER@HOST/DB)"
        ) from None
    return platform
