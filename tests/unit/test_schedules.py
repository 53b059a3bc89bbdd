"""Push deployments run at most once a day (pushes start from events). Fair schedules: each integration's minute offset is deterministic and fifty integrations spread over the first ten
minutes; `pmsync deploy --show` gives each block its own minutes (no Prefect server needed with --integration)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from prefect._vendor.croniter import croniter
from prefect.events import DeploymentTriggerTypes, Event
from prefect.server.events.actions import RunDeployment
from prefect.utilities.schema_tools.hydration import HydrationContext, hydrate
from pydantic import TypeAdapter

from pmsync.runs.deployments import deployment_spec
from pmsync.runs.schedules import SPREAD_MINUTES, minute_offset, staggered_cron
from tasks.events import integration_resource
from tasks.work_order_events import PUSH_EVENTS
from tests.unit.test_cli_exit_codes import run_pmsync

REPO = Path(__file__).resolve().parents[2]
FIFTY = [f"company-{number:02d}" for number in range(1, 51)]
PROJECT_CRONS = ["2 * * * *", "30 23 * * *", "0 3 27 * *", "40 4 * * *"]
"""The schedules of prefect.yaml (delta, leases, reconcile, sweep)."""


def test_the_offset_is_the_same_in_every_process_whatever_pythons_hash_seed():
    command = "from pmsync.runs.schedules import minute_offset; print([minute_offset(n) for n in ('acme-west', 'acme-east')])"
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
        assert sweep == f"{40 + offset} 4 * * *", name


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
    assert crons["sweep-acme-west"] == ["41 4 * * *"] and crons["sweep-acme-east"] == ["44 4 * * *"]
    assert crons["reconcile-acme-west"] == ["1 3 27 * *"] and crons["now-acme-west"] == []


def test_deploy_without_named_blocks_still_needs_the_server_that_lists_them():
    refused = run_pmsync("deploy", "--show", "--project-dir", str(REPO), env={})

    assert refused.returncode == 2 and "set PREFECT_API_URL" in refused.stderr


def push_deployments(spec: dict) -> list[dict]:
    return [deployment for deployment in spec["deployments"] if "push" in (deployment.get("tags") or [])]


def test_no_push_deployment_is_scheduled_more_than_once_a_day_as_written_or_per_integration():
    project = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    deployed = deployment_spec(REPO, FIFTY[:5], platform_wide=True)  # what `pmsync deploy` deploys
    pushes = push_deployments(project) + push_deployments(deployed)
    assert {d["name"] for d in pushes} >= {"sync-now", "sweep", "changed", "sweep-company-01"}
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for deployment in pushes:
        for schedule in deployment.get("schedules") or []:
            assert set(schedule) <= {"cron", "timezone", "active"}, f"{deployment['name']}: only cron schedules here"
            zone = ZoneInfo(schedule.get("timezone", "UTC"))
            fires = croniter(schedule["cron"], start.astimezone(zone))
            days = Counter(fires.get_next(datetime).date() for _ in range(400))
            assert max(days.values()) == 1, f"{deployment['name']} ({schedule['cron']}) runs more than once a day"


def test_the_changed_deployment_pushes_what_each_event_names():
    [changed] = [d for d in yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
                 if d["name"] == "changed"]
    [trigger] = changed["triggers"]
    TypeAdapter(DeploymentTriggerTypes).validate_python({**trigger, "name": "checked"})
    assert set(trigger["expect"]) == set(PUSH_EVENTS) and not changed.get("schedules")
    assert changed["entrypoint"] == "flows/work_order_push.py:work_order_push" and "platform" in changed["tags"]
    assert trigger["match"] == {"prefect.resource.id": "pmsync.integration.*"}
    assert integration_resource("acme")["prefect.resource.id"].startswith("pmsync.integration.")
    for payload in ({"work_order_id": 42, "integration": None}, {"work_order_id": None, "integration": "acme"}):
        event = Event(event=PUSH_EVENTS[0], resource=integration_resource("acme"), payload={**payload, "pending": 1})
        parameters = dict(trigger["parameters"])
        RunDeployment._upgrade_v1_templates(parameters)  # as Prefect's run-deployment action renders them
        rendered = hydrate(parameters, HydrationContext(render_jinja=True, jinja_context={"event": event}))
        assert rendered == payload, "the flow's own parameters, typed: an int id, null for the environment's"
