"""The change journal's cost on the 1 % delta, measured A/B: deltas with and without journaling, interleaved on one
portfolio, so a busy machine weighs on both alike (`python -m bench.journal_cost --units 100000`)."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.portfolio import CHANGED_ENTITIES, POSTGRES_URL, change_source, drop_postgres_database, fresh_database, sync_environment
from bench.processes import start_sandbox
from pmsync.journal import record as journal

ROUNDS = 4


def measure(units: int, database: str, rounds: int, postgres_url: str, progress=print) -> dict[str, list[tuple]]:
    """{"journal": [(wall s, CPU s, s inside the journal's writes)…], "no journal": […]}: one 1 % delta each per round,
    in alternating order."""
    samples: dict[str, list[tuple]] = {"journal": [], "no journal": []}
    with tempfile.TemporaryDirectory(prefix="pmsync-journal-cost-") as scratch:
        work = Path(scratch)
        platform_url = fresh_database(database, "pmsync_bench_journal", work, postgres_url)
        sandbox, root_url = start_sandbox(units, True, work)
        try:
            with sandbox:
                os.environ.update(sync_environment(platform_url, root_url, ""))
                os.environ.pop("PREFECT_API_URL")
                from pmsync.jobs import JOBS

                progress(f"{units:,} units, {database}: initial sync")
                JOBS["initial-sync"]()
                JOBS["delta-sync"]()
                keep = journal.record
                inside = [0.0]

                def timed(*args, **kwargs):
                    started = time.perf_counter()
                    try:
                        return keep(*args, **kwargs)
                    finally:
                        inside[0] += time.perf_counter() - started
                for round_number in range(rounds):
                    for mode in (("journal", "no journal") if round_number % 2 == 0 else ("no journal", "journal")):
                        change_source(root_url, "touch", CHANGED_ENTITIES, 0.01)
                        journal.record = timed if mode == "journal" else (lambda *args, **kwargs: None)
                        inside[0] = 0.0
                        wall, cpu = time.perf_counter(), time.process_time()
                        JOBS["delta-sync"]()
                        samples[mode].append((time.perf_counter() - wall, time.process_time() - cpu, inside[0]))
                        journal.record = keep
                        progress(f"  round {round_number + 1} {mode}: {samples[mode][-1][0]:.2f} s wall, "
                                 f"{samples[mode][-1][1]:.2f} s CPU, {inside[0]:.3f} s writing the journal")
        finally:
            if database == "postgresql":
                drop_postgres_database("pmsync_bench_journal", postgres_url)
    return samples


def summary(units: int, database: str, samples: dict[str, list[tuple]]) -> str:
    """One markdown table row: medians of wall and CPU seconds with and without the journal, the overhead, and the
    median time spent inside the journal's writes (as a share of the journaled delta's wall time)."""
    (wall_on, cpu_on), (wall_off, cpu_off) = (
        (statistics.median(s[0] for s in samples[mode]), statistics.median(s[1] for s in samples[mode]))
        for mode in ("journal", "no journal")
    )
    writing = statistics.median(s[2] for s in samples["journal"])
    return (f"| {units:,} | {database} | {len(samples['journal'])} | {wall_off:.2f} | {wall_on:.2f} | "
            f"{(wall_on / wall_off - 1):+.1%} | {cpu_off:.2f} | {cpu_on:.2f} | {(cpu_on / cpu_off - 1):+.1%} | "
            f"{writing:.3f} ({writing / wall_on:.1%}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--postgres-url", default=os.environ.get("PMSYNC_BENCH_POSTGRES_URL", POSTGRES_URL))
    arguments = parser.parse_args()
    rows = [summary(arguments.units, database, measure(arguments.units, database, arguments.rounds, arguments.postgres_url))
            for database in arguments.databases.split(",")]
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| units | database | rounds | no journal: wall s | journal: wall s | wall | no journal: CPU s | journal: CPU s | CPU | inside the journal's writes: s (share) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
