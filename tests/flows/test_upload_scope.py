"""Uploads belong to the integration their URL names: a file posted on an integration's upload page is queued for that
integration, its page shows the file's own name and, while it waits, plain words; its result page and fix-up CSV are
served only under that integration's path (under another's the flow run id does not exist); without the csv-import
deployment the analyst reads "tell your operator" and the server log says what to deploy (runs on the harness's
Prefect server; platforms on SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL
from prefect.states import Failed, Late

from reports.app import create_app
from tests.unit.test_reports_app import register_integrations

pytestmark = pytest.mark.flow

BASE = "http://127.0.0.1:8780"
FIX_UP = "owner_id,first_name,last_name,email,problems\n5001,Ann,Lee,ann@@example,email: not a valid e-mail address\n"
GOOD_CSV = b"owner_id,first_name,last_name,email\n5001,Ann,Lee,ann@example.com\n"


def rejected_upload(client, deployment_id: uuid.UUID, stored: str, integration: str) -> uuid.UUID:
    """A csv-import run of an uploaded file into `integration`, rejected (as the worker would leave it)."""
    run = client.create_flow_run_from_deployment(
        deployment_id, parameters={"kind": "owners", "path": stored, "integration": integration}
    )
    client.set_flow_run_state(run.id, Failed(message="1 bad cell; fix-up CSV written"), force=True)
    return run.id


@pytest.fixture
def import_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "imports"
    folder.mkdir()
    monkeypatch.setenv("PMSYNC_IMPORT_DIR", str(folder))
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    return folder


@pytest.fixture
def deployment_id() -> uuid.UUID:
    with get_client(sync_client=True) as client:
        return client.create_deployment(flow_id=client.create_flow_from_name("csv-import"), name="import")


def test_a_file_uploaded_on_an_integrations_page_is_queued_for_that_integration(
    import_dir, deployment_id, platform_url, platform_engine
):
    register_integrations(platform_engine, "north", "south")
    page = TestClient(create_app(platform_url), base_url=BASE)

    posted = {
        name: page.post(f"/integrations/{name}/uploads", data={"kind": "owners"}, headers={"Origin": BASE},
                        files={"file": (f"{name}.csv", GOOD_CSV, "text/csv")}, follow_redirects=False)
        for name in ("north", "south")
    }
    unknown = page.post("/integrations/west/uploads", data={"kind": "owners"}, headers={"Origin": BASE},
                        files={"file": ("west.csv", GOOD_CSV, "text/csv")}, follow_redirects=False)

    queued = {}
    with get_client(sync_client=True) as client:
        for name, answer in posted.items():
            assert answer.status_code == 303, answer.text
            location = answer.headers["location"]
            assert location.startswith(f"/integrations/{name}/uploads/"), location
            queued[name] = client.read_flow_run(uuid.UUID(location.rsplit("/", 1)[1]))
    assert {name: run.parameters["integration"] for name, run in queued.items()} == {"north": "north", "south": "south"}
    assert all(run.deployment_id == deployment_id for run in queued.values())
    assert unknown.status_code == 404 and "This server shows no integration named" in unknown.text
    assert sorted(path.name.rsplit("-", 1)[-1] for path in import_dir.iterdir()) == ["owners.csv", "owners.csv"], (
        "the unknown integration's upload stored nothing"
    )
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(queued["south"].id, Late(), force=True)
    waiting = {name: page.get(posted[name].headers["location"]).text for name in posted}
    assert 'data-state="SCHEDULED">Queued — waiting for a worker to start the import.</p>' in waiting["north"]
    assert 'data-state="SCHEDULED">Queued — still waiting for a worker. If this lasts' in waiting["south"]
    for name, text in waiting.items():
        assert f'<code id="uploaded-name">{name}.csv</code>' in text and f"<title>Upload of {name}.csv</title>" in text
        assert "Scheduled" not in text and "Late" not in text, "no Prefect state names"


def test_without_the_import_deployment_the_analyst_is_told_to_ask_the_operator_and_the_log_says_what_to_deploy(
    import_dir, platform_url, platform_engine, caplog
):
    register_integrations(platform_engine, "north")
    with get_client(sync_client=True) as client:
        try:
            client.delete_deployment(client.read_deployment_by_name("csv-import/import").id)
        except ObjectNotFound:
            pass

    with caplog.at_level(logging.ERROR, logger="pmsync.reports"):
        refused = TestClient(create_app(platform_url), base_url=BASE).post(
            "/integrations/north/uploads", data={"kind": "owners"}, headers={"Origin": BASE},
            files={"file": ("north.csv", GOOD_CSV, "text/csv")}, follow_redirects=False,
        )

    assert refused.status_code == 503 and "Uploads are not available yet; tell your operator." in refused.text
    assert "deploy" not in refused.text and "csv-import" not in refused.text, "the details are for the operator"
    [logged] = [record.getMessage() for record in caplog.records if record.name == "pmsync.reports"]
    assert "the deployment csv-import/import does not exist" in logged and "pmsync deploy" in logged
    assert list(import_dir.iterdir()) == [], "nothing of the upload stays"


def test_an_uploads_result_and_fix_up_are_served_only_under_its_own_integrations_path(
    import_dir, deployment_id, tmp_path: Path
):
    north, linked = f"upload-{uuid.uuid4().hex}-owners", f"upload-{uuid.uuid4().hex}-owners"
    (import_dir / f"{north}.errors.csv").write_text(FIX_UP, encoding="utf-8")
    outside = tmp_path / "outside.errors.csv"
    outside.write_text("password,problems\nhunter2,\n", encoding="utf-8")
    (import_dir / f"{linked}.errors.csv").symlink_to(outside)
    with get_client(sync_client=True) as client:
        north_run = rejected_upload(client, deployment_id, f"{north}.csv", "north")
        linked_run = rejected_upload(client, deployment_id, f"{linked}.csv", "north")
    unused = f"sqlite:///{tmp_path / 'unused.db'}"
    pages = {name: TestClient(create_app(unused, None, name), base_url=BASE) for name in ("north", "south")}
    own_path = f"/integrations/north/uploads/{north_run}"

    own = pages["north"].get(own_path)
    own_fix_up = pages["north"].get(f"{own_path}/fix-up.csv")
    through_south = [
        pages["south"].get(f"/integrations/south/uploads/{north_run}"),
        pages["south"].get(f"/integrations/south/uploads/{north_run}/fix-up.csv"),
        pages["south"].get(f"/integrations/south/uploads/fix-ups/{north}.errors.csv"),
        pages["south"].get(own_path), pages["south"].get(f"{own_path}/fix-up.csv"),
    ]
    symlinked = pages["north"].get(f"/integrations/north/uploads/{linked_run}")
    symlinked_fix_up = pages["north"].get(f"/integrations/north/uploads/{linked_run}/fix-up.csv")

    for refused in through_south:
        assert refused.status_code == 404 and "ann@@example" not in refused.text, refused.url
    assert "No upload has that id." in through_south[0].text and "No upload has that id." in through_south[1].text
    assert own.status_code == 200 and 'data-state="FAILED"' in own.text
    assert f'<a id="fix-up" class="download" href="{own_path}/fix-up.csv" download>' in own.text
    assert own_fix_up.status_code == 200 and own_fix_up.text == FIX_UP
    assert own_fix_up.headers["content-disposition"] == f'attachment; filename="{north}.errors.csv"'
    assert symlinked.status_code == 200 and 'id="fix-up"' not in symlinked.text, "a fix-up linked out is not offered"
    assert symlinked_fix_up.status_code == 404 and "hunter2" not in symlinked_fix_up.text
