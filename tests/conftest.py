"""Shared fixtures: a platform database on SQLite and on PostgreSQL, and a sandbox source over HTTP."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from pmsync.platform.database import make_engine, normalise_url
from sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_INTEGRATION_USER,
    SANDBOX_SYSTEM_ID,
    SandboxServer,
)

POSTGRES_URL = os.environ.get("PMSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_database() -> Iterator[str]:
    admin = sa.create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    name = f"pmsync_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as unreachable:
        pytest.fail(
            f"PostgreSQL at {POSTGRES_URL} is required for the database tests ({unreachable.orig}); "
            "start it or set PMSYNC_TEST_POSTGRES_URL"
        )
    url = sa.engine.make_url(normalise_url(POSTGRES_URL)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def platform_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty platform database URL; every database test runs once on each engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'platform.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def platform_engine(platform_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(platform_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A small deterministic source on 127.0.0.1, fresh for each test (tests change its data)."""
    with SandboxServer(units=60, seed=7) as server:
        yield server


def source_env(platform_url: str, source: SandboxServer, **overrides: str) -> dict[str, str]:
    """The PMSYNC_* environment of an integration whose source is the sandbox `source`, on the test database; few,
    short retries."""
    return {
        "PMSYNC_DATABASE_URL": platform_url,
        "PMSYNC_PW_BASE_URL": source.base_url,
        "PMSYNC_PW_CLIENT_ID": SANDBOX_CLIENT_ID,
        "PMSYNC_PW_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "PMSYNC_PW_SYSTEM_ID": SANDBOX_SYSTEM_ID,
        "PMSYNC_INTEGRATION_USER": SANDBOX_INTEGRATION_USER,
        "PMSYNC_PW_MAX_ATTEMPTS": "3",
        "PMSYNC_PW_BACKOFF_SECONDS": "0.05",
        **overrides,
    }


@pytest.fixture
def integration_env(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, platform_url: str) -> dict[str, str]:
    """The PMSYNC_* environment of the default integration, pointed at the sandbox and the test database."""
    env = source_env(platform_url, sandbox)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


MEASUREMENTS: list[str] = []


@pytest.fixture
def report_measurement(request: pytest.FixtureRequest):
    """Record a figure for the end-of-run summary (measured, never asserted); it travels with the test's report, so
    the summary has it when an xdist worker ran the test."""
    return lambda line: request.node.user_properties.append(("measurement", line))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        MEASUREMENTS.extend(line for name, line in report.user_properties if name == "measurement")


def pytest_terminal_summary(terminalreporter) -> None:
    if MEASUREMENTS:
        terminalreporter.section("measurements")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)
