"""Every flow parameter has a type with bounds: the flows' Prefect parameter schemas carry them (what the UI's form and
a deployment run's creation check), a job refuses a value outside them before it writes anything, the engine refuses
an overlap that did not come through the edge, a delta window never starts after its stream's mark, and the command
line ends a bad value in one `error:` line with exit code 2."""

from __future__ import annotations

import importlib
import inspect
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from prefect import Flow
from prefect.utilities.callables import parameter_schema

from pmsync.imports.kinds import KINDS
from pmsync.integrations.integration import integration_from_environment
from pmsync.jobs import JOBS
from pmsync.jobs.steps import PLAIN_STEPS
from pmsync.runs.parameters import MAX_ID, OVERLAP_HOURS_MAX, ImportKindName, ParameterRejected, overlap
from pmsync.settings import PlatformSettings
from pmsync.sync.state import window_start
from pmsync.sync.scope import run_scope
from pmsync.sync.streams import sync_streams
from schemas.tables import sync_runs, sync_state
from tests.unit.test_cli_exit_codes import run_pmsync

ROOT = Path(__file__).resolve().parents[2]
UNBOUNDED = {
    ("csv-import", "file"): "the operator's own file on their machine; no deployment runs this flow",
    ("csv-import", "errors_out"): "where the operator writes the fix-up file; no deployment runs this flow",
}
"""Flow parameters whose schema states no bound, and why (booleans take true or false and need none)."""
BOUNDS = ("minimum", "maximum", "pattern", "enum", "maxLength", "maxItems")
BAD_VALUES = {
    "delta-sync": [{"overlap_hours": -1}, {"overlap_hours": math.nan}, {"overlap_hours": math.inf},
                   {"overlap_hours": -math.inf}, {"overlap_hours": 8761}, {"overlap_hours": "72 hours"},
                   {"integration": "Acme Corp"}, {"integration": "../acme"}, {"integration": "a" * 121}],
    "initial-sync": [{"integration": "-acme"}],
    "delta-batch": [{"integrations": []}, {"integrations": ["Acme Corp"]}, {"integrations": ["a"] * 201},
                    {"concurrency": 0, "integrations": ["acme"]}, {"concurrency": 9, "integrations": ["acme"]},
                    {"start_within_minutes": 0, "integrations": ["acme"]},
                    {"overlap_hours": -1, "integrations": ["acme"]}],
    "lease-sync": [{"integration": ""}],
    "property-reconciliation": [{"max_deactivation_share": 1.01}, {"max_deactivation_share": -0.1},
                                {"max_deactivation_share": math.nan}],
    "lease-balance": [{"lease_id": 0}, {"lease_id": -5}, {"lease_id": 2**63}, {"lease_id": 1.5}, {"lease_id": True}],
    "work-order-push": [{"work_order_id": 0}, {"work_order_id": 2**63}],
    "csv-import": [{"kind": "tenants", "content": "owner_id\n1\n"},
                   {"path": "x" * 1025, "kind": "owners"}, {"integration": "", "kind": "owners", "content": ""},
                   {"integration": "acme\n", "kind": "owners", "content": ""}],
}
"""Per job, calls with one value out of bounds: the first one named."""


def every_flow() -> list[Flow]:
    """The Prefect flows defined in flows/."""
    found = []
    for path in sorted((ROOT / "flows").glob("*.py")):
        module = importlib.import_module(f"flows.{path.stem}")
        found += [value for value in vars(module).values() if isinstance(value, Flow) and value.fn.__module__ == module.__name__]
    return found


def properties(flow: Flow) -> dict[str, dict]:
    """Each parameter's schema, its non-null branch when it is optional."""
    found = {}
    for name, schema in parameter_schema(flow).model_dump_for_openapi()["properties"].items():
        branches = [branch for branch in schema.get("anyOf", [schema]) if branch.get("type") != "null"]
        assert len(branches) == 1, (flow.name, name, schema)
        found[name] = branches[0]
    return found


def test_every_flow_parameter_but_booleans_has_bounds_in_its_schema():
    flows = every_flow()
    assert {flow.name for flow in flows} >= {"delta-sync", "initial-sync", "lease-sync", "lease-balance", "csv-import",
                                             "property-reconciliation", "work-order-push", "enroll-integration",
                                             "retire-integration"}
    unbounded = {
        (flow.name, name) for flow in flows for name, schema in properties(flow).items()
        if schema.get("type") != "boolean" and not set(BOUNDS) & set(schema)
    }
    assert unbounded == set(UNBOUNDED)


def test_the_schemas_carry_each_bound():
    flows = {flow.fn.__name__: properties(flow) for flow in every_flow()}
    block = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$", "maxLength": 120}
    for name, schema in flows.items():
        if "integration" in schema and not name.startswith("csv_import"):
            assert block.items() <= schema["integration"].items(), name
    platform_name = {"type": "string", "minLength": 1, "maxLength": 120, "pattern": "^[^\\x00-\\x1f\\x7f]+$"}
    assert platform_name.items() <= flows["csv_import"]["integration"].items(), "an import names a platform integration"
    assert {"type": "number", "minimum": 0, "maximum": OVERLAP_HOURS_MAX}.items() <= flows["delta_sync"]["overlap_hours"].items()
    assert {"type": "number", "minimum": 0, "maximum": 1}.items() <= flows["reconcile"]["max_deactivation_share"].items()
    assert {"type": "integer", "minimum": 1, "maximum": MAX_ID}.items() <= flows["lease_balance"]["lease_id"].items()
    assert {"type": "integer", "minimum": 1, "maximum": MAX_ID}.items() <= flows["work_order_push"]["work_order_id"].items()
    assert flows["csv_import"]["kind"]["enum"] == list(KINDS)
    assert flows["csv_import"]["path"]["maxLength"] == 1024
    assert flows["csv_import"]["content"]["maxLength"] == 64 * 1024 * 1024
    assert flows["enroll_integration"]["integration"] == flows["retire_integration"]["integration"]
    batch = flows["delta_batch"]["integrations"]
    assert (batch["type"], batch["minItems"], batch["maxItems"]) == ("array", 1, 200)
    assert block.items() <= batch["items"].items()
    assert {"type": "integer", "minimum": 1, "maximum": 8}.items() <= flows["delta_batch"]["concurrency"].items()


