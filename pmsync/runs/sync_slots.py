"""One sync of an integration at a time, held by Prefect: every sync deployment of an integration (initial, delta,
now, leases, reconcile) points at one global concurrency limit of 1, so a sync arriving while another runs waits
before it starts (Scheduled / AwaitingConcurrencySlot with ENQUEUE, Cancelled with CANCEL_NEW), never Running on the
integration's platform lock; runs of other integrations, pushes, imports and balances are never held by it."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from pmsync.integrations.enrollment import check_block_names, tagged_deployments, with_labels

if TYPE_CHECKING:
    from prefect.client.schemas.responses import DeploymentResponse

SYNC_TAG = "sync"
"""prefect.yaml tags `sync` the deployments whose flows take the integration's platform lock (pmsync/runs/bookkeeping.py
LOCKED_FLOWS: initial, delta, now, leases, reconcile); pushes, imports and balances are not."""
SYNC_LIMIT = "sync:{name}"
"""The integration's one Prefect concurrency slot, shared by all its sync deployments."""
ENVIRONMENT_SYNC_LIMIT = "sync"
"""The slot of the sync deployments `prefect deploy --all` makes from prefect.yaml as written: they sync the workers'
environment integration (a block's slot is always `sync:<block>`)."""
OWN_LIMIT = "deployment:{id}"
"""The name Prefect gives the limit of a deployment's own (what `prefect deploy` makes of a `concurrency_limit`)."""
SLOT_RELEASE_WAIT_SECONDS = 30.0
"""How long removal waits, once the integration's last sync released its lock, for that run to release its slot."""


def share_sync_slot(name: str) -> list[str]:
    """Point every sync deployment of the integration at its one concurrency limit `sync:<name>` (limit 1, made when
    missing), so that a sync arriving while another runs waits in Prefect before it starts: Scheduled /
    AwaitingConcurrencySlot with ENQUEUE, Cancelled with CANCEL_NEW (each deployment keeps its own strategy). Returns
    the sharers' `flow/deployment`, sorted."""
    sync = [(label, deployment) for label, deployment in tagged_deployments(name) if SYNC_TAG in deployment.tags]
    return _share_slot(SYNC_LIMIT.format(name=name), sync)


def share_environment_sync_slot(names: list[str]) -> list[str]:
    """The same for the sync deployments that `prefect deploy --all` made from prefect.yaml as written (`names`, with
    no `integration` parameter: they sync the workers' environment integration), sharing ENVIRONMENT_SYNC_LIMIT."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    named = DeploymentFilter(name=DeploymentFilterName(any_=names))
    with get_client(sync_client=True) as client:
        found = [d for d in client.read_deployments(deployment_filter=named) if SYNC_TAG in d.tags
                 and "integration" not in (d.parameters or {}) and not any(t.startswith("integration:") for t in d.tags)]
        sync = with_labels(client, found)
    return _share_slot(ENVIRONMENT_SYNC_LIMIT, sync)


def _share_slot(limit_name: str, deployments: list[tuple[str, DeploymentResponse]]) -> list[str]:
    """Point the deployments at the limit `limit_name` (limit 1, made when missing, not for none); the limit of its own
    that `prefect deploy` gave one is deleted once no run holds it (a held one at a later deploy, once its run ended)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    if not deployments:
        return []
    with get_client(sync_client=True) as client:
        shared = _ensure_limit_of_one(client, limit_name)
        for _, deployment in deployments:
            if not _shares(deployment, limit_name):
                _point_at_limit(client, deployment.id, shared)
            try:
                own = client.read_global_concurrency_limit_by_name(OWN_LIMIT.format(id=deployment.id))
            except ObjectNotFound:
                continue
            if own.active_slots == 0:
                client.delete_global_concurrency_limit_by_name(own.name)
    return sorted(label for label, _ in deployments)


def delete_sync_limit(name: str, wait_seconds: float = 0.0) -> bool:
    """Delete the integration's sync slot `sync:<name>` once no run holds it (Prefect could not release a deleted slot
    when that run ends), waiting up to `wait_seconds` for that: a run that released the integration's lock releases
    its slot a moment later, when its final state is set. False when it is still held and left: call again later."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    check_block_names([name])
    deadline = time.monotonic() + wait_seconds
    with get_client(sync_client=True) as client:
        while True:
            try:
                limit = client.read_global_concurrency_limit_by_name(SYNC_LIMIT.format(name=name))
                if limit.active_slots == 0:
                    client.delete_global_concurrency_limit_by_name(limit.name)
                    return True
            except ObjectNotFound:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(1)


def leave_sync_slot(client, deployment: DeploymentResponse, name: str) -> None:
    """Point the integration's deployment at no limit if it shares the integration's slot: deleting it then leaves
    the slot (Prefect deletes a deployment's limit with it, even one a run holds)."""
    if _shares(deployment, SYNC_LIMIT.format(name=name)):
        _point_at_limit(client, deployment.id, None)


def _ensure_limit_of_one(client, limit_name: str) -> UUID:
    """The id of the global concurrency limit `limit_name`, made with limit 1 when missing and set back to 1 (active)
    when changed."""
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

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


def _shares(deployment: DeploymentResponse, limit_name: str) -> bool:
    limit = deployment.global_concurrency_limit
    return limit is not None and limit.name == limit_name


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

