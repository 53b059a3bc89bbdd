"""An upload's result page and fix-up CSV are served only by the Reports page of the integration it was uploaded into:
another integration's page answers its flow run id as one that does not exist (runs on the harness's Prefect server)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL
from prefect.states import Failed

from reports.app import create_app

pytestmark = pytest.mark.flow

BASE = "http://127.0.0.1:8780"
FIX_UP = "owner_id,first_name,last_name,email,problems\n5001,Ann,Lee,ann@@example,email: not a valid e-mail address\n"


def rejected_upload(client, deployment_id: uuid.UUID, stored: str, integration: str) -> uuid.UUID:
    """A csv-import run of an uploaded file into `integration`, rejected (as the worker would leave it)."""
    run = client.create_flow_run_from_deployment(
        deployment_id, parameters={"kind": "owners", "path": stored, "integration": integration}
    )
    client.set_flow_run_state(run.id, Failed(message="1 bad cell; fix-up CSV written"), force=True)
    return run.id


def test_an_uploads_result_and_fix_up_are_served_only_to_its_own_integrations_page(tmp_path: Path, monkeypatch):
    import_dir = tmp_path / "imports"
    import_dir.mkdir()
    monkeypatch.setenv("PMSYNC_IMPORT_DIR", str(import_dir))
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    north, linked = f"upload-{uuid.uuid4().hex}-owners", f"upload-{uuid.uuid4().hex}-owners"
    (import_dir / f"{north}.errors.csv").write_text(FIX_UP, encoding="utf-8")
    outside = tmp_path / "outside.errors.csv"
    outside.write_text("password,problems\nhunter2,\n", encoding="utf-8")
    (import_dir / f"{linked}.errors.csv").symlink_to(outside)
    with get_client(sync_client=True) as client:
        deployment_id = client.create_deployment(flow_id=client.create_flow_from_name("csv-import"), name="import")
        north_run = rejected_upload(client, deployment_id, f"{north}.csv", "north")
        linked_run = rejected_upload(client, deployment_id, f"{linked}.csv", "north")
    unused = f"sqlite:///{tmp_path / 'unused.db'}"
    pages = {name: TestClient(create_app(unused, None, name), base_url=BASE) for name in ("north", "south")}

    own = pages["north"].get(f"/uploads/{north_run}")
    own_fix_up = pages["north"].get(f"/uploads/{north_run}/fix-up.csv")
    through_south = [
        pages["south"].get(f"/uploads/{north_run}"), pages["south"].get(f"/uploads/{north_run}/fix-up.csv"),
        pages["south"].get(f"/uploads/fix-ups/{north}.errors.csv"),
    ]
    symlinked = pages["north"].get(f"/uploads/{linked_run}")
    symlinked_fix_up = pages["north"].get(f"/uploads/{linked_run}/fix-up.csv")

    for refused in through_south:
        assert refused.status_code == 404 and "ann@@example" not in refused.text, refused.url
    assert "No upload has that id." in through_south[0].text and "No upload has that id." in through_south[1].text
    assert own.status_code == 200 and 'data-state="FAILED"' in own.text
    assert f'<a id="fix-up" class="download" href="/uploads/{north_run}/fix-up.csv" download>' in own.text
    assert own_fix_up.status_code == 200 and own_fix_up.text == FIX_UP
    assert own_fix_up.headers["content-disposition"] == f'attachment; filename="{north}.errors.csv"'
    assert symlinked.status_code == 200 and 'id="fix-up"' not in symlinked.text, "a fix-up linked out is not offered"
    assert symlinked_fix_up.status_code == 404 and "hunter2" not in symlinked_fix_up.text
