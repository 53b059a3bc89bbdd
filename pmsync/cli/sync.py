"""`pmsync sync …`: the initial, delta and lease syncs now, and a forced delta sync through its deployment."""

from __future__ import annotations

import typer

from pmsync.cli.bounded import bounded
from pmsync.cli.changes import print_run_changes
from pmsync.cli.common import EXIT_CONFIGURATION, INTEGRATION, console, fail, preflight, print_result, run_flow
from pmsync.cli.known_integrations import check_integration_known

FORCED_SYNC = "delta-sync/now"
sync_app = typer.Typer(no_args_is_help=True, help="Run a sync flow now, in this process.")


@sync_app.command("initial")
def sync_initial(integration: str | None = INTEGRATION) -> None:
    """Full pull of properties, units, leases, residents and work orders into the platform."""
    preflight(integration)
    print_result("initial sync", run_flow("initial-sync", integration=integration))


@sync_app.command("delta")
def sync_delta(
    integration: str | None = INTEGRATION,
    overlap_hours: float = typer.Option(
        72.0, callback=bounded("OverlapHours"),
        help="Hours before each stream's last complete pass to re-read: a finite number from 0 to 8760.",
    ),
) -> None:
    """Everything created or updated since the last complete pass (minus the overlap)."""
    preflight(integration)
    result = run_flow("delta-sync", integration=integration, overlap_hours=overlap_hours)
    print_result("delta sync", result)
    print_run_changes(result["run_id"])


@sync_app.command("now")
def sync_now(
    integration: str | None = INTEGRATION,
    local: bool = typer.Option(False, "--local", help="Run the delta sync in this process instead of on a worker."),
) -> None:
    """A forced delta sync now: triggers the integration's `delta-sync/now-<integration>` deployment (`pmsync deploy`),
    else `delta-sync/now`; it waits in Prefect (Scheduled, AwaitingConcurrencySlot) while a sync of the integration
    runs."""
    if local:
        sync_delta(integration=integration, overlap_hours=72.0)
        return
    from pmsync.parameters import IntegrationName, ParameterRejected, check_value

    try:
        check_value(IntegrationName | None, integration, "integration")
    except ParameterRejected as refused:
        fail(str(refused), EXIT_CONFIGURATION)
    check_integration_known(integration)
    import httpx
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
    from prefect.settings import PREFECT_UI_URL

    parameters = {"integration": integration} if integration else {}
    run = None
    for deployment in ([f"{FORCED_SYNC}-{integration}"] if integration else []) + [FORCED_SYNC]:
        try:
            run = run_deployment(deployment, parameters=parameters, timeout=0)
            break
        except ObjectNotFound:
            continue
        except (PrefectHTTPStatusError, httpx.HTTPError) as failure:
            fail(f"could not trigger {deployment} ({type(failure).__name__}: {failure}); deploy first or use --local")
    if run is None:
        fail(f"no {FORCED_SYNC} deployment on the Prefect server; deploy first (`pmsync deploy`) or use --local")
    watch = f"{PREFECT_UI_URL.value()}/runs/flow-run/{run.id}" if PREFECT_UI_URL.value() else f"prefect flow-run inspect {run.id}"
    console.print(f"forced sync queued as flow run {run.name} ({run.id}); watch it at {watch}", highlight=False, soft_wrap=True)


@sync_app.command("leases")
def sync_leases(integration: str | None = INTEGRATION) -> None:
    """All leases; existing leases are overwritten with the source's values."""
    preflight(integration)
    print_result("lease sync", run_flow("lease-sync", integration=integration))
