"""Reading the source's answers: error statuses, X-Total-Count, record lists and records, each failure named."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

import pydantic
import pydantic_core

from pmsync.source.errors import SourceAuthError, SourceDataError, SourceRequestRejected
from pmsync.source.exchange import Answer
from pmsync.source.paging import Record, RefusedRecord, refusal_error
from schemas.source_values import SourceId, record_key

USER_MESSAGE_CHARS = 200
"""The most of a source's userMessage an error quotes."""


def parse_json(content: bytes) -> Any:
    """A JSON body; ValueError when it is not JSON.

    The fast parser refuses a lone surrogate escape (`"\\ud83d"`, half an emoji cut by the source), which JSON's
    grammar allows; such a body is read by the standard library instead, and the records layer replaces the
    surrogate. A body that neither reads is not JSON (e.g. cut short).
    """
    try:
        return pydantic_core.from_json(content)
    except ValueError:
        return json.loads(content)


def rejection(answer: Answer, request: str, scrub: Callable[[str], str], *, auth_hint: str,
              message_field: str) -> Exception:
    """The error a 4xx answer makes, with the source's own message (its `message_field`), `scrub`bed (of the client's
    credentials); a 401 says what to check (`auth_hint`: the source package names its own settings)."""
    detail = error_message(answer, scrub, message_field=message_field)
    if answer.status_code == 401:
        return SourceAuthError(f"source refused the credentials (401{detail}); {auth_hint}", request=request)
    return SourceRequestRejected(
        f"source rejected the request ({answer.status_code}{detail})",
        request=request,
        status=answer.status_code,
    )


def listing_total(headers: Mapping[str, str], request: str, entity: str, header: str = "X-Total-Count") -> int:
    """X-Total-Count, if it is a count: a whole number, 0 or more, in ASCII digits, within int64 (more records than
    ids cannot exist). Anything else (missing, negative, non-numeric, `1_000`, `+5`, non-ASCII digits) cannot be a
    true count: SourceDataError naming the request, and the listing is never marked complete on it."""
    value = headers.get(header)
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit() and int(text) <= MAX_TOTAL:
        return int(text)
    shown = value if value is None or len(value) <= 40 else value[:40] + "…"
    raise SourceDataError(
        f"list response has no usable X-Total-Count header ({shown!r}: not a count of records, a whole number 0 or "
        "more); the listing cannot be proven complete", request=request, entity=entity,
    )


def as_record_list(body: Any, request: str, entity: str) -> list[dict[str, Any]]:
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise SourceDataError("list response is not a JSON array of objects", request=request, entity=entity)
    return body


def parse_records(
    raw: list[Any], model: type[Record], request: str, entity: str, scrub: Callable[[str], str] = str, *,
    key: str = "id",
) -> tuple[list[Record], list[dict[str, Any]], list[RefusedRecord]]:
    """The records `model` reads, their raw JSON (in step), and the records it refuses, each with its key and every
    (field, reason): one bad record never fails its page (the quality gate quarantines it). `key` is the raw field
    that holds a record's id.

    The page is read in one pass when nothing is wrong; only a page with a refusal is read record by record."""
    try:
        return _list_reader(model).validate_python(raw), raw, []
    except pydantic.ValidationError:
        pass
    records, kept, refused = [], [], []
    for record in raw:
        try:
            records.append(model.model_validate(record))
        except pydantic.ValidationError as invalid:
            problems = [
                (".".join(str(part) for part in error["loc"]) or "(record)", error["msg"])
                for error in invalid.errors(include_url=False, include_input=False)
            ]
            refused.append(_refusal(record, [(scrub(field), scrub(reason)) for field, reason in problems], scrub, key))
        else:
            kept.append(record)
    return records, kept, refused


def parse_record(body: dict[str, Any], model: type[Record], request: str, entity: str,
                 scrub: Callable[[str], str] = str, *, key: str = "id") -> Record:
    """One record read alone (a GET by id); a record its model refuses is a SourceDataError naming its id and field."""
    records, _, refused = parse_records([body], model, request, entity, scrub, key=key)
    if refused:
        raise refusal_error(refused[0], request, entity)
    return records[0]


MAX_TOTAL = 2**63 - 1
_SOURCE_ID = pydantic.TypeAdapter(SourceId)


@functools.cache
def _list_reader(model: type[Record]) -> pydantic.TypeAdapter:
    return pydantic.TypeAdapter(list[model])  # type: ignore[valid-type]


def _refusal(record: Any, problems: list[tuple[str, str]], scrub: Callable[[str], str], key: str) -> RefusedRecord:
    """The refusal of `record`, keyed by its id (scrubbed of the client's credentials: a key is shown and logged)."""
    identifier = record.get(key) if isinstance(record, dict) else None
    try:
        source_id: int | None = _SOURCE_ID.validate_python(identifier)
    except pydantic.ValidationError:
        source_id = None
    shown = str(source_id) if source_id is not None else record_key(record if isinstance(record, dict) else {}, scrub, key)
    return RefusedRecord(record, shown, source_id, tuple(problems))


def error_message(answer: Answer, scrub: Callable[[str], str], *, message_field: str) -> str:
    """": <the answer's message_field>", scrubbed before it is cut to USER_MESSAGE_CHARS (a cut could leave part of a
    credential no scrubber recognises); "" when it has none."""
    try:
        body = parse_json(answer.content)
    except ValueError:
        return ""
    if isinstance(body, dict) and body.get(message_field):
        return f": {scrub(str(body[message_field]))[:USER_MESSAGE_CHARS]}"
    return ""
