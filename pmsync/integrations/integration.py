"""An integration (one source account): its settings, resolved at the edge, and the source it opens."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import SecretStr, ValidationError

from pmsync.sync.rule_types import RuleTable
from pmsync.settings import IntegrationSettings, invalid_settings
from pmsync.source.budget import DEFAULT_CONCURRENCY, DEFAULT_MAX_REQUESTS_PER_SECOND
from pmsync.source.exchange import AnswerLimits
from pmsync.source.protocol import Source, SourceCredentials
from pmsync.source.registry import RULE_TABLES, package_of


CONFIGURED_IN_ENVIRONMENT = "environment"
CONFIGURED_IN_BLOCK = "block"


class IntegrationNotConfigured(Exception):
    """Fatal: the integration lacks settings a sync needs; set them and run again."""


@dataclass(frozen=True, init=False)
class Integration:
    """Everything a sync needs to reach one source account, and where it is configured (the PMSYNC_* environment or
    a block). `credentials` is the source package's own settings object (its secrets stay SecretStr); the older
    positional form (name, base_url, client_id, client_secret, system_id, integration_user) builds it through the
    source system's package."""

    name: str
    credentials: SourceCredentials
    integration_user: str
    source_system: str = "propertyware"
    max_attempts: int = 6
    backoff_seconds: float = 0.5
    page_size: int = 500
    concurrency: int = DEFAULT_CONCURRENCY
    max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND
    configured_in: str = CONFIGURED_IN_ENVIRONMENT
    answer_limits: AnswerLimits = field(default_factory=AnswerLimits)

    def __init__(
        self, name: str, base_url: str | None = None, client_id: str | None = None,
        client_secret: SecretStr | None = None, system_id: str | None = None, integration_user: str = "",
        source_system: str = "propertyware", max_attempts: int = 6, backoff_seconds: float = 0.5,
        page_size: int = 500, concurrency: int = DEFAULT_CONCURRENCY,
        max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND,
        configured_in: str = CONFIGURED_IN_ENVIRONMENT, answer_limits: AnswerLimits = AnswerLimits(), *,
        credentials: SourceCredentials | None = None,
    ) -> None:
        named = {key: value for key, value in (("base_url", base_url), ("client_id", client_id),
                                                ("client_secret", client_secret), ("system_id", system_id))
                 if value is not None}
        if credentials is None:
            credentials = package_of(source_system).credentials(**named)
        elif named:  # dataclasses.replace(integration, base_url=…): the credentials with those fields changed
            credentials = replace(credentials, **named)  # type: ignore[type-var]
        values: dict[str, Any] = dict(
            name=name, credentials=credentials, integration_user=integration_user, source_system=source_system,
            max_attempts=max_attempts, backoff_seconds=backoff_seconds, page_size=page_size, concurrency=concurrency,
            max_requests_per_second=max_requests_per_second, configured_in=configured_in, answer_limits=answer_limits,
        )
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @property
    def rules(self) -> RuleTable:
        return RULE_TABLES[self.source_system]

    @property
    def base_url(self) -> str:
        return self.credentials.base_url

    @property
    def account(self) -> str:
        """What names the source account at its host (Propertyware: the system id)."""
        return self.credentials.account

    def __getattr__(self, name: str) -> Any:
        """A credential field by its old name (client_id, client_secret, system_id …), from the package's object."""
        if name == "credentials":
            raise AttributeError(name)
        try:
            return getattr(self.credentials, name)
        except AttributeError:
            raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}") from None

    def secrets(self) -> list[str]:
        """Every value of this integration a message must never show (the source package says which)."""
        return self.credentials.secrets()

    def open_source(self) -> Source:
        """The source this integration reads, opened by its source system's package (pmsync.source.registry)."""
        return package_of(self.source_system).open(self)

    def open_client(self) -> Source:
        """The older name of open_source."""
        return self.open_source()


