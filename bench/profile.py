"""Profile `pmsync sync initial` (or a `sync delta` with nothing changed after it) with a running Prefect server, as `make bench` runs it.

    python -m bench.profile --units 10000 [--database sqlite|postgresql] [--operation initial|delta] [--out FILE]
                            [--source propertyware|buildium] [--buildium-rate 10]

pyinstrument (`--from-path pmsync sync initial`, text report) when it is installed, else cProfile (the 40 functions
with the most cumulative time). Prints the floor of the same portfolio (measured first, for scale), the wall time
under the profiler and the profile's path.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from bench.buildium import SPEC_RATE, buildium_environment, start_buildium_sandbox
from bench.buildium_floor import measure_buildium_floor
from bench.commands import checked
from bench.floor import measure_floor
from bench.portfolio import POSTGRES_URL, drop_postgres_database, fresh_database, sync_environment
from bench.processes import BIN, run_measured, start_prefect_server, start_sandbox

PROFILER_OPTIONS: list[str] = []
OPERATIONS = {"initial": ["sync", "initial"], "delta": ["sync", "delta"]}


def profiled_command(out: Path, command: list[str]) -> list[str]:
    """The profiler's command line around `pmsync <command>`, writing its report to `out`."""
    if importlib.util.find_spec("pyinstrument"):
        return [str(BIN / "pyinstrument"), "-r", "text", *PROFILER_OPTIONS, "-o", str(out), "--from-path", "pmsync", *command]
    return [sys.executable, "-m", "cProfile", "-o", str(out.with_suffix(".prof")), str(BIN / "pmsync"), *command]


def summarise_cprofile(raw: Path, out: Path, top: int = 40) -> None:
    with open(out, "w") as report:
        pstats.Stats(str(raw), stream=report).sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--operation", choices=tuple(OPERATIONS), default="initial",
                        help="delta: an unprofiled initial sync first, then the profiled delta with nothing changed")
    parser.add_argument("--source", choices=("propertyware", "buildium"), default="propertyware")
    parser.add_argument("--buildium-rate", type=int, default=SPEC_RATE,
                        help="requests a second the Buildium sandbox enforces, pmsync's budget and the floor's pace")
    parser.add_argument("--out", type=Path, default=None,
                        help="default: bench/profile-OPERATION-UNITS-DATABASE.txt (profile-buildium-… for Buildium)")
    options = parser.parse_args()
    operation = OPERATIONS[options.operation]
    buildium = options.source == "buildium"
    name = f"profile-{'buildium-' if buildium else ''}{options.operation}-{options.units}-{options.database}.txt"
    out = (options.out or Path("bench") / name).resolve()
    names = ("pmsync_profile_floor", "pmsync_profile")
    with tempfile.TemporaryDirectory(prefix="pmsync-profile-") as scratch:
        work = Path(scratch)
        floor_url, platform_url = (fresh_database(options.database, name, work, options.postgres_url) for name in names)
        prefect, api = start_prefect_server(work)
        if buildium:
            sandbox, root_url = start_buildium_sandbox(options.units, options.buildium_rate, work)
        else:
            sandbox, root_url = start_sandbox(options.units, True, work)
        try:
            if buildium:
                floor = measure_buildium_floor(root_url, floor_url, options.buildium_rate or None)
            else:
                floor = measure_floor(root_url, floor_url)
            print(f"floor: {floor.seconds:.1f} s (fetch {floor.fetch_seconds:.1f} s, insert {floor.insert_seconds:.1f} s), "
                  f"{floor.records:,} records")
            env = (buildium_environment(platform_url, root_url, api, options.buildium_rate) if buildium
                   else sync_environment(platform_url, root_url, api))
            env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
            if operation != OPERATIONS["initial"]:
                checked(run_measured([str(BIN / "pmsync"), *OPERATIONS["initial"]], env), OPERATIONS["initial"])
            command = profiled_command(out, operation)
            started = time.perf_counter()
            checked(run_measured(command, env), operation)
            print(f"pmsync {' '.join(operation)} under {Path(command[0]).name if 'pyinstrument' in command[0] else 'cProfile'}: "
                  f"{time.perf_counter() - started:.1f} s")
        finally:
            sandbox.stop()
            prefect.stop()
            if options.database == "postgresql":
                for name in names:
                    drop_postgres_database(name, options.postgres_url)
    if out.with_suffix(".prof").exists():
        summarise_cprofile(out.with_suffix(".prof"), out)
    print(f"profile: {out}")


if __name__ == "__main__":
    main()
