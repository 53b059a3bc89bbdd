"""Flow tests share one Prefect test harness (a real temporary Prefect server) per session."""

from __future__ import annotations

import pytest
from prefect.settings import PREFECT_SERVER_LOGGING_LEVEL, temporary_settings
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(autouse=True, scope="session")
def prefect_harness():
    with temporary_settings(updates={PREFECT_SERVER_LOGGING_LEVEL: "CRITICAL"}):
        with prefect_test_harness(server_startup_timeout=90):
            yield
