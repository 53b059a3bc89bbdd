"""An integration (one source account): its settings, resolved at the edge, and the client it opens."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr, ValidationError

from pmsync.rules import RULE_TABLES, RuleTable
from pmsync.settings import IntegrationSettings, invalid_settings
from pmsync.source import PropertywareClient, RetryPolicy
from pmsync.source.budget import DEFAULT_CONCURRENCY, DEFAULT_MAX_REQUESTS_PER_SECOND
from pmsync.source.exchange import AnswerLimits


CONFIGURED_IN_ENVIRONMENT = "environment"
CONFIGURED_IN_BLOCK = "block"


class IntegrationNotConfigured(Exception):
    """Fatal: the integration lacks settings a sync needs; set them and run again."""


@dataclass(frozen=True)
class Integration:
    """Everything a sync needs to reach one source account, and where it is configured (the PMSYNC_* environment or
    a block); the secret stays a SecretStr."""

    name: str
    base_url: str
    client_id: str
    client_secret: SecretStr
    system_id: str
    integration_user: str
    source_system: str = "propertyware"
    max_attempts: int = 6
    backoff_seconds: float = 0.5
    page_size: int = 500
    concurrency: int = DEFAULT_CONCURRENCY
    max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND
    configured_in: str = CONFIGURED_IN_ENVIRONMENT
    answer_limits: AnswerLimits = AnswerLimits()

    @property
    def rules(self) -> RuleTable:
        return RULE_TABLES[self.source_system]

    def open_client(self) -> PropertywareClient:
        """A client within this integration's budget: `concurrency` pages in flight per listing, at most
        `max_requests_per_second` requests a second across all its threads, each answer within `answer_limits`."""
        retry = RetryPolicy(max_attempts=self.max_attempts, backoff_base=self.backoff_seconds)
        return PropertywareClient(
            self.base_url, self.client_id, self.client_secret, self.system_id, retry=retry, page_size=self.page_size,
            concurrency=self.concurrency, max_requests_per_second=self.max_requests_per_second,
            limits=self.answer_limits,
        )


def integration_from_environment(settings: IntegrationSettings | None = None) -> Integration:
    """The default integration, from the PMSYNC_* variables."""
    settings = settings or environment_settings()
    missing = settings.missing()
    if missing:
        raise IntegrationNotConfigured(f"set {', '.join(missing)} (the default integration needs them)")
    if settings.source_system not in RULE_TABLES:
        known = ", ".join(sorted(RULE_TABLES))
        raise IntegrationNotConfigured(f"PMSYNC_SOURCE_SYSTEM={settings.source_system!r} is unknown; use one of: {known}")
    return Integration(
        name=settings.integration_name,
        base_url=settings.pw_base_url,
        client_id=settings.pw_client_id,
        client_secret=settings.pw_client_secret,
        system_id=settings.pw_system_id,
        integration_user=settings.integration_user,
        source_system=settings.source_system,
        page_size=settings.pw_page_size,
        max_attempts=settings.pw_max_attempts,
        backoff_seconds=settings.pw_backoff_seconds,
        concurrency=settings.pw_concurrency,
        max_requests_per_second=settings.pw_max_requests_per_second,
        answer_limits=answer_limits(settings),
    )


def integration_from_block(block_name: str) -> Integration:
    """An integration stored as a Prefect block (needs the Prefect API); tuning the block leaves unset (concurrency,
    request rate) and the rest (page size, retries, the answers' deadline and size cap) come from the PMSYNC_*
    settings."""
    from pmsync.blocks import PropertywareIntegration

    try:
        block = PropertywareIntegration.load(block_name)
    except RuntimeError as unloadable:  # Prefect wraps the block's failed validation
        if not isinstance(unloadable.__cause__, ValidationError):
            raise
        problems = invalid_settings(unloadable.__cause__, prefix="")
        raise IntegrationNotConfigured(f"block {block_name!r} is invalid: {problems}; fix it in the Prefect UI") from None
    except ValueError as missing:
        raise IntegrationNotConfigured(f"no Propertyware Integration block named {block_name!r}: create it in the Prefect UI") from missing
    if block.source_system not in RULE_TABLES:
        raise IntegrationNotConfigured(f"block {block_name!r} names an unknown rule table {block.source_system!r}")
    tuning = environment_settings()
    return Integration(
        name=block_name,
        base_url=block.base_url,
        client_id=block.client_id,
        client_secret=block.client_secret,
        system_id=block.system_id,
        integration_user=block.integration_user,
        source_system=block.source_system,
        max_attempts=tuning.pw_max_attempts,
        backoff_seconds=tuning.pw_backoff_seconds,
        page_size=tuning.pw_page_size,
        concurrency=block.concurrency or tuning.pw_concurrency,
        max_requests_per_second=block.max_requests_per_second or tuning.pw_max_requests_per_second,
        configured_in=CONFIGURED_IN_BLOCK,
        answer_limits=answer_limits(tuning),
    )


def answer_limits(settings: IntegrationSettings) -> AnswerLimits:
    return AnswerLimits(settings.pw_request_deadline_seconds, settings.pw_max_response_bytes)


def environment_settings() -> IntegrationSettings:
    """The PMSYNC_* settings; invalid ones are IntegrationNotConfigured naming each variable, never its value."""
    try:
        return IntegrationSettings()
    except ValidationError as invalid:
        raise IntegrationNotConfigured(invalid_settings(invalid)) from None


def resolve_integration(block_name: str | None) -> Integration:
    """The integration a flow syncs: the named block, or the environment's default integration."""
    return integration_from_block(block_name) if block_name else integration_from_environment()
