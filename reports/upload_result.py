"""An upload's page: its import's state in plain words while it waits, then its counts, or its problems and fix-up CSV."""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path
from typing import Any

from pmsync.imports.files import ImportPathRefused, confined_path
from reports.scope import integration_url
from reports.upload_guide import KINDS, uploaded_name, waiting_words

REFRESH_SECONDS = 2
STORED_NAME = re.compile(r"upload-[0-9a-f]{32}-(?:owners|service-providers)\.csv")
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
NOT_IMPORTED = {
    "FAILED": "the file was refused",
    "CRASHED": "the import stopped unexpectedly; upload the file again, and tell your operator if it happens again",
    "CANCELLED": "the import was cancelled",
}


def result(run: Any, artifacts: list[Any], import_dir: Path, integration: str) -> str:
    """The run's state in plain words (the file's own name with it); while it is not final the page refreshes itself,
    then it shows the counts or the problems."""
    parameters = run.parameters or {}
    kind = parameters.get("kind") if parameters.get("kind") in KINDS else None
    state = run.state_type.value if run.state_type else "PENDING"
    what = f"{KINDS[kind].lower()} file" if kind else "file"
    name = uploaded_name(run)
    if name is not None:
        what += f' <code id="uploaded-name">{escape(name)}</code>'
    if state not in FINAL_STATES:
        return (
            f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
            f'<p id="upload-state" data-state="{escape(state)}">{escape(waiting_words(state, run.state_name))}</p>'
            f"<p>The {what}, uploaded into <code>{escape(integration)}</code>, is imported as soon as a worker takes it. "
            f"This page refreshes every {REFRESH_SECONDS} s.</p>"
        )
    rows = _artifact_rows(artifacts, f"csv-import-{kind}") if kind else []
    if state == "COMPLETED":
        return (
            f'<p id="upload-state" data-state="{state}">The {what} was imported.</p>'
            + (_table(rows, "import-counts") if rows else "<p>The import published no counts.</p>")
        )
    message = run.state.message if run.state and run.state.message else "no message"
    body = (
        f'<p id="upload-state" data-state="{escape(state)}">The {what} was not imported: {escape(NOT_IMPORTED.get(state, state.lower()))}; '
        "nothing was written to the platform.</p>"
    )
    if rows and "problem" in rows[0]:
        body += "<h2>Problems, cell by cell</h2>" + _table(rows, "problems")
    if fix_up_file(run, import_dir) is not None:
        fix_up = escape(integration_url(integration, f"uploads/{run.id}/fix-up.csv"), quote=True)
        body += (
            f'<p><a id="fix-up" class="download" href="{fix_up}" download>Download the fix-up CSV</a>: your file with a '
            "problems column; fix the cells it names and upload it again as it is.</p>"
        )
    return body + f'<details><summary>What the import said</summary><pre id="run-message">{escape(message)}</pre></details>'


def fix_up_file(run: Any, import_dir: Path) -> Path | None:
    """The fix-up CSV the import wrote beside the run's uploaded file (`upload-….csv` → `upload-….errors.csv`), when it
    is a file inside the import directory (symlinks resolved); None when there is none."""
    stored_path = (run.parameters or {}).get("path")
    if not isinstance(stored_path, str) or not STORED_NAME.fullmatch(stored_path):
        return None
    try:
        return confined_path(import_dir, stored_path.removesuffix(".csv") + ".errors.csv")
    except ImportPathRefused:
        return None


def _artifact_rows(artifacts: list[Any], key: str) -> list[dict[str, Any]]:
    """The rows of the run's table artifact `key` (Prefect stores a table as JSON text)."""
    for artifact in artifacts:
        if artifact.key == key and artifact.type == "table":
            data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
            return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []
    return []


def _table(rows: list[dict[str, Any]], table_id: str) -> str:
    headers = list(dict.fromkeys(key for row in rows for key in row))
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(row.get(h, '')))}</td>" for h in headers) + "</tr>" for row in rows
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
