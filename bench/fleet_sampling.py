"""What the fleet bench samples while syncs run: workers' peak RSS, the platform's connections, CPU per process group."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import sqlalchemy as sa

from bench.processes import tree_rss_bytes
from pmsync.platform.database import normalise_url

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 0.5


def process_table() -> dict[int, tuple[int, str, float, float]]:
    """pid → (parent pid, command name, CPU seconds of the process and of its reaped children, of the process alone)."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat_file:
                raw = stat_file.read()
        except OSError:
            continue
        name = raw[raw.index(b"(") + 1: raw.rindex(b")")].decode(errors="replace")
        fields = raw.rsplit(b")", 1)[1].split()
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
        own = int(fields[11]) + int(fields[12])
        table[int(entry.name)] = (int(fields[1]), name, ticks / CLOCK_TICKS, own / CLOCK_TICKS)
    return table


def tree_cpu_seconds(table: dict[int, tuple[int, str, float, float]], roots: list[int]) -> float:
    """CPU seconds of the live processes under `roots` (a process's reaped children are in its cutime/cstime, so an
    exited flow-run process still counts through the worker that waited for it)."""
    children: dict[int, list[int]] = {}
    for pid, (parent, *_) in table.items():
        children.setdefault(parent, []).append(pid)
    total, stack = 0.0, list(roots)
    while stack:
        pid = stack.pop()
        if pid in table:
            total += table[pid][2]
        stack.extend(children.get(pid, ()))
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat)."""
    values = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def cpu_by_group(groups: dict[str, list[int]], alone: dict[str, list[int]] | None = None) -> dict[str, float]:
    """Cumulative CPU seconds per group of process trees, and per group of `alone` processes without their children
    (a worker's own polling, apart from its flow-run processes); `postgres` is every process named postgres (the
    whole server, whichever database it works for); `machine` is every core's busy time."""
    table = process_table()
    totals = {name: tree_cpu_seconds(table, roots) for name, roots in groups.items()}
    totals |= {name: sum(table[pid][3] for pid in pids if pid in table) for name, pids in (alone or {}).items()}
    postgres = [pid for pid, (_, name, *_) in table.items() if name == "postgres"]
    postgres_roots = [pid for pid in postgres if table[pid][0] not in postgres]
    totals["postgres"] = tree_cpu_seconds(table, postgres_roots)
    totals["machine"] = machine_busy_seconds()
    return totals


@dataclass
class PhaseSamples:
    """Peaks seen while one phase ran."""

    peak_rss_bytes: list[int]
    peak_connections: int = 0
    samples: int = 0
    connection_timeline: list[tuple[float, int]] = field(default_factory=list)


class Sampler:
    """Every ~0.5 s: each worker's process-tree RSS and the platform database's connection count, until stopped."""

    def __init__(self, worker_pids: list[int], admin_url: str, platform_database: str):
        self.worker_pids = worker_pids
        self.samples = PhaseSamples([0] * len(worker_pids))
        self._admin = sa.create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT", pool_size=1)
        self._database = platform_database
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _connections(self, connection: sa.Connection) -> int:
        return connection.execute(sa.text("select count(*) from pg_stat_activity where datname = :name"),
                                  {"name": self._database}).scalar_one()

    def _run(self) -> None:
        import time

        started = time.monotonic()
        with self._admin.connect() as connection:  # on the admin database: the sampler is not counted
            while not self._done.is_set():
                for index, pid in enumerate(self.worker_pids):
                    self.samples.peak_rss_bytes[index] = max(self.samples.peak_rss_bytes[index], tree_rss_bytes(pid))
                count = self._connections(connection)
                self.samples.peak_connections = max(self.samples.peak_connections, count)
                self.samples.connection_timeline.append((round(time.monotonic() - started, 1), count))
                self.samples.samples += 1
                self._done.wait(SAMPLE_SECONDS)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()
        self._admin.dispose()
