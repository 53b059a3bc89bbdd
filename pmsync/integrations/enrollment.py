"""Adding and removing a company on the Prefect server: its block, its deployments, its initial run, its platform rows."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun
    from prefect.client.schemas.responses import DeploymentResponse

    from pmsync.integrations.integration import Integration
    from pmsync.integrations.repoint import Repointing
    from pmsync.integrations.retirement import Reinstatement, Retirement

BLOCK_TYPE = "propertyware-integration"
"""Propertyware's block type; integration_blocks, block_id and delete_block look at every vendor's
(pmsync.source.registry.integration_block_types)."""
BLOCK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
INITIAL_SYNC = "initial-sync/initial-{name}"
INTEGRATION_TAG = "integration:{name}"


class EnrollmentRefused(Exception):
    """The integration cannot be added or removed as asked (a name that is not a block slug, no block of that name,
    or a block still there while retiring); the message says what to do."""


def check_block_names(names: list[str]) -> None:
    """Raise EnrollmentRefused naming every name that is not a block slug (lowercase letters, digits, dashes)."""
    bad = [name for name in names if not isinstance(name, str) or not BLOCK_NAME.match(name)]
    if bad:
        raise EnrollmentRefused(f"integration names must be block slugs (lowercase letters, digits, dashes): "
                                f"{', '.join(map(repr, bad))}")


def integration_blocks() -> dict[str, UUID]:
    """The integration blocks of every vendor on the Prefect server, name → block document id (secrets not read)."""
    return {name: found for name, (_, found) in typed_integration_blocks().items()}


def typed_integration_blocks() -> dict[str, tuple[str, UUID]]:
    """The integration blocks of every vendor on the Prefect server, name → (block type slug, block document id); a
    name held by blocks of two vendors keeps the first vendor's (registry order)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from pmsync.source.registry import integration_block_types

    found: dict[str, tuple[str, UUID]] = {}
    with get_client(sync_client=True) as client:
        for slug in integration_block_types():
            try:
                blocks = client.read_block_documents_by_type(slug, include_secrets=False)
            except ObjectNotFound:
                continue  # a block type not registered yet holds no block
            for block in blocks:
                if block.name and not block.is_anonymous:
                    found.setdefault(block.name, (slug, block.id))
    return found


def block_id(name: str) -> UUID | None:
    """The id of the integration block `name` (of any vendor's block type), None when there is none."""
    found = block_of(name)
    return found[1] if found else None


def block_of(name: str) -> tuple[str, UUID] | None:
    """(block type slug, id) of the integration block `name`, looked up in every vendor's block type in registry order;
    None when there is none."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from pmsync.source.registry import integration_block_types

    check_block_names([name])
    with get_client(sync_client=True) as client:
        for slug in integration_block_types():
            try:
                return slug, client.read_block_document_by_name(name, slug, include_secrets=False).id
            except ObjectNotFound:
                continue
    return None


def delete_block(name: str) -> str | None:
    """Delete the integration block `name` (and with it the secret it holds), of whichever vendor's block type; its
    block type slug, None when there was none."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    found = block_of(name)
    if found is None:
        return None
    slug, document = found
    try:
        with get_client(sync_client=True) as client:
            client.delete_block_document(document)
    except ObjectNotFound:
        return None
    return slug


def integration_deployments(name: str) -> list[str]:
    """`flow/deployment` of every deployment of the integration (tagged `integration:<name>`), sorted."""
    return sorted(label for label, _ in tagged_deployments(name))


def delete_deployments(name: str) -> list[str]:
    """Delete every deployment of the integration: its schedules stop and its scheduled runs go (those waiting for
    its sync slot too); runs already in the history stay. Its sync slot goes with them unless a run still holds it
    (pmsync/runs/sync_slots.py). Returns the `flow/deployment` names deleted."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from pmsync.runs.sync_slots import delete_sync_limit, leave_sync_slot

    deleted = []
    with get_client(sync_client=True) as client:
        for label, deployment in tagged_deployments(name):
            try:
                leave_sync_slot(client, deployment, name)  # else Prefect deletes the slot with it, held or not
                client.delete_deployment(deployment.id)
            except ObjectNotFound:
                continue
            deleted.append(label)
    delete_sync_limit(name)
    return sorted(deleted)


def tagged_deployments(name: str) -> list[tuple[str, DeploymentResponse]]:
    """Every deployment of the integration (tagged `integration:<name>`, its parameter naming it) with its
    `flow/deployment` name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags

    check_block_names([name])
    tagged = DeploymentFilter(tags=DeploymentFilterTags(all_=[INTEGRATION_TAG.format(name=name)]))
    with get_client(sync_client=True) as client:
        deployments = client.read_deployments(deployment_filter=tagged)
        return with_labels(client, [d for d in deployments if (d.parameters or {}).get("integration") == name])


def with_labels(client, deployments: list[DeploymentResponse]) -> list[tuple[str, DeploymentResponse]]:
    """Each deployment with its `flow/deployment` name."""
    flows = {flow_id: client.read_flow(flow_id).name for flow_id in {d.flow_id for d in deployments}}
    return [(f"{flows.get(d.flow_id, d.flow_id)}/{d.name}", d) for d in deployments]