def test_the_import_kinds_the_type_offers_are_the_importers_kinds():
    assert list(ImportKindName.__origin__.__args__) == list(KINDS)


@given(
    now=st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(timezone.utc)),
    mark=st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(timezone.utc)),
    hours=st.floats(0, OVERLAP_HOURS_MAX) | st.sampled_from([0.0, float(OVERLAP_HOURS_MAX)]),
)
@settings(max_examples=300, deadline=None)
def test_a_window_never_starts_after_its_stream_mark_nor_after_now(now, mark, hours):
    start = window_start(now, mark, overlap(hours))

    assert start <= mark and start <= now
    assert start >= min(now, mark) - timedelta(hours=OVERLAP_HOURS_MAX)
    assert window_start(now, None, overlap(hours)) is None


@given(hours=st.floats(max_value=-1e-9) | st.floats(min_value=OVERLAP_HOURS_MAX + 1e-9)
       | st.sampled_from([math.nan, math.inf, -math.inf]))
@settings(max_examples=100, deadline=None)
def test_an_overlap_outside_the_bounds_opens_no_window(hours):
    with pytest.raises(ParameterRejected, match=r"overlap_hours=.* is refused: .*from 0 to 8760"):
        overlap(hours)


@pytest.mark.parametrize("hours", [-1, -0.001, OVERLAP_HOURS_MAX + 1])
def test_the_engine_refuses_an_overlap_given_as_a_timedelta_too(hours):
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    with pytest.raises(ParameterRejected, match="is refused"):
        window_start(now, now - timedelta(hours=1), timedelta(hours=hours))


def test_a_job_refuses_each_bad_value_before_it_writes_anything(integration_env, platform_engine):
    for job, cases in BAD_VALUES.items():
        for values in cases:
            with pytest.raises(ParameterRejected, match=f"^{next(iter(values))}=.* is refused: ") as refused:
                JOBS[job](**values)
            assert str(refused.value).count(" is refused: ") == 1, (job, values)

    assert not sa.inspect(platform_engine).has_table("sync_runs"), "not even a migration ran"


def test_the_engine_refuses_an_overlap_that_did_not_come_through_the_edge(integration_env, platform_engine, sandbox):
    JOBS["initial-sync"]()
    with platform_engine.connect() as connection:
        marks = connection.execute(sa.select(sync_state).order_by(sync_state.c.stream)).all()
    account = integration_from_environment()

    with pytest.raises(ParameterRejected, match="overlap_hours=-1 is refused"):
        with run_scope(account, PlatformSettings(), "delta") as session:
            sync_streams(session, account.rules.streams, PLAIN_STEPS, overlap_hours=-1)

    with platform_engine.connect() as connection:
        assert connection.execute(sa.select(sync_state).order_by(sync_state.c.stream)).all() == marks
        failed = connection.execute(sa.select(sync_runs).order_by(sync_runs.c.id.desc())).first()
    assert (failed.flow, failed.status, failed.window_start) == ("delta", "failed", None)
    for bound in (0, OVERLAP_HOURS_MAX):
        assert JOBS["delta-sync"](overlap_hours=bound)["run_id"] > failed.id, "each bound is accepted"


def test_every_job_is_checked_at_its_entry():
    for name, job in JOBS.items():
        assert inspect.unwrap(job.function) is not job.function, f"{name}: decorate it with @checked_parameters"


@pytest.mark.parametrize(("arguments", "named"), [
    (("sync", "delta", "--overlap-hours", "-1"), "'--overlap-hours': -1.0 is refused"),
    (("sync", "delta", "--overlap-hours", "nan"), "'--overlap-hours': nan is refused"),
    (("sync", "delta", "--overlap-hours", "8761"), "'--overlap-hours': 8761.0 is refused"),
    (("sync", "delta", "--overlap-hours", "soon"), "'--overlap-hours': Input should be a valid number"),
    (("reconcile", "--max-share", "1.5"), "'--max-share': 1.5 is refused"),
    (("balance", "0"), "'lease_id': 0 is refused"),
    (("balance", str(2**63)), f"'lease_id': {2**63} is refused"),
    (("workorder", "sync-now", "0"), "'ID': '0' names no work order"),
    (("workorder", "sync-now", f"WO-{2**63}"), f"'ID': 'WO-{2**63}' names no work order"),
    (("sync", "initial", "--integration", "Acme Corp"), "integration='Acme Corp' is refused"),
    (("sync", "now", "--integration", "../acme"), "integration='../acme' is refused"),
    (("sync", "delta", "--no-such-option"), "No such option: --no-such-option"),
])
def test_the_command_line_ends_a_bad_value_in_one_error_line_with_exit_2(arguments, named, tmp_path):
    failed = run_pmsync(*arguments, env={"PMSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'platform.db'}"})

    assert failed.returncode == 2, failed.stderr[-2000:]
    assert failed.stdout == ""
    [line] = failed.stderr.strip().splitlines()
    assert line.startswith("error: ") and named in line, line
    assert not (tmp_path / "platform.db").exists(), "refused before the platform was opened"
