"""What `pmsync deploy` needs on a fresh Prefect server and makes when missing: pmsync's block types, the work pool."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from pmsync.one_line import one_line

BLOCKS_MODULE = "pmsync.integrations.blocks"
REGISTER_COMMAND = f"prefect block register -m {BLOCKS_MODULE}"
POOL_TYPE = "process"
"""The type of the work pool pmsync deploy creates: its workers run each flow in a process from this checkout."""
POOL_COMMAND = "prefect work-pool create {name} --type " + POOL_TYPE


class ServerUnreachable(Exception):
    """The Prefect server of PREFECT_API_URL does not answer; start it or point PREFECT_API_URL at one that runs."""


class SetupFailed(Exception):
    """The server answered but refused to take pmsync's block types or its work pool; the message names the command
    that does it by hand."""


def prepare_server(pools: list[str]) -> list[str]:
    """Register pmsync's block types and create the `pools` that are missing (type process), as
    `prefect block register -m pmsync.integrations.blocks` and `prefect work-pool create NAME --type process` would; one line per
    thing done, none when the server had everything."""
    check_reachable()
    done = []
    registered = register_block_types()
    if registered:
        done.append(f"registered block types: {', '.join(registered)}")
    done.extend(f"created work pool {name} ({POOL_TYPE})" for name in create_missing_pools(pools))
    return done


def check_reachable() -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    with get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
    if problem is not None:
        raise ServerUnreachable(
            f"the Prefect server at {PREFECT_API_URL.value()} does not answer ({type(problem).__name__}: "
            f"{one_line(str(problem))}); start it (`prefect server start`) or set PREFECT_API_URL to one that runs")


def register_block_types() -> list[str]:
    """Register every block class of pmsync.integrations.blocks (type and schema; idempotent); the slugs of those the server did
    not have, or had with another schema."""
    from prefect.blocks.core import Block
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    module = importlib.import_module(BLOCKS_MODULE)
    classes = [cls for _, cls in inspect.getmembers(module)
               if Block.is_block_class(cls) and cls.__module__ == BLOCKS_MODULE]
    registered = []
    try:
        for cls in classes:
            with get_client(sync_client=True) as client:
                try:
                    client.read_block_type_by_slug(cls.get_block_type_slug())
                    client.read_block_schema_by_checksum(cls._calculate_schema_checksum(),
                                                         version=cls.get_block_schema_version())
                except ObjectNotFound:
                    registered.append(cls.get_block_type_slug())
            cls.register_type_and_schema()
    except Exception as failure:
        raise SetupFailed(f"cannot register pmsync's block types ({type(failure).__name__}: "
                          f"{one_line(str(failure))}); run `{REGISTER_COMMAND}` from the pmsync checkout") from None
    return registered


def create_missing_pools(names: list[str]) -> list[str]:
    """Create each work pool of `names` the server lacks, with the process worker's default job template (what
    `prefect work-pool create NAME --type process` makes); the names created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    created = []
    for name in names:
        try:
            with get_client(sync_client=True) as client:
                try:
                    client.read_work_pool(name)
                    continue
                except ObjectNotFound:
                    pass
                template = ProcessWorker.get_default_base_job_template()
                try:
                    client.create_work_pool(WorkPoolCreate(name=name, type=POOL_TYPE, base_job_template=template))
                except ObjectAlreadyExists:
                    continue  # another deploy made it meanwhile
                created.append(name)
        except Exception as failure:
            raise SetupFailed(f"cannot create the work pool {name} ({type(failure).__name__}: "
                              f"{one_line(str(failure))}); create it with `{POOL_COMMAND.format(name=name)}`") from None
    return created


def work_pool_names(project: dict) -> list[str]:
    """The work pools prefect.yaml's deployments run on, in order of first use."""
    names = [(deployment.get("work_pool") or {}).get("name") for deployment in project.get("deployments", [])]
    return list(dict.fromkeys(name for name in names if name))


def project_work_pools(root: Path, project_file: str) -> list[str]:
    import yaml

    return work_pool_names(yaml.safe_load((root / project_file).read_text(encoding="utf-8")) or {})


def prepare_or_fail(root: Path, project_file: str) -> None:
    """prepare_server for the work pools of root's prefect.yaml, printing what it did; a failure is one `error:` line
    (exit 3 when the server does not answer)."""
    from pmsync.cli.common import EXIT_OTHER, EXIT_SOURCE_UNAVAILABLE, console, fail

    try:
        done = prepare_server(project_work_pools(root, project_file))
    except ServerUnreachable as failure:
        fail(str(failure), EXIT_SOURCE_UNAVAILABLE)
    except SetupFailed as failure:
        fail(str(failure), EXIT_OTHER)
    for line in done:
        console.print(line, highlight=False, soft_wrap=True)
