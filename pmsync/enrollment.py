"""Adding and removing a company on the Prefect server: its block, its deployments, its initial run, its platform rows."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun
    from prefect.client.schemas.responses import DeploymentResponse

    from pmsync.retirement import Reinstatement, Retirement

BLOCK_TYPE = "propertyware-integration"
BLOCK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
INITIAL_SYNC = "initial-sync/initial-{name}"
INTEGRATION_TAG = "integration:{name}"
SYNC_TAG = "sync"
"""prefect.yaml tags `sync` the deployments whose flows take the integration's platform lock (pmsync/runs.py
LOCKED_FLOWS: initial, delta, now, leases, reconcile); pushes, imports and balances are not."""
SYNC_LIMIT = "sync:{name}"
"""The integration's one Prefect concurrency slot, shared by all its sync deployments."""
OWN_LIMIT = "deployment:{id}"
"""The name Prefect gives the limit of a deployment's own (what `prefect deploy` makes of a `concurrency_limit`)."""


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
    """The Propertyware Integration blocks on the Prefect server, name → block document id (secrets not read)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            blocks = client.read_block_documents_by_type(BLOCK_TYPE, include_secrets=False)
    except ObjectNotFound:
        return {}
    return {block.name: block.id for block in blocks if block.name and not block.is_anonymous}


def block_id(name: str) -> UUID | None:
    """The id of the Propertyware Integration block `name`, None when there is none."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    check_block_names([name])
    try:
        with get_client(sync_client=True) as client:
            return client.read_block_document_by_name(name, BLOCK_TYPE, include_secrets=False).id
    except ObjectNotFound:
        return None


def delete_block(name: str) -> bool:
    """Delete the block `name` (and with it the secret it holds); False when there was none."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    found = block_id(name)
    if found is None:
        return False
    try:
        with get_client(sync_client=True) as client:
            client.delete_block_document(found)
    except ObjectNotFound:
        return False
    return True


def integration_deployments(name: str) -> list[str]:
    """`flow/deployment` of every deployment of the integration (tagged `integration:<name>`), sorted."""
    return sorted(label for label, _ in _tagged_deployments(name))


def delete_deployments(name: str) -> list[str]:
    """Delete every deployment of the integration: its schedules stop and its scheduled runs go (those waiting for
    its sync slot too); runs already in the history stay. Its sync slot goes with them unless a run still holds it
    (delete_sync_limit). Returns the `flow/deployment` names deleted."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    deleted = []
    with get_client(sync_client=True) as client:
        for label, deployment in _tagged_deployments(name):
            try:
                if _shares_sync_slot(deployment, name):  # else Prefect deletes the slot with it, held or not
                    _point_at_limit(client, deployment.id, None)
                client.delete_deployment(deployment.id)
            except ObjectNotFound:
                continue
            deleted.append(label)
    delete_sync_limit(name)
    return sorted(deleted)


def share_sync_slot(name: str) -> list[str]:
    """Point every sync deployment of the integration at its one concurrency limit `sync:<name>` (limit 1, made when
    missing), so that a sync arriving while another runs waits in Prefect before it starts: Scheduled /
    AwaitingConcurrencySlot with ENQUEUE, Cancelled with CANCEL_NEW (each deployment keeps its own strategy). The limit
    of its own that `prefect deploy` gave a deployment is deleted once no run holds it. Returns the sharers'
    `flow/deployment`, sorted."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    sharing = []
    with get_client(sync_client=True) as client:
        shared = _ensure_sync_limit(client, name)
        for label, deployment in _tagged_deployments(name):
            if SYNC_TAG not in deployment.tags:
                continue
            if not _shares_sync_slot(deployment, name):
                _point_at_limit(client, deployment.id, shared)
            try:
                own = client.read_global_concurrency_limit_by_name(OWN_LIMIT.format(id=deployment.id))
            except ObjectNotFound:
                own = None
            if own is not None and own.active_slots == 0:  # a held one goes at a later deploy, once its run ended
                client.delete_global_concurrency_limit_by_name(own.name)
            sharing.append(label)
    return sorted(sharing)


def delete_sync_limit(name: str) -> bool:
    """Delete the integration's sync slot `sync:<name>` unless a run holds it (Prefect could not release a deleted
    slot when that run ends). False when it is held and left: call again once the run ended (retiring waits for it)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    check_block_names([name])
    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(SYNC_LIMIT.format(name=name))
            if limit.active_slots > 0:
                return False
            client.delete_global_concurrency_limit_by_name(limit.name)
        except ObjectNotFound:
            pass
    return True


