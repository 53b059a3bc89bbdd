"""`pmsync sync …`: the initial, delta and lease syncs now, and a forced delta sync through its deployment."""

from __future__ import annotations

import typer

from pmsync.cli.bounded import bounded
from pmsync.cli.changes import print_run_changes, run_of_flow_run
from pmsync.cli.common import EXIT_CONFIGURATION, INTEGRATION, console, fail, preflight, print_result, run_flow
from pmsync.cli.known_integrations import check_integration_known
from pmsync.sync.gate_process import start_gate_process

FORCED_SYNC = "delta-sync/now"
sync_app = typer.Typer(no_args_is_help=True, help="Run a sync flow now, in this process.")


@sync_app.command("initial")
def sync_initial(integration: str | None = INTEGRATION) -> None:
    """Full pull of properties, units, leases, residents and work orders into the platform."""
    preflight(integration)
    start_gate_process()  # GX loads in the quality gate's process while this one loads Prefect
    print_result("initial sync", run_flow("initial-sync", integration=integration))


WAIT_POLL_SECONDS = 2.0
"""How often `sync now --wait` asks the Prefect server whether its run has ended."""


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


@sync_app.command("batch")
def sync_batch(
    integrations: list[str] = typer.Argument(..., metavar="NAME...", help="The integration blocks to sync, each once."),
    concurrency: int = typer.Option(2, help="How many of them sync at once (1 to 8)."),
    start_within_minutes: float = typer.Option(
        50.0, help="Minutes after the batch's start during which an integration may still start; the rest are left "
                   "to the next run."),
) -> None:
    """The delta syncs of several integrations in this one process (the `delta-batch` flow): each its own locked run
    with its own record; one that fails holds up no other. Exit 1 naming those that did not sync."""
    for integration in integrations:
        preflight(integration)
    result = run_flow("delta-batch", integrations=integrations, concurrency=concurrency,
                      start_within_minutes=start_within_minutes)
    for name, synced in result["synced"].items():
        print_result(f"delta sync of {name}", synced)


@sync_app.command("now")
def sync_now(
    integration: str | None = INTEGRATION,
    local: bool = typer.Option(False, "--local", help="Run the delta sync in this process instead of on a worker."),
    wait: bool = typer.Option(False, "--wait", help="Wait until the queued run ends (behind a running sync of the "
                              "integration too), then print what it changed; a run that does not complete exits 1."),
) -> None:
    """A forced delta sync now: triggers the integration's `delta-sync/now-<integration>` deployment (`pmsync deploy`),
    else `delta-sync/now`; it waits in Prefect (Scheduled, AwaitingConcurrencySlot) while a sync of the integration
    runs."""
    if local:
        sync_delta(integration=integration, overlap_hours=72.0)
        return
    from pmsync.runs.parameters import IntegrationName, ParameterRejected, check_value

    try:
        check_value(IntegrationName | None, integration, "integration")
    except ParameterRejected as refused:
        fail(str(refused), EXIT_CONFIGURATION)
    check_integration_known(integration)
    import httpx
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
    from prefect.settings import PREFECT_UI_URL

    from pmsync.runs.names import run_name

    parameters = {"integration": integration} if integration else {}
    run = None
    for deployment in ([f"{FORCED_SYNC}-{integration}"] if integration else []) + [FORCED_SYNC]:
        try:
            run = run_deployment(deployment, parameters=parameters, timeout=0, flow_run_name=run_name("delta-sync", integration))
            break
        except ObjectNotFound:
            continue
        except (PrefectHTTPStatusError, httpx.HTTPError) as failure:
            fail(f"could not trigger {deployment} ({type(failure).__name__}: {failure}); deploy first or use --local")
    if run is None:
        fail(f"no {FORCED_SYNC} deployment on the Prefect server; deploy first (`pmsync deploy`) or use --local")
    watch = f"{PREFECT_UI_URL.value()}/runs/flow-run/{run.id}" if PREFECT_UI_URL.value() else f"prefect flow-run inspect {run.id}"
    console.print(f"forced sync queued as flow run {run.name} ({run.id}); watch it at {watch}", highlight=False, soft_wrap=True)
    if wait:
        _print_changes_when_done(run.id)


def _print_changes_when_done(flow_run_id) -> None:
    """Wait for the queued flow run to end, then print what its pmsync run changed (from the platform database this
    command is configured with: the worker's, when they share it)."""
    import time

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        while not (state := client.read_flow_run(flow_run_id).state) or not state.is_final():
            time.sleep(WAIT_POLL_SECONDS)
    if not state.is_completed():
        fail(f"the forced sync ended {state.name}: {state.message or 'see its logs in the Prefect UI'}")
    run_id = run_of_flow_run(str(flow_run_id))
    if run_id is None:
        fail("the forced sync completed, but this machine's platform database (PMSYNC_DATABASE_URL) has no run of it; "
             "run `pmsync changes` where the worker's database is")
    print_run_changes(run_id)


@sync_app.command("leases")
def sync_leases(integration: str | None = INTEGRATION) -> None:
    """All leases; existing leases are overwritten with the source's values."""
    preflight(integration)
    print_result("lease sync", run_flow("lease-sync", integration=integration))
