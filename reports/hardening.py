"""Every response carries the security headers, and one answered before its request's body was read closes the connection."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reports.pages import SECURITY_HEADERS


class Hardened:
    """ASGI middleware: adds SECURITY_HEADERS to every response, and `Connection: close` to a response sent while the
    request still has body bytes the app did not read (a refused upload, a sign-in page before an upload).

    Without the close, uvicorn would read and discard the rest of that body to keep the connection alive, however long
    a client kept sending; with it, uvicorn closes the connection once the answer is written and reads no more.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_unread = _has_body(Headers(scope=scope))

        async def receive_tracked() -> Message:
            nonlocal body_unread
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body_unread = False
            return message

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if body_unread:
                    headers["Connection"] = "close"
            await send(message)

        await self.app(scope, receive_tracked, send_hardened)


def _has_body(headers: Headers) -> bool:
    """Whether the request announces a body: chunked, or a Content-Length other than 0."""
    return "transfer-encoding" in headers or headers.get("content-length", "0").strip() not in {"0", ""}
