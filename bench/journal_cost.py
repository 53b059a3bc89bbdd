"""The change journal's cost on the 1 % delta, measured A/B: deltas with and without journaling, interleaved on one
portfolio, so a busy machine weighs on both alike. `make bench` runs it on each portfolio it measures; alone:
`python -m bench.journal_cost --units 100000`."""

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

ROUNDS = 6
JOURNAL = "journal"
NO_JOURNAL = "no journal"
Samples = dict[str, list[tuple[float, float, float]]]
"""{"journal": [(wall s, CPU s, s inside the journal's writes)…], "no journal": […]}, one per round, in round order."""


def measure_synced(root_url: str, platform_url: str, rounds: int = ROUNDS, share: float = 0.01, progress=print) -> Samples:
    """A/B deltas in this process on a portfolio already synced into `platform_url` from the sandbox at `root_url`:
    each round touches `share` of the changed entities before each of its two deltas (a new sample each time: touching
    a record twice within a second would not change it), journaled and not, in alternating order (ABBA…). The process's environment is restored afterwards."""
    kept_environment = dict(os.environ)
    os.environ.update(sync_environment(platform_url, root_url, ""))
    os.environ.pop("PREFECT_API_URL")
    keep = journal.record
    inside = [0.0]

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return keep(*args, **kwargs)
        finally:
            inside[0] += time.perf_counter() - started

    samples: Samples = {JOURNAL: [], NO_JOURNAL: []}
    try:
        from pmsync.jobs import JOBS

        change_source(root_url, "touch", CHANGED_ENTITIES, share, seed=1000)
        JOBS["delta-sync"]()  # unmeasured: the first in-process delta pays this process's imports and warm-up
        for round_number in range(rounds):
            for mode in ((JOURNAL, NO_JOURNAL) if round_number % 2 == 0 else (NO_JOURNAL, JOURNAL)):
                change_source(root_url, "touch", CHANGED_ENTITIES, share, seed=1001 + sum(map(len, samples.values())))
                journal.record = timed if mode == JOURNAL else _not_journaled
                inside[0] = 0.0
                wall, cpu = time.perf_counter(), time.process_time()
                JOBS["delta-sync"]()
                samples[mode].append((time.perf_counter() - wall, time.process_time() - cpu, inside[0]))
                journal.record = keep
                progress(f"  journal A/B round {round_number + 1} {mode}: {samples[mode][-1][0]:.2f} s wall, "
                         f"{samples[mode][-1][1]:.2f} s CPU, {inside[0]:.3f} s writing the journal")
    finally:
        journal.record = keep
        os.environ.clear()
        os.environ.update(kept_environment)
    return samples


def _not_journaled(*args, **kwargs) -> None:
    return None


def measure(units: int, database: str, rounds: int, postgres_url: str, progress=print) -> Samples:
    """A fresh portfolio of `units` on `database`, synced in full, then `measure_synced`."""
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
                return measure_synced(root_url, platform_url, rounds, progress=progress)
        finally:
            if database == "postgresql":
                drop_postgres_database("pmsync_bench_journal", postgres_url)


def paired_overhead(samples: Samples) -> float:
    """The median over rounds of (journaled delta ÷ the same round's unjournaled delta) − 1: each pair ran back to
    back, so a load that comes and goes weighs on both."""
    return statistics.median(on[0] / off[0] for on, off in zip(samples[JOURNAL], samples[NO_JOURNAL])) - 1


def medians(samples: Samples, mode: str) -> tuple[float, float, float]:
    """Median wall, CPU and journal-writing seconds of one mode."""
    return tuple(statistics.median(sample[index] for sample in samples[mode]) for index in range(3))


TABLE_HEADER = [
    "| units | database | rounds | no journal: wall s | journal: wall s | wall (medians) | wall (paired median) | "
    "no journal: CPU s | journal: CPU s | inside the journal's writes: s (share of the delta) |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
]


def table_row(units: int, database: str, samples: Samples) -> str:
    """One markdown row of TABLE_HEADER."""
    (wall_on, cpu_on, writing), (wall_off, cpu_off, _) = medians(samples, JOURNAL), medians(samples, NO_JOURNAL)
    return (f"| {units:,} | {database} | {len(samples[JOURNAL])} | {wall_off:.2f} | {wall_on:.2f} | "
            f"{(wall_on / wall_off - 1):+.1%} | {paired_overhead(samples):+.1%} | {cpu_off:.2f} | {cpu_on:.2f} | "
            f"{writing:.3f} ({writing / wall_on:.1%}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--postgres-url", default=os.environ.get("PMSYNC_BENCH_POSTGRES_URL", POSTGRES_URL))
    arguments = parser.parse_args()
    rows = [table_row(arguments.units, database, measure(arguments.units, database, arguments.rounds, arguments.postgres_url))
            for database in arguments.databases.split(",")]
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("\n".join(TABLE_HEADER + rows))


if __name__ == "__main__":
    main()
