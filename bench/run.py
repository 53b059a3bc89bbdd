"""`pmsync bench`: every portfolio size on every database in one run, one Prefect server, one report."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from bench.portfolio import PortfolioResult, measure_portfolio
from bench.processes import start_prefect_server
from bench.report import write_report

DATABASES = ("sqlite", "postgresql")


def run_bench(units: list[int], databases: list[str], out_dir: Path, postgres_url: str, ledger: bool = True,
              command: str = "pmsync bench", progress=print) -> list[PortfolioResult]:
    """Measures each size on each database; writes REPORT.md, scaling.png and results.json into `out_dir`."""
    unknown = set(databases) - set(DATABASES)
    if unknown:
        raise ValueError(f"unknown databases {', '.join(sorted(unknown))}; use {', '.join(DATABASES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    results: list[PortfolioResult] = []
    with tempfile.TemporaryDirectory(prefix="pmsync-bench-") as scratch:
        work = Path(scratch)
        prefect, api = start_prefect_server(work)
        with prefect:
            for size in sorted(units):
                for database in databases:
                    results.append(measure_portfolio(size, database, work, api, postgres_url, ledger, progress=progress))
                    (out_dir / "results.json").write_text(json.dumps([r.as_dict() for r in results], indent=2))
    write_report(results, command, out_dir / "REPORT.md", out_dir / "scaling.png", (load_before, os.getloadavg()[0]))
    return results