def _ensure_sync_limit(client, name: str) -> UUID:
    """The id of the integration's sync slot, made with limit 1 when missing and set back to 1 (active) when changed."""
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    limit_name = SYNC_LIMIT.format(name=name)
    try:
        limit = client.read_global_concurrency_limit_by_name(limit_name)
    except ObjectNotFound:
        try:
            return client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=limit_name, limit=1))
        except ObjectAlreadyExists:  # a deploy running beside this one made it first
            limit = client.read_global_concurrency_limit_by_name(limit_name)
    if limit.limit != 1 or not limit.active:
        client.update_global_concurrency_limit(limit_name, GlobalConcurrencyLimitUpdate(limit=1, active=True))
    return limit.id


def _shares_sync_slot(deployment, name: str) -> bool:
    limit = deployment.global_concurrency_limit
    return limit is not None and limit.name == SYNC_LIMIT.format(name=name)


def _point_at_limit(client, deployment_id: UUID, limit_id: UUID | None) -> None:
    """Set the deployment's concurrency limit to an existing global one (None: to none), which Prefect 3.8.8's REST
    API takes (`global_concurrency_limit_id`) but neither its client nor `prefect deploy` sets."""
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    try:
        client.request("PATCH", "/deployments/{id}", path_params={"id": deployment_id},
                       json={"global_concurrency_limit_id": str(limit_id) if limit_id else None})
    except PrefectHTTPStatusError as failure:
        if failure.response.status_code == 404:
            raise ObjectNotFound(http_exc=failure) from None
        raise


def _tagged_deployments(name: str) -> list[tuple[str, DeploymentResponse]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags

    check_block_names([name])
    tagged = DeploymentFilter(tags=DeploymentFilterTags(all_=[INTEGRATION_TAG.format(name=name)]))
    with get_client(sync_client=True) as client:
        deployments = client.read_deployments(deployment_filter=tagged)
        flows = {flow_id: client.read_flow(flow_id).name for flow_id in {d.flow_id for d in deployments}}
    return [(f"{flows.get(d.flow_id, d.flow_id)}/{d.name}", d) for d in deployments
            if (d.parameters or {}).get("integration") == name]


def start_initial_sync(name: str, enrolled_block: UUID | None, *, as_subflow: bool = False) -> FlowRun:
    """A run of the integration's initial sync deployment, created now (not waited for).

    With the id of the block just created, the run is created once per block: the CLI that saved the block and the
    `enroll` flow its creation triggers get the same run."""
    from prefect.deployments import run_deployment

    check_block_names([name])
    key = f"enroll:{name}:{enrolled_block}" if enrolled_block else None
    return run_deployment(INITIAL_SYNC.format(name=name), parameters={"integration": name}, timeout=0,
                          idempotency_key=key, as_subflow=as_subflow)


def run_url(run: FlowRun) -> str:
    """Where to watch a flow run: its page in the Prefect UI, else the command that shows it."""
    from prefect.settings import PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    return f"{ui}/runs/flow-run/{run.id}" if ui else f"prefect flow-run inspect {run.id}"


def retire_on_platform(name: str, say: Callable[[str], None] = lambda line: None) -> Retirement:
    """Mark the integration removed on the platform of PMSYNC_DATABASE_URL and every row of it inactive, once its
    running sync is over (`say` hears that it waits)."""
    from pmsync.platform import make_engine
    from pmsync.platform_settings import PlatformSettings
    from pmsync.retirement import retire_integration

    check_block_names([name])
    engine = make_engine(PlatformSettings().database_url)
    try:
        return retire_integration(engine, name, say=say)
    finally:
        engine.dispose()


def reinstate_on_platform(name: str) -> Reinstatement:
    """Clear the integration's removal on the platform of PMSYNC_DATABASE_URL (its rows active again)."""
    from pmsync.platform import make_engine
    from pmsync.platform_settings import PlatformSettings
    from pmsync.retirement import reinstate_integration

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
    return f"{retirement.name} removed from the platform{when}; its rows are kept, marked inactive: {rows}"


def reinstatement_text(reinstatement: Reinstatement) -> str:
    """One line of what reinstating did on the platform."""
    if not reinstatement.was_removed:
        return f"{reinstatement.name} is not removed on the platform: nothing to reinstate"
    rows = ", ".join(f"{table} {count}" for table, count in reinstatement.rows.items()) or "none"
    return f"{reinstatement.name} reinstated on the platform; rows active again: {rows} (its next sync reapplies them all)"
