"""Measure `pmsync import owners` on large files: wall time and peak memory (RSS), which must not grow with the file.

Starts a Prefect server in a subprocess, registers the integration on a fresh platform, writes owners files of
--small and --rows rows, and runs each import in a child process whose process tree's peak RSS is sampled: the small
file, the large one, the large one again (nothing changes), and the large one with 1 % bad rows (rejected).

    python -m bench.csv_import_cost --rows 100000 [--small 10000] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from pydantic import SecretStr

from bench.processes import BIN, run_measured, start_prefect_server
from pmsync.integrations.integration import Integration
from pmsync.platform.database import make_engine, migrate
from pmsync.runs.bookkeeping import ensure_integration


def write_owners(path: Path, rows: int, bad_every: int = 0) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("owner_id,first_name,last_name,company,email,phone,group\r\n")
        for n in range(1, rows + 1):
            email = "broken@@example" if bad_every and n % bad_every == 0 else f"owner{n}@example.com"
            out.write(f'{100_000 + n},First{n},Last{n},"Holdings {n}, LLC",{email},+1 555 {n % 10_000:04d},\r\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="platform database (default: a fresh SQLite file)")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pmsync-bench-"))
    env = {
        **os.environ,
        "PMSYNC_DATABASE_URL": options.database_url or f"sqlite:///{work / 'platform.db'}",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    engine = make_engine(env["PMSYNC_DATABASE_URL"])
    migrate(engine)
    with engine.begin() as connection:
        ensure_integration(connection, Integration("default", "http://unused", "id", SecretStr("s"), "1", "u@example.com"))
    small, large, bad = work / "small.csv", work / "large.csv", work / "bad.csv"
    write_owners(small, options.small)
    write_owners(large, options.rows)
    write_owners(bad, options.rows, bad_every=100)
    server, env["PREFECT_API_URL"] = start_prefect_server(work)
    with server:
        for label, path in ((f"{options.small} rows", small), (f"{options.rows} rows", large),
                            (f"{options.rows} rows again (unchanged)", large),
                            (f"{options.rows} rows, 1 % bad (rejected)", bad)):
            result = run_measured([str(BIN / "pmsync"), "import", "owners", str(path)], env)
            print(f"import owners, {label}: {result.seconds:.1f} s wall, peak RSS {result.peak_rss_bytes / 2**20:.0f} MiB "
                  f"(exit {result.returncode})")


if __name__ == "__main__":
    main()
