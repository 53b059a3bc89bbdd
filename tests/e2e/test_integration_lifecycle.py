"""End to end (issue 17): adding and removing a company on a real Prefect server with a PostgreSQL platform and one
worker, by `pmsync integration add|remove` and, as the UI does it, by saving and deleting its block. Issue 25's first
hour on the same fresh server: `pmsync deploy` itself registers the block types and creates the work pool, a second
company is added, a run started now, and each company's reconciliation artifact links its own Reports page."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa

from pmsync.platform.database import make_engine
from pmsync.runs.schedules import staggered_cron
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER, SANDBOX_SYSTEM_ID, SandboxServer
from schemas.tables import SYNCED_TABLES, integrations, reconciliation_snapshots
from tests.browser.conftest import free_port, wait_for_http
from tests.conftest import _postgres_database, source_env
from tests.e2e.prefect_api import BIN, FINAL_STATES, REPO, api, deployment, flow_runs, pmsync, python
from tests.e2e.test_deployments import prefect_server, stop  # noqa: F401  (prefect_server is a fixture)

NAME = "dune"
OTHER = "fjord"
"""The first hour's second company: added, synced and reconciled next to dune; the rest of the test is dune's."""
TAG = f"integration:{NAME}"
PER_INTEGRATION = 9
"""The deployments of prefect.yaml that are copied per integration (all but the platform's: enroll, retire, delta-batch/hourly and work-order-push/changed)."""
RUN_TIMEOUT_SECONDS = 120
CRONS = {"delta": "2 * * * *", "leases": "30 23 * * *", "reconcile": "0 3 27 * *", "sweep": "40 4 * * *"}


@pytest.fixture
def platform_url() -> Iterator[str]:
    """PostgreSQL only (overrides the SQLite-and-PostgreSQL fixture); the Prefect server runs on PostgreSQL too."""
    yield from _postgres_database()


@pytest.fixture
def no_scheduled_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's scheduler off (requested before `prefect_server`): the sweep's cron would put runs on the worker."""
    monkeypatch.setenv("PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED", "false")


@pytest.fixture
def sources() -> Iterator[dict[str, SandboxServer]]:
    """Each company's own sandbox account."""
    with SandboxServer(units=20, seed=11) as dune, SandboxServer(units=20, seed=12) as fjord:
        yield {NAME: dune, OTHER: fjord}


def test_a_company_added_and_removed_by_the_cli_and_by_its_block(no_scheduled_runs, prefect_server, platform_url,
                                                                 sources, report_measurement):
    begun = time.monotonic()
    source = sources[NAME]
    reports_url = f"http://127.0.0.1:{free_port()}"
    env = {**prefect_server, **source_env(platform_url, source), "PMSYNC_REPORTS_URL": reports_url}
    platform_only = pmsync(env, "deploy")  # on the fresh server: it registers the block types, creates the pool
    assert platform_only.returncode == 0, platform_only.stdout[-3000:] + platform_only.stderr[-3000:]
    assert platform_only.stdout.splitlines()[:2] == [
        "registered block types: buildium-integration, propertyware-integration", "created work pool pmsync (process)",
    ], platform_only.stdout
    assert api(env, "GET", "/work_pools/pmsync")["type"] == "process"
    assert "deploying only the platform's deployments" in platform_only.stderr
    assert "deployed 4 deployments for 0 integration(s)" in platform_only.stdout
    python(env, "from prefect.blocks.notifications import CustomWebhookNotificationBlock as W\n"
                "W(name='pmsync', url='http://127.0.0.1:9/alerts').save('pmsync-alerts', overwrite=True)\n")
    applied = pmsync(env, "automations", "apply")
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]
    report_measurement(f"e2e lifecycle: `pmsync deploy` on a fresh server (block types, pool, platform deployments) and automations in {time.monotonic() - begun:.1f} s")
    worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "pmsync", "--name", "e2e-lifecycle"],
                              env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reports = subprocess.Popen([str(BIN / "pmsync"), "reports", "serve", "--port", reports_url.rsplit(":", 1)[1]],
                               env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = make_engine(platform_url)
    try:
        started = time.monotonic()
        added = add(env, NAME, source)
        assert added.returncode == 0, added.stdout[-3000:] + added.stderr[-3000:]
        assert SANDBOX_CLIENT_SECRET not in added.stdout + added.stderr
        assert f"deployed {PER_INTEGRATION} deployments for 1 integration(s): {NAME}" in added.stdout
        report_measurement(f"e2e lifecycle: `pmsync integration add` itself (block, deploy of {PER_INTEGRATION}, initial run) "
                           f"took {time.monotonic() - started:.1f} s")
        check_deployments(env)
        platform_limits = {f"deployment:{deployment(env, flow, name)['id']}" for flow, name in
                           (("enroll-integration", "enroll"), ("retire-integration", "retire"))}
        sweep = deployment(env, "work-order-push", f"sweep-{NAME}")["id"]
        assert concurrency_limits(env) == platform_limits | {f"sync:{NAME}", f"deployment:{sweep}"}
        initial = queued(added)
        assert final(env, initial)["state_type"] == "COMPLETED"
        report_measurement(f"e2e lifecycle: `pmsync integration add` to its initial sync completed in {time.monotonic() - started:.1f} s")
        enrolled = final(env, only_run(env, "enroll-integration"))
        assert enrolled["state_type"] == "COMPLETED" and enrolled["parameters"] == {"integration": NAME}
        assert [run["id"] for run in runs_of_dune(env, "initial-sync")] == [initial], "the block's creation started a second initial sync"
        synced = row_counts(engine)
        assert synced[0]["unit"] > 0, synced
        listed = pmsync(env, "integration", "list")
        assert listed.returncode == 0 and re.search(rf"{NAME}\s*│\s*yes\s*│\s*active", listed.stdout), listed.stdout + listed.stderr

        started = time.monotonic()
        kept = platform_limits | check_the_first_hour(env, source, sources[OTHER], engine, reports_url, reports)
        report_measurement(f"e2e lifecycle: first hour's second `integration add`, a run now, two reconciliations and their "
                           f"Reports pages in {time.monotonic() - started:.1f} s")

        twice = add({**env, "PMSYNC_ADD_CLIENT_SECRET": "another-secret"}, NAME, source)
        assert twice.returncode == 2 and "exists already; pass --overwrite" in twice.stderr, twice.stdout + twice.stderr
        assert "another-secret" not in twice.stdout + twice.stderr
        by_hand = api(env, "POST", f"/deployments/{deployment(env, 'retire-integration', 'retire')['id']}/create_flow_run",
                      {"parameters": {"integration": NAME}})["id"]
        refused = final(env, by_hand)
        assert refused["state_type"] == "FAILED", "retire ran while the block still exists"
        assert f"the block {NAME!r} exists, so {NAME} is not retired" in refused["state"]["message"], refused["state"]
        assert row_counts(engine) == synced and len(tagged_deployments(env)) == PER_INTEGRATION

        started = time.monotonic()
        removed = pmsync(env, "integration", "remove", NAME, "--yes")
        assert removed.returncode == 0, removed.stdout[-3000:] + removed.stderr[-3000:]
        assert f"{PER_INTEGRATION} deployments of {NAME} deleted" in removed.stdout and "its rows are kept, marked inactive" in removed.stdout
        assert tagged_deployments(env) == [] and blocks(env) == []
        assert f"deleted concurrency limit sync:{NAME}" in removed.stdout and concurrency_limits(env) == kept
        check_retired(engine, synced)
        report_measurement(f"e2e lifecycle: `pmsync integration remove` in {time.monotonic() - started:.1f} s")
        retired = final(env, only_run(env, "retire-integration", after={by_hand}))
        assert retired["state_type"] == "COMPLETED", "the block's deletion ran `retire`, a no-op after the CLI's removal"
        listed = pmsync(env, "integration", "list")
        assert re.search(rf"{NAME}\s*│\s*no\s*│\s*removed ", listed.stdout), listed.stdout + listed.stderr

        started = time.monotonic()
        python(env, "from pmsync.integrations.blocks import PropertywareIntegration as P\n"
                    f"P(base_url={source.base_url!r}, client_id={SANDBOX_CLIENT_ID!r}, client_secret={SANDBOX_CLIENT_SECRET!r}, "
                    f"system_id={SANDBOX_SYSTEM_ID!r}, integration_user={SANDBOX_INTEGRATION_USER!r}).save({NAME!r})\n")
        enrolled = final(env, only_run(env, "enroll-integration", after={enrolled["id"]}))
        assert enrolled["state_type"] == "COMPLETED", enrolled["state_name"]
        check_deployments(env)
        assert f"sync:{NAME}" in concurrency_limits(env)
        [again] = [run for run in runs_of_dune(env, "initial-sync") if run["id"] != initial]
        assert final(env, again["id"])["state_type"] == "COMPLETED"
        assert row_counts(engine) == synced, "reinstated and synced again: the rows as active as the source says"
        with engine.connect() as connection:
            assert connection.execute(sa.select(integrations.c.removed_at).where(integrations.c.name == NAME)).scalar_one() is None
        report_measurement(f"e2e lifecycle: block saved by the API to enroll's initial sync completed in {time.monotonic() - started:.1f} s")

        started = time.monotonic()
        api_delete(env, f"/block_documents/{blocks(env)[0]['id']}")
        retired = final(env, only_run(env, "retire-integration", after={by_hand, retired["id"]}))
        assert retired["state_type"] == "COMPLETED", retired["state_name"]
        assert tagged_deployments(env) == [] and concurrency_limits(env) == kept
        check_retired(engine, synced)
        report_measurement(f"e2e lifecycle: block deleted by the API to retire completed in {time.monotonic() - started:.1f} s")
    finally:
        stop([worker, reports])
        engine.dispose()
    report_measurement(f"e2e lifecycle: whole test after the server was up {time.monotonic() - begun:.1f} s")


def add(env: dict[str, str], name: str, source: SandboxServer) -> subprocess.CompletedProcess:
    """`pmsync integration add` of the sandbox account `source` (its secret PMSYNC_ADD_CLIENT_SECRET, unless env has one)."""
    return pmsync({"PMSYNC_ADD_CLIENT_SECRET": SANDBOX_CLIENT_SECRET, **env}, "integration", "add", name,
                  "--base-url", source.base_url, "--client-id", SANDBOX_CLIENT_ID, "--system-id", SANDBOX_SYSTEM_ID,
                  "--integration-user", SANDBOX_INTEGRATION_USER)


def queued(done: subprocess.CompletedProcess) -> str:
    """The id of the flow run a command says it queued (Rich may wrap the line)."""
    found = re.search(r"queued as flow run\s.*?\(([0-9a-f-]{36})\)", done.stdout, re.DOTALL)
    assert found, done.stdout[-3000:] + done.stderr[-3000:]
    return found.group(1)


def check_the_first_hour(env: dict[str, str], source: SandboxServer, other: SandboxServer, engine: sa.Engine,
                         reports_url: str, reports: subprocess.Popen) -> set[str]:
    """Issue 25: OTHER added by the CLI next to dune, a run now of dune, then each company's reconciliation, whose
    artifacts (read from the API, as the UI shows them) link a page of the one Reports server naming that company and
    its snapshot, not the other's. Returns OTHER's concurrency limits, which stay to the end."""
    added = add(env, OTHER, other)
    assert added.returncode == 0, added.stdout[-3000:] + added.stderr[-3000:]
    assert f"deployed {PER_INTEGRATION} deployments for 1 integration(s): {OTHER}" in added.stdout
    lease = next(iter(source.store.records("leases")))
    source.store.update("leases", lease["id"], baseRent=round(float(lease.get("baseRent") or 0) + 11.5, 2))
    now = pmsync(env, "sync", "now", "--integration", NAME, "--wait")
    assert now.returncode == 0, now.stdout[-3000:] + now.stderr[-3000:]
    assert re.search(r"^run \d+ changed 1 record\(s\): lease updated 1$", now.stdout, re.MULTILINE), now.stdout
    assert re.search(rf"^  lease {lease['id']} updated: .*base_rent", now.stdout, re.MULTILINE), now.stdout
    for run_id, name in ((queued(added), OTHER), (queued(now), NAME)):
        run = final(env, run_id)
        assert run["state_type"] == "COMPLETED" and run["parameters"] == {"integration": name}, (run["name"], run["state"])
    reconciliations = {name: api(env, "POST", f"/deployments/{deployment(env, 'property-reconciliation', f'reconcile-{name}')['id']}"
                                             "/create_flow_run", {})["id"] for name in (NAME, OTHER)}
    wait_for_http(f"{reports_url}/", reports)
    for name, run_id in reconciliations.items():
        assert final(env, run_id)["state_type"] == "COMPLETED", name
        with engine.connect() as connection:
            [snapshot] = connection.execute(sa.select(reconciliation_snapshots.c.id).join(integrations).where(
                integrations.c.name == name)).scalars().all()
        links = report_links(env, run_id)
        assert len(links) == 2 and len(set(links)) == 1, links
        page = requests.get(links[0], timeout=60)
        assert page.status_code == 200, (links[0], page.status_code, page.text[:1000])
        assert f"<title>Snapshot {snapshot} of {name}</title>" in page.text, (links[0], page.text[:1000])
        other_name = OTHER if name == NAME else NAME
        assert not re.search(rf"\b{other_name}\b", page.text), (links[0], page.text[:3000])
    sweep = deployment(env, "work-order-push", f"sweep-{OTHER}")["id"]
    return {f"sync:{OTHER}", f"deployment:{sweep}"}


def report_links(env: dict[str, str], flow_run_id: str) -> list[str]:
    """The Reports links a user clicks in the run's artifacts: the link artifact's and the report's "Open the report"."""
    artifacts = api(env, "POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 50})
    texts = [artifact["data"] for artifact in artifacts if str(artifact.get("key")).startswith("reconciliation-report")]
    return [link for text in texts for link in re.findall(r"\[(?:Reconciliation report of [^]]*|Open the report)\]\(([^)]+)\)", text)]


def runs_of_dune(env: dict[str, str], flow: str) -> list[dict]:
    return [run for run in flow_runs(env, flow, None) if run["parameters"] == {"integration": NAME}]


def check_deployments(env: dict[str, str]) -> None:
    deployed = tagged_deployments(env)
    assert len(deployed) == PER_INTEGRATION, [d["name"] for d in deployed]
    assert all(d["parameters"] == {"integration": NAME} for d in deployed)
    crons = {d["name"].removesuffix(f"-{NAME}"): [s["schedule"]["cron"] for s in d["schedules"]] for d in deployed}
    assert {base: crons[base] for base in CRONS} == {base: [staggered_cron(cron, NAME)] for base, cron in CRONS.items()}
    assert crons["initial"] == crons["now"] == []


def check_retired(engine: sa.Engine, synced: tuple[dict[str, int], dict[str, int]]) -> None:
    """The integration's rows are all still there, every one inactive, and the integration marked removed."""
    active, inactive = synced
    assert row_counts(engine) == ({name: 0 for name in active}, {name: active[name] + inactive[name] for name in active})
    with engine.connect() as connection:
        assert connection.execute(sa.select(integrations.c.removed_at).where(integrations.c.name == NAME)).scalar_one()


def row_counts(engine: sa.Engine) -> tuple[dict[str, int], dict[str, int]]:
    """Rows of the integration per synced table: (active, inactive)."""
    counts: tuple[dict[str, int], dict[str, int]] = ({}, {})
    with engine.connect() as connection:
        own = connection.execute(sa.select(integrations.c.id).where(integrations.c.name == NAME)).scalar_one()
        for name, table in SYNCED_TABLES.items():
            for flag, into in ((True, counts[0]), (False, counts[1])):
                into[name] = connection.execute(sa.select(sa.func.count()).select_from(table).where(
                    table.c.integration_id == own, table.c.active.is_(flag))).scalar_one()
    return counts


def tagged_deployments(env: dict[str, str]) -> list[dict]:
    return api(env, "POST", "/deployments/filter", {"deployments": {"tags": {"all_": [TAG]}}})


def concurrency_limits(env: dict[str, str]) -> set[str]:
    """The names of the server's global concurrency limits (an integration's sync slot, deployments' own limits)."""
    return {limit["name"] for limit in api(env, "POST", "/v2/concurrency_limits/filter", {"limit": 200})}


def blocks(env: dict[str, str]) -> list[dict]:
    """Dune's block (OTHER's stays)."""
    return api(env, "POST", "/block_documents/filter", {"block_types": {"slug": {"any_": ["propertyware-integration"]}},
                                                        "block_documents": {"name": {"any_": [NAME]}}, "include_secrets": False})


def api_delete(env: dict[str, str], path: str) -> None:
    import requests

    response = requests.delete(f"{env['PREFECT_API_URL']}{path}", timeout=60)
    assert response.ok, f"DELETE {path}: {response.status_code} {response.text[:500]}"


def only_run(env: dict[str, str], flow: str, after: set[str] = frozenset()) -> str:
    """The id of dune's one run of `flow` not in `after`, once the automation has created it."""
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while not (runs := [run for run in runs_of_dune(env, flow) if run["id"] not in after]):
        assert time.monotonic() < deadline, f"no run of {flow} within {RUN_TIMEOUT_SECONDS} s: did the automation fire?"
        time.sleep(0.5)
    assert len(runs) == 1, [(run["name"], run["state_type"]) for run in runs]
    return runs[0]["id"]


def final(env: dict[str, str], flow_run_id: str) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while (run := api(env, "GET", f"/flow_runs/{flow_run_id}"))["state_type"] not in FINAL_STATES:
        assert time.monotonic() < deadline, f"flow run {flow_run_id} is still {run['state_type']}"
        time.sleep(0.5)
    return run
