"""A deployment file applied in this process by the steps `prefect --no-prompt deploy --all` takes, several deployments at
a time: a `prefect deploy` process spent most of its time starting up and then applied its deployments one by one."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DEPLOYMENTS_AT_ONCE = 4
"""Deployments applied at once: each one mostly waits on the server (two reads of the work pool, its flow, the
deployment, its trigger), so a few overlap well; more would only queue on a 2-core server."""


class PrefectDeployRefused(Exception):
    """Prefect's deploy steps stopped on a deployment; the message is what they said."""


def apply_deployment_file(prefect_file: Path, root: Path, timeout: float) -> None:
    """Every deployment of `prefect_file` created or updated as `prefect --no-prompt deploy --all --prefect-file FILE`
    run in `root` with PMSYNC_PROJECT_DIR=root makes it (entrypoints are relative to root; the file's `{{ $NAME }}`
    take this environment). Raises TimeoutError after `timeout` seconds, PrefectDeployRefused when a step refuses.

    The steps run on an event loop of their own, in a thread of their own, outside any Prefect flow or task run (the
    enrollment flow calls this from a task: in a run's context Prefect's `apply` would not return an awaitable)."""
    from prefect.context import FlowRunContext, TaskRunContext

    def outside_any_run() -> None:
        FlowRunContext.__var__.set(None)
        TaskRunContext.__var__.set(None)

    context = contextvars.copy_context()  # this one's Prefect settings, without its flow or task run
    context.run(outside_any_run)
    with _in_project(root), ThreadPoolExecutor(max_workers=1, thread_name_prefix="pmsync-deploy") as thread:
        thread.submit(context.run, asyncio.run, _apply_all(prefect_file, timeout)).result()


async def _apply_all(prefect_file: Path, timeout: float) -> None:
    from prefect.cli.deploy._config import _load_deploy_configs_and_actions, _pick_deploy_configs
    from prefect.cli.deploy._core import _run_single_deploy
    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectException
    from rich.console import Console

    console = Console(file=io.StringIO(), width=200)  # Prefect's panels and hints: nobody reads them here

    def never_interactive() -> bool:
        return False

    configs, actions = _load_deploy_configs_and_actions(prefect_file=prefect_file, console=console)
    configs = _pick_deploy_configs(configs, [], True, console=console, is_interactive=never_interactive)
    at_once = asyncio.Semaphore(DEPLOYMENTS_AT_ONCE)

    async with get_client() as client:

        async def apply(config: dict) -> None:
            async with at_once:
                try:
                    await _run_single_deploy(config, actions, client=client, prefect_file=prefect_file,
                                             console=console, is_interactive=never_interactive)
                except (ValueError, PrefectException) as refused:  # what `prefect deploy` ends on, with its message
                    raise PrefectDeployRefused(f"deployment {config.get('name')!r}: {refused}") from refused

        await asyncio.wait_for(asyncio.gather(*(apply(config) for config in configs)), timeout)


@contextlib.contextmanager
def _in_project(root: Path) -> Iterator[None]:
    """The working directory and PMSYNC_PROJECT_DIR `prefect deploy` had, restored afterwards."""
    previous_dir, previous_env = Path.cwd(), os.environ.get("PMSYNC_PROJECT_DIR")
    os.chdir(root)
    os.environ["PMSYNC_PROJECT_DIR"] = str(root)
    try:
        yield
    finally:
        os.chdir(previous_dir)
        if previous_env is None:
            os.environ.pop("PMSYNC_PROJECT_DIR", None)
        else:
            os.environ["PMSYNC_PROJECT_DIR"] = previous_env