def integration_from_environment(settings: IntegrationSettings | None = None) -> Integration:
    """The default integration, from the PMSYNC_* variables."""
    settings = settings or environment_settings()
    missing = settings.missing()
    if missing:
        raise IntegrationNotConfigured(f"set {', '.join(missing)} (the default integration needs them)")
    if settings.source_system not in RULE_TABLES:
        known = ", ".join(sorted(RULE_TABLES))
        raise IntegrationNotConfigured(f"PMSYNC_SOURCE_SYSTEM={settings.source_system!r} is unknown; use one of: {known}")
    package = package_of(settings.source_system)
    tuning = {
        "integration_user": settings.integration_user,
        "page_size": settings.pw_page_size,
        "max_attempts": settings.pw_max_attempts,
        "backoff_seconds": settings.pw_backoff_seconds,
        "concurrency": settings.pw_concurrency,
        "max_requests_per_second": settings.pw_max_requests_per_second,
    }
    own_tuning = getattr(package, "tuning_from_settings", None)
    if own_tuning is not None:
        tuning.update(own_tuning(settings))
    return Integration(
        name=settings.integration_name,
        credentials=package.credentials_from_settings(settings),
        source_system=settings.source_system,
        answer_limits=answer_limits(settings),
        **tuning,
    )


def integration_from_block(block_name: str) -> Integration:
    """An integration stored as a Prefect block, Propertyware's or Buildium's (needs the Prefect API); tuning the block
    leaves unset (concurrency, request rate) and the rest (page size, retries, the answers' deadline and size cap)
    come from the PMSYNC_* settings."""
    block = _load_block(block_name)
    if block.source_system not in RULE_TABLES:
        raise IntegrationNotConfigured(f"block {block_name!r} names an unknown rule table {block.source_system!r}")
    package = package_of(block.source_system)
    if package.vendor != block.vendor:
        raise IntegrationNotConfigured(
            f"block {block_name!r} is a {block._block_type_name} block but names the rule table {block.source_system!r} "
            f"of another vendor ({package.vendor}); fix its source_system in the Prefect UI")
    tuning = environment_settings()
    fields: dict[str, Any] = {
        "max_attempts": tuning.pw_max_attempts,
        "backoff_seconds": tuning.pw_backoff_seconds,
        "page_size": tuning.pw_page_size,
        "concurrency": tuning.pw_concurrency,
        "max_requests_per_second": tuning.pw_max_requests_per_second,
    }
    own_tuning = getattr(package, "tuning_from_settings", None)
    if own_tuning is not None:
        fields.update({key: value for key, value in own_tuning(tuning).items() if key != "integration_user"})
    return Integration(
        name=block_name,
        credentials=package.credentials_from_block(block),
        integration_user=block.integration_user,
        source_system=block.source_system,
        configured_in=CONFIGURED_IN_BLOCK,
        answer_limits=answer_limits(tuning),
        **{**fields, "concurrency": block.concurrency or fields["concurrency"],
           "max_requests_per_second": block.max_requests_per_second or fields["max_requests_per_second"]},
    )


def _load_block(block_name: str) -> Any:
    """The integration block of that name, of whichever vendor's block type holds it (pmsync.integrations.blocks, in the source
    registry's order); when none does, the message names the environment's source system's block type (for
    Propertyware the line Propertyware-only pmsync always gave: operators' runbooks match it)."""
    from pmsync.integrations.blocks import INTEGRATION_BLOCKS
    from pmsync.integrations.block_wording import block_kind

    for block_type in INTEGRATION_BLOCKS.values():
        try:
            return block_type.load(block_name)
        except RuntimeError as unloadable:  # Prefect wraps the block's failed validation
            if not isinstance(unloadable.__cause__, ValidationError):
                raise
            problems = invalid_settings(unloadable.__cause__, prefix="")
            raise IntegrationNotConfigured(f"block {block_name!r} is invalid: {problems}; fix it in the Prefect UI") from None
        except ValueError:
            continue
    raise IntegrationNotConfigured(f"no {block_kind()} named {block_name!r}: create it in the Prefect UI")


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
