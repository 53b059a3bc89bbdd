"""Fair schedules: each integration's minute offset is deterministic and fifty integrations spread over the first ten
minutes; `pmsync deploy --show` gives each block its own minutes (no Prefect server needed with --integration)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from prefect._vendor.croniter import croniter

from pmsync.schedules import SPREAD_MINUTES, minute_offset, staggered_cron
from tests.unit.test_cli_exit_codes import run_pmsync

REPO = Path(__file__).resolve().parents[2]
FIFTY = [f"company-{number:02d}" for number in range(1, 51)]
PROJECT_CRONS = ["2 * * * *", "30 23 * * *", "0 3 27 * *", "*/5 * * * *"]
"""The schedules of prefect.yaml (delta, leases, reconcile, sweep)."""


def test_the_offset_is_the_same_in_every_process_whatever_pythons_hash_seed():
    command = "from pmsync.schedules import minute_offset; print([minute_offset(n) for n in ('acme-west', 'acme-east')])"
    seen = {
        subprocess.run([sys.executable, "-c", command], env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)},
                       capture_output=True, text=True, check=True).stdout.strip()
        for seed in ("1", "2", "3")
    }

    assert seen == {str([minute_offset("acme-west"), minute_offset("acme-east")])} == {"[1, 4]"}


def test_fifty_integrations_spread_over_the_first_ten_minutes_no_minute_holding_more_than_twice_the_mean():
    per_minute = Counter(minute_offset(name) for name in FIFTY)

    assert set(per_minute) <= set(range(SPREAD_MINUTES))
    assert len(per_minute) == SPREAD_MINUTES
    assert max(per_minute.values()) <= 2 * len(FIFTY) / SPREAD_MINUTES


def test_staggered_crons_are_valid_and_fire_at_the_schedules_minute_plus_the_offset():
    top_of_hour = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
    for name in FIFTY:
        offset = minute_offset(name)
        delta, leases, reconcile, sweep = (staggered_cron(cron, name) for cron in PROJECT_CRONS)
        assert all(croniter.is_valid(cron) for cron in (delta, leases, reconcile, sweep)), name
        assert croniter(delta, top_of_hour).get_next(datetime).minute == 2 + offset
        assert (leases, reconcile) == (f"{30 + offset} 23 * * *", f"{offset} 3 27 * *")
        sweeps = croniter(sweep, top_of_hour - timedelta(seconds=1))
        assert [sweeps.get_next(datetime).minute for _ in range(12)] == list(range(offset % 5, 60, 5)), name


def test_minute_fields_that_are_not_one_minute_or_every_n_are_left_alone_and_a_late_minute_is_refused():
    assert staggered_cron("0,30 * * * *", "acme-west") == "0,30 * * * *"
    assert staggered_cron("* * * * *", "acme-west") == "* * * * *"
    assert staggered_cron("50 * * * *", "acme-west") == "51 * * * *"
    with pytest.raises(ValueError, match=r"minute 51 plus up to 9 minutes of offset leaves the hour; schedule it at minute 50"):
        staggered_cron("51 * * * *", "acme-west")
    with pytest.raises(ValueError, match="five-field"):
        staggered_cron("@hourly", "acme-west")


def test_deploy_show_gives_each_block_its_own_minutes_without_a_prefect_server():
    shown = run_pmsync("deploy", "--show", "--project-dir", str(REPO), "--integration", "acme-west",
                       "--integration", "acme-east", env={})

    assert shown.returncode == 0, shown.stderr[-2000:]
    crons = {
        deployment["name"]: [schedule["cron"] for schedule in deployment.get("schedules", [])]
        for deployment in yaml.safe_load(shown.stdout)["deployments"]
    }
    assert crons["delta-acme-west"] == ["3 * * * *"] and crons["delta-acme-east"] == ["6 * * * *"]
    assert crons["leases-acme-west"] == ["31 23 * * *"] and crons["leases-acme-east"] == ["34 23 * * *"]
    assert crons["sweep-acme-west"] == ["1-59/5 * * * *"] and crons["sweep-acme-east"] == ["4-59/5 * * * *"]
    assert crons["reconcile-acme-west"] == ["1 3 27 * *"] and crons["now-acme-west"] == []


def test_deploy_without_named_blocks_still_needs_the_server_that_lists_them():
    refused = run_pmsync("deploy", "--show", "--project-dir", str(REPO), env={})

    assert refused.returncode == 2 and "set PREFECT_API_URL" in refused.stderr
