"""A Buildium portfolio on one database (issue 26): its floor, initial sync, a delta with nothing changed and one after
1 % changed, at one request rate for all of them."""

from __future__ import annotations

import os
from pathlib import Path

import requests

from bench.buildium_floor import measure_buildium_floor
from bench.commands import newest_run_id
from bench.portfolio import (Operation, PortfolioResult, change_source, drop_postgres_database, fresh_database,
                             last_run, run_command)
from bench.processes import BIN, Service, free_port
from pmsync.source.buildium.rules import BUILDIUM_STREAMS
from sandbox.buildium import CONTROL_PATH, buildium_sandbox_settings

SPEC_RATE = 10
"""Buildium's limit: 10 requests a second per account (also the sandbox's and pmsync's default)."""
LIFTED_RATE = 1000.0
"""pmsync's request budget when the sandbox's limit is lifted (a budget must be above zero): never reached."""
CHANGED_ENTITIES = ("rentals", "rentalunits", "leases", "workorders", "associationunits", "associationowners")
"""What a 1 % change touches in the Buildium sandbox: the records users edit, on both sides."""
LISTED_ENTITIES = tuple(stream.entities[0] for stream in BUILDIUM_STREAMS)
"""One entity per listing, so that a record is counted once (a lease also yields a resident)."""


def start_buildium_sandbox(units: int, rate: int, work: Path, timeout: float = 1800,
                           seed: int | None = None) -> tuple[Service, str]:
    """`pmsync sandbox serve --source buildium` of `units` units (of `seed`, else the sandbox's default) enforcing
    `rate` requests a second (0: none); returns it and its root URL (Buildium's paths begin with /v1)."""
    port = free_port()
    args = [str(BIN / "pmsync"), "sandbox", "serve", "--source", "buildium", "--port", str(port), "--size", str(units),
            "--rate-limit", str(rate), *(["--seed", str(seed)] if seed is not None else [])]
    root = f"http://127.0.0.1:{port}"
    log = work / f"buildium-{units}-{seed if seed is not None else 'default'}.log"
    return Service(args, f"{root}{CONTROL_PATH}/health", dict(os.environ), log, timeout), root


def rate_limited_so_far(root_url: str) -> int:
    """How many requests the sandbox has refused with 429 since it started."""
    return requests.get(f"{root_url}{CONTROL_PATH}/health", timeout=60).json()["rate_limited"]


def buildium_environment(platform_url: str, root_url: str, prefect_api: str, rate: int) -> dict[str, str]:
    """What a user's `pmsync` sees for a Buildium integration on the sandbox, at the bench's request rate."""
    return {
        **os.environ, **buildium_sandbox_settings(root_url), "PMSYNC_DATABASE_URL": platform_url,
        "PMSYNC_BUILDIUM_MAX_REQUESTS_PER_SECOND": str(rate or LIFTED_RATE),
        "PREFECT_API_URL": prefect_api, "PREFECT_LOGGING_LEVEL": "WARNING",
    }


def rate_label(rate: int) -> str:
    return f"{rate} requests/s (sandbox-enforced, pmsync's budget, the floor paced)" if rate else "no rate limit"


def measure_buildium_portfolio(units: int, database: str, work: Path, prefect_api: str, postgres_url: str,
                               rate: int = SPEC_RATE, changed_share: float = 0.01, progress=print) -> PortfolioResult:
    """Floor, initial sync, delta with nothing changed and delta after `changed_share`, all at `rate` requests a
    second (0: the sandbox's limit lifted, the floor unpaced, pmsync's budget out of reach)."""
    names = (f"pmsync_bench_buildium_floor_{units}", f"pmsync_bench_buildium_{units}")
    floor_url, platform_url = (fresh_database(database, name, work, postgres_url) for name in names)
    sandbox, root_url = start_buildium_sandbox(units, rate, work)
    where = f"Buildium {units:,} units, {database}"
    try:
        progress(f"{where}: floor at {rate_label(rate)}")
        floor = measure_buildium_floor(root_url, floor_url, rate or None)
        result = PortfolioResult(units, database, floor.records, source="buildium", rate=rate)
        result.operations.append(Operation(
            "floor", floor.seconds, floor.requests, floor.records, floor_ratio=1.0,
            note=f"fetch {floor.fetch_seconds:.1f} s + insert {floor.insert_seconds:.1f} s; "
                 f"{floor.too_many_requests} answered 429"))
        env = buildium_environment(platform_url, root_url, prefect_api, rate)

        def measured(name: str, args: list[str], note: str = "") -> None:
            progress(f"{where}: {name}")
            before, refused = newest_run_id(platform_url), rate_limited_so_far(root_url)
            command = run_command(args, env)
            requests_made, fetched, status = last_run(platform_url, before, LISTED_ENTITIES)
            if status != "succeeded":
                raise RuntimeError(f"{name} ended {status}:\n{command.output_tail}")
            refused = rate_limited_so_far(root_url) - refused
            result.operations.append(Operation(name, command.seconds, requests_made, fetched,
                                               command.peak_rss_bytes / 2**20, command.seconds / floor.seconds,
                                               "; ".join(filter(None, [note, f"{refused} answered 429"]))))

        measured("initial sync", ["sync", "initial"])
        measured("delta, nothing changed", ["sync", "delta"])
        touched = change_source(root_url, "touch", CHANGED_ENTITIES, changed_share)
        measured(f"delta, {changed_share:.0%} changed", ["sync", "delta"],
                 f"{touched:,} records touched in {', '.join(CHANGED_ENTITIES)}")
    finally:
        sandbox.stop()
        if database == "postgresql":
            for name in names:
                drop_postgres_database(name, postgres_url)
    return result