def start_initial_sync(name: str, enrolled_block: UUID | None, *, as_subflow: bool = False) -> FlowRun:
    """A run of the integration's initial sync deployment, created now (not waited for).

    With the id of the block just created, the run is created once per block: the CLI that saved the block and the
    `enroll` flow its creation triggers get the same run."""
    from prefect.deployments import run_deployment

    from pmsync.runs.names import run_name

    check_block_names([name])
    key = f"enroll:{name}:{enrolled_block}" if enrolled_block else None
    return run_deployment(INITIAL_SYNC.format(name=name), parameters={"integration": name}, timeout=0,
                          idempotency_key=key, as_subflow=as_subflow, flow_run_name=run_name("initial-sync", name))


def run_url(run: FlowRun) -> str:
    """Where to watch a flow run: its page in the Prefect UI, else the command that shows it."""
    from prefect.settings import PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    return f"{ui}/runs/flow-run/{run.id}" if ui else f"prefect flow-run inspect {run.id}"


def retire_on_platform(name: str) -> Retirement:
    """Mark the integration removed on the platform of PMSYNC_DATABASE_URL and every row of it inactive, its running
    sync stopped at its next page; refused for the environment's integration (PMSYNC_INTEGRATION_NAME, else
    `default`) unless a block configures it."""
    from pmsync.platform.database import make_engine
    from pmsync.platform.settings import IntegrationNameSettings, PlatformSettings
    from pmsync.integrations.retirement import retire_integration

    check_block_names([name])
    engine = make_engine(PlatformSettings().database_url)
    try:
        return retire_integration(engine, name, environment_integration=IntegrationNameSettings().integration_name)
    finally:
        engine.dispose()


def refuse_other_account(integration: Integration, remedy: str) -> None:
    """Raise IntegrationNeedsRepoint when the platform of PMSYNC_DATABASE_URL has the integration's name bound to
    another source account or place (removed or not); nothing is written."""
    from pmsync.integrations.identity import refuse_other_identity, registered_row
    from pmsync.platform.database import make_engine, migrate
    from pmsync.platform.settings import PlatformSettings

    engine = make_engine(PlatformSettings().database_url)
    try:
        migrate(engine)
        with engine.connect() as connection:
            refuse_other_identity(registered_row(connection, integration.name), integration, remedy)
    finally:
        engine.dispose()


def repoint_on_platform(integration: Integration, say: Callable[[str], object] = lambda line: None) -> Repointing:
    """Bind the integration on the platform of PMSYNC_DATABASE_URL to the account `integration` names (rows kept,
    everything applied again by its next sync); `say` hears that it waits for a running sync."""
    from pmsync.platform.database import make_engine
    from pmsync.platform.settings import PlatformSettings
    from pmsync.integrations.repoint import repoint_integration

    engine = make_engine(PlatformSettings().database_url)
    try:
        return repoint_integration(engine, integration, say=say)
    finally:
        engine.dispose()


def reinstate_on_platform(name: str) -> Reinstatement:
    """Clear the integration's removal on the platform of PMSYNC_DATABASE_URL (its rows active again)."""
    from pmsync.platform.database import make_engine
    from pmsync.platform.settings import PlatformSettings
    from pmsync.integrations.retirement import reinstate_integration

    check_block_names([name])
    engine = make_engine(PlatformSettings().database_url)
    try:
        return reinstate_integration(engine, name)
    finally:
        engine.dispose()


def retirement_text(retirement: Retirement) -> str:
    """One line of what retiring did on the platform."""
    if not retirement.on_platform:
        return f"{retirement.name} never synced: nothing on the platform to mark inactive"
    rows = ", ".join(f"{table} {count}" for table, count in retirement.rows.items()) or "none"
    when = f" (removed at {retirement.removed_at:%Y-%m-%d %H:%M:%S} UTC)" if retirement.removed_at else ""
    if retirement.already_removed:
        return f"{retirement.name} was already removed from the platform{when}; rows marked inactive by this call: {rows}"
    stopped = f"; its running sync ({retirement.stopped_sync}) stops at its next page" if retirement.stopped_sync else ""
    return f"{retirement.name} removed from the platform{when}; its rows are kept, marked inactive: {rows}{stopped}"


def repointing_text(repointing: Repointing) -> str:
    """One line of what re-pointing did: old → new identity."""
    if not repointing.changed:
        return f"{repointing.name} is bound to {repointing.after} already: nothing to re-point"
    hashes = sum(repointing.hashes_cleared.values())
    return (f"{repointing.name} re-pointed: {repointing.before} → {repointing.after}; its rows are kept, {hashes} content "
            f"hashes and {repointing.marks_cleared} high-water marks cleared: its next sync reads every stream in full "
            "and applies every record again")


def reinstatement_text(reinstatement: Reinstatement) -> str:
    """One line of what reinstating did on the platform."""
    if not reinstatement.was_removed:
        return f"{reinstatement.name} is not removed on the platform: nothing to reinstate"
    rows = ", ".join(f"{table} {count}" for table, count in reinstatement.rows.items()) or "none"
    return f"{reinstatement.name} reinstated on the platform; rows active again: {rows} (its next sync reapplies them all)"
