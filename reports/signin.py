"""Signing in to the Reports page with its token: the form, the 12-hour session cookie, sign-out, and a limit on failed tries."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from html import escape
from urllib.parse import parse_qs, parse_qsl, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import SecretStr

from reports.access import SESSION_SECONDS, Sessions, local_target, token_matches
from reports.pages import page

TOKEN_HEADER = "X-Reports-Token"
SESSION_COOKIE = "pmsync_reports_session"
MAX_LOGIN_BODY_BYTES = 4096
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 5 * 60
MAX_TRACKED_ADDRESSES = 10_000
"""Addresses with recent failures kept in memory; beyond it the oldest are forgotten first."""


class SignInThrottle:
    """Failed sign-ins per client address, in this process's memory: MAX_FAILURES within FAILURE_WINDOW_SECONDS shut
    the address out until the oldest of them is that old; a successful sign-in clears its count."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> int | None:
        """Seconds until the address may try again, or None when it may now."""
        failures = self._recent(address)
        if len(failures) < MAX_FAILURES:
            return None
        return max(1, math.ceil(failures[0] + FAILURE_WINDOW_SECONDS - self._clock()))

    def failed(self, address: str) -> None:
        failures = self._recent(address)
        failures.append(self._clock())
        while len(failures) > MAX_FAILURES:
            failures.popleft()
        self._failures[address] = failures
        if len(self._failures) > MAX_TRACKED_ADDRESSES:
            self._forget_oldest()

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.pop(address, deque())
        horizon = self._clock() - FAILURE_WINDOW_SECONDS
        while failures and failures[0] <= horizon:
            failures.popleft()
        if failures:
            self._failures[address] = failures  # re-inserted: the dict stays ordered by last failure
        return failures

    def _forget_oldest(self) -> None:
        horizon = self._clock() - FAILURE_WINDOW_SECONDS
        self._failures = {address: kept for address, kept in self._failures.items() if kept and kept[-1] > horizon}
        while len(self._failures) > MAX_TRACKED_ADDRESSES:
            del self._failures[next(iter(self._failures))]


def require_token(app: FastAPI, token: SecretStr, throttle: SignInThrottle | None = None) -> None:
    """Every request but the sign-in and sign-out carries the token (header) or a valid session cookie."""
    sessions = Sessions(token)
    throttle = throttle or SignInThrottle()

    @app.middleware("http")
    async def token_or_session(request: Request, call_next):
        if request.url.path in {"/login", "/logout"} or sessions.valid(request.cookies.get(SESSION_COOKIE)):
            return await call_next(request)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or None
        offered = request.headers.get(TOKEN_HEADER) or bearer
        if offered is None:
            return login_page(page_asked(request), status=401)
        address = client_address(request)
        wait = throttle.retry_after(address)
        if wait is not None:
            return too_many_failures(wait)
        if not token_matches(offered, token):
            throttle.failed(address)
            return login_page(page_asked(request), status=401)
        throttle.succeeded(address)
        return await call_next(request)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(next: str = "/") -> Response:
        return login_page(next)

    @app.post("/login")
    async def login(request: Request) -> Response:
        address = client_address(request)
        wait = throttle.retry_after(address)
        if wait is not None:
            return too_many_failures(wait)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_LOGIN_BODY_BYTES:
                return page("Sign-in refused", "<p>The sign-in form was too large.</p>", 413)
        try:
            fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=4)
        except ValueError:
            return page("Sign-in refused", "<p>The sign-in form has fields it does not expect.</p>", 400)
        target = local_target((fields.get("next") or ["/"])[0])
        if not token_matches((fields.get("token") or [None])[0], token):
            throttle.failed(address)
            return login_page(target, status=401, failed=True)
        throttle.succeeded(address)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, sessions.issue(), max_age=SESSION_SECONDS, httponly=True,
                            samesite="strict", path="/", secure=request.url.scheme == "https")
        return response

    @app.post("/logout")
    def logout(request: Request) -> Response:
        sessions.end(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict", path="/",
                               secure=request.url.scheme == "https")
        return response


def client_address(request: Request) -> str:
    """The address failed sign-ins are counted under (uvicorn's view of the client; behind a proxy, the proxy's unless
    it forwards the client's and uvicorn trusts it)."""
    return request.client.host if request.client else "unknown"


def too_many_failures(wait: int) -> HTMLResponse:
    response = page("Too many failed sign-ins", f"<p>{MAX_FAILURES} sign-ins from this address failed within "
                    f"{FAILURE_WINDOW_SECONDS // 60} minutes; try again in {wait} s.</p>", 429)
    response.headers["Retry-After"] = str(wait)
    return response


def page_asked(request: Request) -> str:
    """The path and query to return to after signing in, less any `token` parameter (never echoed)."""
    kept = [(name, value) for name, value in parse_qsl(request.url.query, keep_blank_values=True) if name != "token"]
    return request.url.path + (f"?{urlencode(kept)}" if kept else "")


def login_page(next_path: str, status: int = 200, failed: bool = False) -> HTMLResponse:
    """The sign-in form; it echoes nothing but the page to return to, escaped."""
    notice = '<p id="login-failed">That is not the reports token; try again.</p>' if failed else ""
    form = (
        f'{notice}<form id="login" method="post" action="/login">'
        f'<input type="hidden" name="next" value="{escape(local_target(next_path), quote=True)}">'
        '<label>Reports token <input type="password" name="token" autocomplete="current-password" required></label> '
        '<button type="submit">Sign in</button></form>'
        "<p>Scripts send the token as the X-Reports-Token header instead.</p>"
    )
    return page("Sign in to the reports", form, status)
