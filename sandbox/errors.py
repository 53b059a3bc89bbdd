"""The vendor's ErrorResponse body, as every sandbox endpoint answers a refusal."""

from __future__ import annotations

import json
from http import HTTPStatus

from fastapi.responses import Response


def error_response(status: int, message: str, errors: list[dict] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    """An ErrorResponse body: errorCode, userMessage and errors[{key, message}]."""
    try:
        code = HTTPStatus(status).name
    except ValueError:
        code = f"HTTP_{status}"
    body = {"errorCode": code, "userMessage": message, "errors": errors or []}
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)
