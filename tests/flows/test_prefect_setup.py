"""`pmsync deploy`'s set-up of a Prefect server (the test harness's, a real one): a missing work pool is created as
`prefect work-pool create NAME --type process` makes it, once; pmsync's block types are registered; a pool the server
refuses fails naming the command that makes it by hand."""

from __future__ import annotations

import uuid

import pytest
from prefect.client.orchestration import get_client
from prefect.workers.process import ProcessWorker

from pmsync.integrations.blocks import BuildiumIntegration, PropertywareIntegration
from pmsync.cli.prefect_setup import POOL_TYPE, SetupFailed, create_missing_pools, prepare_server

BLOCK_TYPES = sorted(block.get_block_type_slug() for block in (BuildiumIntegration, PropertywareIntegration))

pytestmark = pytest.mark.flow


def test_a_missing_work_pool_and_the_block_types_are_made_once():
    """The block types missing on the harness's server (tests before this one on its worker may have registered some)
    are named on one line; afterwards every one is there."""
    pool = f"pmsync-{uuid.uuid4().hex[:8]}"
    first = prepare_server([pool])
    assert first[-1] == f"created work pool {pool} (process)"
    assert BLOCK_TYPES == ["buildium-integration", "propertyware-integration"]
    said = [line.removeprefix("registered block types: ").split(", ") for line in first[:-1]]
    assert len(said) <= 1 and all(slugs and slugs == sorted(set(slugs) & set(BLOCK_TYPES)) for slugs in said), first
    with get_client(sync_client=True) as client:
        made = client.read_work_pool(pool)
        assert [client.read_block_type_by_slug(slug).slug for slug in BLOCK_TYPES] == BLOCK_TYPES
    assert made.type == POOL_TYPE and not made.is_paused
    assert made.base_job_template == ProcessWorker.get_default_base_job_template()
    assert prepare_server([pool]) == []  # nothing missing: nothing said


def test_a_pool_the_server_refuses_names_the_command_that_makes_it():
    with pytest.raises(SetupFailed) as refused:
        create_missing_pools(["prefect-reserved"])
    message = str(refused.value)
    assert "\n" not in message and "reserved" in message
    assert message.endswith("create it with `prefect work-pool create prefect-reserved --type process`")
