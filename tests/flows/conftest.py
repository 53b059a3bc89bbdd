"""Flow tests (marked `flow`) share one Prefect test harness (a real temporary Prefect server) per session; the other
tests here run the jobs with the plain steps, and the `pmsync` commands they start see no Prefect server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_SERVER_ALLOW_EPHEMERAL_MODE,
    PREFECT_SERVER_LOGGING_LEVEL,
    temporary_settings,
)
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    with temporary_settings(updates={PREFECT_SERVER_LOGGING_LEVEL: "CRITICAL"}):
        with prefect_test_harness(server_startup_timeout=90):
            yield


@pytest.fixture(autouse=True)
def prefect_server_for_flow_tests_only(request: pytest.FixtureRequest) -> Iterator[None]:
    """The first test marked `flow` starts the harness (a worker that runs none starts none). A test not marked runs
    with no Prefect server configured, whether or not an earlier test started the harness, and a flow it calls fails
    (no temporary server either): mark it `flow`, or call the job."""
    if request.node.get_closest_marker("flow"):
        request.getfixturevalue("prefect_harness")
        yield
    else:
        with temporary_settings(updates={PREFECT_SERVER_ALLOW_EPHEMERAL_MODE: False}, restore_defaults={PREFECT_API_URL}):
            yield
