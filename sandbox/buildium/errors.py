"""Buildium's ApiErrorResponse body, as every Buildium sandbox endpoint answers a refusal."""

from __future__ import annotations

import json
from http import HTTPStatus

from fastapi.responses import Response


def api_error(status: int, message: str, errors: list[tuple[str, str]] = (),
              headers: dict[str, str] | None = None) -> Response:
    """{UserMessage, ErrorCode, Errors: [{Key, Value}]}: what went wrong and, per field or parameter, why."""
    try:
        code = HTTPStatus(status).phrase.replace(" ", "")
    except ValueError:
        code = f"Http{status}"
    body = {"UserMessage": message, "ErrorCode": code, "Errors": [{"Key": key, "Value": value} for key, value in errors]}
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)
