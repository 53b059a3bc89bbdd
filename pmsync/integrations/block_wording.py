"""How messages name an integration block they could not find: by the block type of the environment's source system."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from pmsync.source.registry import RULE_TABLES, integration_block_types, package_of


class _SourceSystemSetting(BaseSettings):
    """PMSYNC_SOURCE_SYSTEM alone (no credentials read or checked)."""

    model_config = SettingsConfigDict(env_prefix="PMSYNC_", extra="ignore", hide_input_in_errors=True)

    source_system: str = "propertyware"


def block_kind(source_system: str | None = None) -> str:
    """The block a message says it looked for: the environment's source system's block type ("Propertyware
    Integration block" by default, the wording operators' runbooks match; "Buildium Integration block" where
    PMSYNC_SOURCE_SYSTEM=buildium), or every vendor's, from the source registry, when the environment names a source
    system no package reads ("integration block (Propertyware Integration or Buildium Integration)")."""
    system = source_system if source_system is not None else _SourceSystemSetting().source_system
    if system in RULE_TABLES:
        return f"{package_of(system).block_type_name} block"
    return f"integration block ({' or '.join(integration_block_types().values())})"


def other_block_kinds(source_system: str | None = None) -> list[str]:
    """Every other vendor's block type ("Buildium Integration block"), in the source registry's order."""
    own = block_kind(source_system)
    return [f"{name} block" for name in integration_block_types().values() if f"{name} block" != own]
