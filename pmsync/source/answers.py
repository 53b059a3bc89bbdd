"""Reading the source's answers: error statuses, X-Total-Count, record lists and records, each failure named."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pydantic
import pydantic_core

from pmsync.source.errors import SourceAuthError, SourceDataError, SourceRequestRejected
from pmsync.source.exchange import Answer
from pmsync.source.paging import Record

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


def rejection(answer: Answer, request: str, scrub: Callable[[str], str]) -> Exception:
    """The error a 4xx answer makes, with the source's own userMessage, `scrub`bed (of the client's credentials)."""
    detail = error_message(answer, scrub)
    if answer.status_code == 401:
        return SourceAuthError(
            f"source refused the credentials (401{detail}); check PMSYNC_PW_CLIENT_ID, "
            "PMSYNC_PW_CLIENT_SECRET and PMSYNC_PW_SYSTEM_ID or the integration block",
            request=request,
        )
    return SourceRequestRejected(
        f"source rejected the request ({answer.status_code}{detail})",
        request=request,
        status=answer.status_code,
    )


def listing_total(headers: Mapping[str, str], request: str, entity: str) -> int:
    value = headers.get("X-Total-Count")
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SourceDataError(
            f"list response has no usable X-Total-Count header ({value!r})", request=request, entity=entity
        ) from None


def as_record_list(body: Any, request: str, entity: str) -> list[dict[str, Any]]:
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise SourceDataError("list response is not a JSON array of objects", request=request, entity=entity)
    return body


def parse_records(raw: list[Any], model: type[Record], request: str, entity: str) -> list[Record]:
    try:
        return pydantic.TypeAdapter(list[model]).validate_python(raw)  # type: ignore[valid-type]
    except pydantic.ValidationError as invalid:
        first = invalid.errors(include_url=False, include_input=False)[0]
        index, *field_path = first["loc"]
        record = raw[index] if isinstance(index, int) and index < len(raw) else {}
        raise SourceDataError(
            f"{first['msg']} ({len(invalid.errors())} problem(s) on this page)",
            request=request,
            entity=entity,
            record_id=_record_id(record),
            field=".".join(str(part) for part in field_path) or None,
        ) from None


def _record_id(record: Any) -> Any:
    return record.get("id") if isinstance(record, dict) else None


def error_message(answer: Answer, scrub: Callable[[str], str]) -> str:
    """": <the answer's userMessage>", scrubbed before it is cut to USER_MESSAGE_CHARS (a cut could leave part of a
    credential no scrubber recognises); "" when it has none."""
    try:
        body = parse_json(answer.content)
    except ValueError:
        return ""
    if isinstance(body, dict) and body.get("userMessage"):
        return f": {scrub(str(body['userMessage']))[:USER_MESSAGE_CHARS]}"
    return ""
