"""The fleet bench (issue 17) runs what it claims: every integration's initial sync and delta complete through real
workers, each integration lands its own units, and the report holds the measured rows; with Buildium integrations
among Propertyware ones (issue 26), in one platform database."""

from __future__ import annotations

import json

from bench.fleet import fleet_names, run_fleet
from tests.conftest import POSTGRES_URL

INTEGRATIONS, BUILDIUM, UNITS = 3, 1, 30


def test_fleet_bench_syncs_every_integration_and_reports_it(tmp_path, report_measurement):
    result = run_fleet(INTEGRATIONS, UNITS, [1], runs_per_worker=2, out_dir=tmp_path, postgres_url=POSTGRES_URL,
                       command="pmsync bench --integrations 3 --buildium-integrations 1 --units 30 --workers 1 "
                               "--batch-size 2",
                       progress=lambda line: None, buildium=BUILDIUM, batch_size=2)
    propertyware, buildium = fleet_names(INTEGRATIONS, BUILDIUM)
    names = propertyware + buildium
    assert len(propertyware) == 2 and buildium == ["fleet-buildium-1"]
    assert [(phase.name, phase.workers) for phase in result.phases] == [("initial", 1), ("delta", 1), ("delta batch", 1)]
    *per_integration, batch = result.phases
    assert [(run.state, run.integration) for run in batch.runs] == [
        ("COMPLETED", f"batch of {propertyware[0]}…{propertyware[1]}"), ("COMPLETED", f"batch of {buildium[0]}…{buildium[0]}")]
    assert batch.syncs == INTEGRATIONS and batch.traffic["flow runs"] == 2 + INTEGRATIONS  # a subflow per integration
    for phase in per_integration:
        assert [(run.integration, run.state) for run in phase.runs] == [(name, "COMPLETED") for name in names]
        assert phase.peak_connections > 0 and phase.seconds > 0
        assert len(phase.peak_rss_mb) == 1 and phase.peak_rss_mb[0] > 50
        assert phase.cpu_seconds["workers"] > 0 and phase.cpu_seconds["prefect server"] > 0
    assert result.deployments == 9 * INTEGRATIONS + 4, ("nine per integration; enroll, retire, delta-batch/hourly and "
                                                        "work-order-push/changed once")
    assert result.platform_units == {"1": result.expected_units}
    assert set(result.expected_units) == set(names) and all(0 < n <= UNITS for n in result.expected_units.values())

    report = (tmp_path / "FLEET.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| 1 | 2 | ")]
    assert [row.split(" | ")[2] for row in rows] == ["initial", "delta", "delta batch"]
    assert all(f"| {INTEGRATIONS}/{INTEGRATIONS} |" in row for row in rows[:2]) and "| 2/2 |" in rows[2]
    assert "### CPU per no-change delta (issue 27)" in report
    assert "1 of them Buildium accounts" in report
    assert "## What limits throughput" in report and "every run of every phase ended COMPLETED" in report
    assert (tmp_path / "fleet.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "fleet.json").read_text())["platform_units"] == {"1": result.expected_units}
    report_measurement(f"fleet bench, 3 × 30 units (1 Buildium), 1 worker: initial {result.phases[0].seconds:.1f} s, "
                       f"delta {result.phases[1].seconds:.1f} s, deploy {result.deploy_seconds:.1f} s")
