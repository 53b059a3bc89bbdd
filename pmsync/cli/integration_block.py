"""The block `pmsync integration add` saves: the vendor's block type for the rule table asked for (from the source
registry), its fields from the options, validated as the Prefect UI would, the secret asked for and never shown."""

from __future__ import annotations

import typer

from pmsync.cli.common import EXIT_CONFIGURATION, fail


def ask_secret(variable: str) -> str:
    """The client secret typed at a hidden prompt; without a terminal to ask in, the command ends saying where to give
    it."""
    import sys

    import click

    if not sys.stdin.isatty():
        fail(f"no client secret: set {variable} (or pass --client-secret); there is no terminal to ask in",
             EXIT_CONFIGURATION)
    try:
        return typer.prompt("client secret", hide_input=True)
    except (click.exceptions.Abort, EOFError):
        fail(f"no client secret given: set {variable}, pass --client-secret, or type it when asked",
             EXIT_CONFIGURATION)


OPTIONS = {"base_url": "--base-url", "client_id": "--client-id", "client_secret": "--client-secret",
           "system_id": "--system-id", "integration_user": "--integration-user", "staff_user_id": "--staff-user-id",
           "vendor_id": "--vendor-id", "concurrency": "--concurrency",
           "max_requests_per_second": "--max-requests-per-second"}
"""Each block field `integration add` sets, by the option that gives it."""


def block_type_for(source_system: str, given: dict[str, object]):
    """The block type of the vendor whose rule table `source_system` is (pmsync.integrations.blocks, by the source registry); an
    unknown rule table, an option that vendor's block has no field for, or a required one missing ends the command
    (exit 2) before the secret is asked for."""
    from pmsync.integrations.blocks import INTEGRATION_BLOCKS
    from pmsync.source.registry import RULE_TABLES

    if source_system not in RULE_TABLES:
        fail(f"--source-system {source_system!r} is unknown; use one of: {', '.join(RULE_TABLES)}", EXIT_CONFIGURATION)
    block_type = INTEGRATION_BLOCKS[RULE_TABLES[source_system].vendor]
    fields = {name for name in block_type.model_fields if name in OPTIONS}
    foreign = [OPTIONS[name] for name in given if name not in fields]
    takes = ", ".join(OPTIONS[name] for name in OPTIONS if name in fields)
    if foreign:
        verb = "is not a setting" if len(foreign) == 1 else "are not settings"
        fail(f"{', '.join(foreign)} {verb} of a {block_type.get_block_type_name()} block (--source-system "
             f"{source_system}); it takes {takes}", EXIT_CONFIGURATION)
    missing = [OPTIONS[name] for name, field in block_type.model_fields.items()
               if name in OPTIONS and field.is_required() and name not in given and name != "client_secret"]
    if missing:
        fail(f"missing {', '.join(missing)}: a {block_type.get_block_type_name()} block needs them (--source-system "
             f"{source_system})", EXIT_CONFIGURATION)
    return block_type


def validated_block(block_type, **fields: object):
    """The block as the Prefect UI would save it; a field it refuses ends the command naming the field, never its
    value."""
    from pydantic import ValidationError

    try:
        return block_type(**fields)
    except ValidationError as problem:
        reasons = "; ".join(f"{'.'.join(map(str, error['loc'])) or 'block'}: {error['msg']}" for error in problem.errors())
        fail(f"the integration's settings are not valid: {reasons}", EXIT_CONFIGURATION)


def as_integration(block, name: str):
    """The integration the block configures, as a run of it would see it (where: a block)."""
    from pmsync.integrations.integration import CONFIGURED_IN_BLOCK, Integration
    from pmsync.source.registry import package_of

    return Integration(name=name, credentials=package_of(block.source_system).credentials_from_block(block),
                       integration_user=block.integration_user, source_system=block.source_system,
                       configured_in=CONFIGURED_IN_BLOCK)


def save_block(block, name: str, overwrite: bool):
    """Save the block; a refusal by the server is reported by its status alone (its answer could quote the secret)."""
    import httpx

    try:
        return block.save(name, overwrite=overwrite)
    except httpx.HTTPStatusError as failure:
        fail(f"the Prefect server refused the block {name!r} (HTTP {failure.response.status_code}); check the server's "
             "log and that `prefect block register -m pmsync.integrations.blocks` matches this pmsync")
    except httpx.HTTPError as failure:
        fail(f"cannot reach the Prefect server to save the block ({type(failure).__name__}); check PREFECT_API_URL and "
             "that the server is up")
