"""What the upload page tells analysts: each kind's columns and template (from the CSV import's own definitions), the
size limit in MB, the uploaded file's name, and an import's state in plain words."""

from __future__ import annotations

from html import escape
from typing import Any

from pmsync.imports.kinds import KINDS as IMPORT_KINDS
from pmsync.imports.kinds import ImportKind
from reports.scope import integration_url

KINDS = {"owners": "Owners", "service-providers": "Service providers"}
"""The kinds the page offers (each one of pmsync.imports.kinds.KINDS), with their labels."""
MEGABYTE = 1024 * 1024
FILE_TAG = "upload-file:"
"""The upload's flow run carries the file's own name as a tag `upload-file:<name>` (shown on its page, and in the UI)."""
MAX_SHOWN_NAME = 200
UNAVAILABLE = (
    '<p id="unavailable">Uploads are not available yet; tell your operator. Nothing was stored. (The details are in '
    "the Reports server's log.)</p>"
)
"""What an analyst reads when the upload cannot work for a reason only the operator can fix."""
QUEUED = {
    "Late": "Queued — still waiting for a worker. If this lasts more than a few minutes, tell your operator that no "
            "worker is taking imports.",
    "AwaitingRetry": "Queued to try again — waiting for a worker.",
}
WAITING = {
    "SCHEDULED": "Queued — waiting for a worker to start the import.",
    "PENDING": "Starting — a worker has picked it up.",
    "RUNNING": "Importing now.",
    "PAUSED": "Paused — tell your operator.",
    "CANCELLING": "Being cancelled.",
}


def megabytes(size: int) -> str:
    """A size in MB (1 MB = 1,048,576 bytes) as people write it: `20 MB`, `1.5 MB`, `0.000954 MB`."""
    return f"{size / MEGABYTE:.3g} MB"


def too_big_message(max_bytes: int) -> str:
    return f"the file is larger than {megabytes(max_bytes)} (PMSYNC_IMPORT_MAX_BYTES); split it and upload the parts"


def template_csv(kind: str) -> bytes:
    """A template of the kind's files: its header row, every column in the import's order (UTF-8 with a byte-order
    mark, so Excel opens it as UTF-8; the import reads either)."""
    return ("\ufeff" + ",".join(column.name for column in IMPORT_KINDS[kind].columns) + "\r\n").encode("utf-8")


def _columns_table(kind: ImportKind) -> str:
    """One row per column: whether the header must have it, whether a row must fill it, its longest value, and the
    other header names the import reads as it."""
    other_names: dict[str, list[str]] = {}
    for alias, name in kind.aliases.items():
        other_names.setdefault(name, []).append(alias)
    rows = []
    for column in kind.columns:
        value_required = column.check is not None and column.check("") is not None
        default = kind.defaults.get(column.name)
        value = "required" if value_required else (f"optional (blank: {default})" if default else "optional")
        rows.append(
            f'<tr><td><code>{escape(column.name)}</code></td><td>{"required" if column.in_header else "optional"}</td>'
            f"<td>{escape(value)}</td><td class=\"num\">{column.max_length}</td>"
            f"<td>{escape(', '.join(other_names.get(column.name, [])))}</td></tr>"
        )
    return (
        f'<table id="columns-{escape(kind.name)}"><thead><tr><th>column</th><th>in the header</th><th>value in each row'
        "</th><th>at most (characters)</th><th>also accepted as</th></tr></thead><tbody>" + "".join(rows)
        + "</tbody></table>"
    )


def guide(integration: str, max_bytes: int) -> str:
    """The columns of each kind with a template to download, and the size limit."""
    parts = [
        f'<h2>What to upload</h2><p id="size-limit">A .csv file (save the sheet as "CSV UTF-8 (Comma delimited)") of '
        f"at most {megabytes(max_bytes)}. Columns may come in any order; header names ignore case and spaces.</p>"
    ]
    for kind, label in KINDS.items():
        template = escape(integration_url(integration, f"uploads/templates/{kind}.csv"), quote=True)
        parts.append(
            f"<h3>{escape(label)}</h3>{_columns_table(IMPORT_KINDS[kind])}"
            f'<p><a id="template-{kind}" class="download" href="{template}" download>Download the {escape(label.lower())}'
            " template (.csv)</a>: the header row to fill in.</p>"
        )
    return "".join(parts)


def file_tag(filename: str) -> str:
    """The run's tag naming the uploaded file (control characters dropped, at most MAX_SHOWN_NAME characters)."""
    shown = "".join(ch for ch in filename if ch.isprintable())[:MAX_SHOWN_NAME]
    return FILE_TAG + shown


def uploaded_name(run: Any) -> str | None:
    """The file's own name as the analyst uploaded it, from the run's tag; None for a run started otherwise."""
    for tag in run.tags or []:
        if tag.startswith(FILE_TAG):
            return tag.removeprefix(FILE_TAG)
    return None


def waiting_words(state_type: str, state_name: str | None) -> str:
    """A run that has not ended, in plain words (never a Prefect state name)."""
    if state_type == "SCHEDULED" and state_name in QUEUED:
        return QUEUED[state_name]
    return WAITING.get(state_type, "Queued — waiting for a worker to start the import.")


def upload_form_html(integration: str) -> str:
    choices = "".join(
        f'<label><input type="radio" name="kind" value="{kind}"{" checked" if n == 0 else ""}> {label}</label> '
        for n, (kind, label) in enumerate(KINDS.items())
    )
    return (
        f'<form id="upload" method="post" action="{escape(integration_url(integration, "uploads"), quote=True)}" '
        'enctype="multipart/form-data">'
        f"<p>{choices}</p>"
        '<p><label>CSV file <input type="file" name="file" accept=".csv,text/csv" required></label></p>'
        '<p><button type="submit">Upload and import</button></p></form>'
        f"<p>Imported into integration <code>{escape(integration)}</code>. A file with any bad cell imports nothing: "
        "the next page lists each problem and offers the file back with a problems column to fix and upload again.</p>"
    )
