"""Repeated quiet deltas of one portfolio: wall and CPU seconds of each `pmsync sync delta` with nothing changed.

    python -m bench.quiet_delta [--source buildium|propertyware] [--units 10000] [--database sqlite|postgresql]
                                [--runs 5] [--keep ENV_FILE]

A fresh sandbox, a running Prefect server and an initial sync (untimed), then `--runs` deltas with nothing changed,
each run as users run it (a child process); prints each one's wall seconds, the CPU seconds of its process (user +
system, children included) and the source requests its run made. Cheaper than `pmsync bench` for a change that touches
only the quiet delta; `--keep FILE` writes the environment (`export …` lines) and waits for Ctrl-C or SIGTERM
(then stops its servers), for
`python -X importtime` or a profiler by hand.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import signal
import statistics
import tempfile
import time
from pathlib import Path

from bench.buildium import LISTED_ENTITIES as BUILDIUM_LISTED
from bench.buildium import SPEC_RATE, buildium_environment, rate_limited_so_far, start_buildium_sandbox
from bench.commands import newest_run_id
from bench.portfolio import (LISTED_ENTITIES, POSTGRES_URL, drop_postgres_database, fresh_database, last_run,
                             run_command, sync_environment)
from bench.processes import BIN, start_prefect_server, start_sandbox


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("propertyware", "buildium"), default="buildium")
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="write the environment here and wait for Ctrl-C")
    options = parser.parse_args()
    buildium = options.source == "buildium"
    name = f"pmsync_quiet_delta_{options.source}_{options.units}"
    with tempfile.TemporaryDirectory(prefix="pmsync-quiet-delta-") as scratch:
        work = Path(scratch)
        platform_url = fresh_database(options.database, name, work, options.postgres_url)
        prefect, api = start_prefect_server(work)
        sandbox, root_url = (start_buildium_sandbox(options.units, SPEC_RATE, work) if buildium
                             else start_sandbox(options.units, True, work))
        try:
            env = (buildium_environment(platform_url, root_url, api, SPEC_RATE) if buildium
                   else sync_environment(platform_url, root_url, api))
            env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
            listed = BUILDIUM_LISTED if buildium else LISTED_ENTITIES
            started = time.perf_counter()
            run_command(["sync", "initial"], env)
            print(f"{options.source} {options.units:,} units, {options.database}: initial sync "
                  f"{time.perf_counter() - started:.1f} s (load {os.getloadavg()[0]:.1f})", flush=True)
            walls, cpus = [], []
            for number in range(1, options.runs + 1):
                before, cpu_before = newest_run_id(platform_url), children_cpu_seconds()
                refused = rate_limited_so_far(root_url) if buildium else 0
                load = os.getloadavg()[0]
                command = run_command(["sync", "delta"], env)
                cpu = children_cpu_seconds() - cpu_before
                requests_made, fetched, status = last_run(platform_url, before, listed)
                refused = (rate_limited_so_far(root_url) - refused) if buildium else 0
                walls.append(command.seconds)
                cpus.append(cpu)
                print(f"delta {number}: {command.seconds:.2f} s wall, {cpu:.2f} CPU-s, {requests_made} requests, "
                      f"{fetched} fetched, {status}, {refused} answered 429, load {load:.1f}", flush=True)
            if walls:
                print(f"median {statistics.median(walls):.2f} s wall (min {min(walls):.2f}), "
                      f"{statistics.median(cpus):.2f} CPU-s")
            if options.keep:
                exported = {key: env[key] for key in env if key.startswith(("PMSYNC_", "PREFECT_")) or key == "PATH"}
                options.keep.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in exported.items()))
                print(f"environment in {options.keep}; Ctrl-C (or SIGTERM) ends", flush=True)
                signal.signal(signal.SIGTERM, signal.default_int_handler)  # a background job ignores Ctrl-C
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    pass
        finally:
            sandbox.stop()
            prefect.stop()
            if options.database == "postgresql":
                drop_postgres_database(name, options.postgres_url)


if __name__ == "__main__":
    main()
