"""`pmsync bench`: every portfolio size on every database in one run, one Prefect server, one report."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from bench.buildium import SPEC_RATE, measure_buildium_portfolio
from bench.portfolio import PortfolioResult, measure_portfolio
from bench.processes import start_prefect_server
from bench.report import write_report

DATABASES = ("sqlite", "postgresql")
SOURCES = ("propertyware", "buildium")
BUILDIUM_UNITS = (10_000,)
"""Buildium's size in a run of both sources (issue 26 sets its targets at 10,000 units)."""


def run_bench(units: list[int], databases: list[str], out_dir: Path, postgres_url: str, ledger: bool = True,
              command: str = "pmsync bench", progress=print, sources: tuple[str, ...] = ("propertyware",),
              buildium_units: list[int] | None = None, buildium_rate: int = SPEC_RATE) -> list[PortfolioResult]:
    """Measures each size on each database, per source (Buildium at `buildium_units`, else at `units`); writes
    REPORT.md, scaling.png and results.json into `out_dir`. A run of Buildium alone rewrites only REPORT.md's
    Buildium section and results.json's Buildium entries."""
    unknown = (set(databases) - set(DATABASES)) | (set(sources) - set(SOURCES))
    if unknown:
        raise ValueError(f"unknown databases or sources {', '.join(sorted(unknown))}; use {', '.join(DATABASES)} "
                         f"and {', '.join(SOURCES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    results: list[PortfolioResult] = []
    kept = kept_results(out_dir / "results.json") if "propertyware" not in sources else []
    with tempfile.TemporaryDirectory(prefix="pmsync-bench-") as scratch:
        work = Path(scratch)
        prefect, api = start_prefect_server(work)
        with prefect:
            for size in sorted(units) if "propertyware" in sources else []:
                for database in databases:
                    results.append(measure_portfolio(size, database, work, api, postgres_url, ledger, progress=progress))
                    write_results(out_dir, kept, results)
            for size in sorted(buildium_units or units) if "buildium" in sources else []:
                for database in databases:
                    results.append(measure_buildium_portfolio(size, database, work, api, postgres_url, buildium_rate,
                                                              progress=progress))
                    write_results(out_dir, kept, results)
    write_report(results, command, out_dir / "REPORT.md", out_dir / "scaling.png", (load_before, os.getloadavg()[0]))
    return results


def kept_results(path: Path) -> list[dict]:
    """results.json's entries a Buildium-only run keeps: every portfolio not of Buildium."""
    if not path.exists():
        return []
    return [entry for entry in json.loads(path.read_text()) if entry.get("source", "propertyware") != "buildium"]


def write_results(out_dir: Path, kept: list[dict], results: list[PortfolioResult]) -> None:
    (out_dir / "results.json").write_text(json.dumps(kept + [r.as_dict() for r in results], indent=2))
