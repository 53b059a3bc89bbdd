"""Who may read the Reports page: a long enough token (header or a signed 12-hour session), or, tokenless, loopback Host names only."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from pydantic import SecretStr

from pmsync.hosts import is_loopback

MIN_TOKEN_LENGTH = 16
SESSION_SECONDS = 12 * 60 * 60
"""A sign-in lasts 12 hours (the cookie's Max-Age, and checked on the server against its signed issue time)."""
CLOCK_SKEW_SECONDS = 60


class ReportsRefused(Exception):
    """The Reports app will not start as configured; the message says what to change."""


def host_header_is_loopback(header: str | None) -> bool:
    """Whether a Host header (`localhost:8780`, `127.0.0.1`, `[::1]:8780`) names this machine; any port is fine."""
    if not header:
        return False
    if header.startswith("["):
        name, bracket, rest = header[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return False
        return name.count(":") >= 2 and is_loopback(name)
    name, colon, port = header.partition(":")
    if colon and not port.isdigit():
        return False
    return is_loopback(name)


def check_token(token: SecretStr | None) -> None:
    """Refuse a token short enough to guess."""
    if token is not None and len(token.get_secret_value()) < MIN_TOKEN_LENGTH:
        raise ReportsRefused(
            f"PMSYNC_REPORTS_TOKEN is shorter than {MIN_TOKEN_LENGTH} characters; set a long random one "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )


def check_binding(host: str, token: SecretStr | None) -> None:
    """Refuse a short token, and serving beyond this machine without a token."""
    check_token(token)
    if token is None and not is_loopback(host):
        raise ReportsRefused(
            f"refusing to serve the reports on {host}, beyond this machine, without an access token: set "
            "PMSYNC_REPORTS_TOKEN (clients send it as the X-Reports-Token header or sign in on the page's form) "
            "or bind 127.0.0.1"
        )


def token_matches(offered: str | None, token: SecretStr) -> bool:
    """Constant-time comparison of an offered token with the configured one."""
    return offered is not None and hmac.compare_digest(offered.encode(), token.get_secret_value().encode())


class Sessions:
    """The sign-in cookies of one token: each holds its issue time and a nonce, signed with a key derived from the token
    (so it never carries the token, and a client cannot move its issue time); valid for SESSION_SECONDS from its issue,
    and refused after its sign-out. Sign-outs are remembered in this process's memory until the cookie would have
    expired anyway: a restart forgets them, never the expiry."""

    def __init__(self, token: SecretStr, clock: Callable[[], float] = time.time) -> None:
        self._key = hmac.new(token.get_secret_value().encode(), b"pmsync-reports-session", hashlib.sha256).digest()
        self._clock = clock
        self._ended: dict[str, float] = {}

    def issue(self) -> str:
        """A new cookie value, issued now."""
        claim = f"{int(self._clock())}.{secrets.token_hex(16)}"
        return f"{claim}.{self._signature(claim)}"

    def valid(self, cookie: str | None) -> bool:
        """Signed by this token, issued less than SESSION_SECONDS ago (not in the future), and not signed out."""
        issued = self._issued(cookie)
        if issued is None or cookie in self._ended:
            return False
        return issued - CLOCK_SKEW_SECONDS <= self._clock() < issued + SESSION_SECONDS

    def end(self, cookie: str | None) -> None:
        """Sign the cookie out: it opens nothing from now on, here."""
        issued = self._issued(cookie)
        if issued is None or cookie is None:
            return
        now = self._clock()
        self._ended = {value: expiry for value, expiry in self._ended.items() if expiry > now}
        self._ended[cookie] = issued + SESSION_SECONDS

    def _issued(self, cookie: str | None) -> int | None:
        """The cookie's issue time when its signature holds, else None."""
        claim, _, signature = (cookie or "").rpartition(".")
        issued, _, nonce = claim.partition(".")
        if not (issued.isascii() and issued.isdigit() and len(issued) <= 12 and nonce):
            return None
        if not hmac.compare_digest(signature.encode(), self._signature(claim).encode()):
            return None
        return int(issued)

    def _signature(self, claim: str) -> str:
        return hmac.new(self._key, claim.encode(), hashlib.sha256).hexdigest()


def local_target(next_path: str | None) -> str:
    """Where to go after signing in: a path on this site only (never `//other.example` or a full URL)."""
    if not next_path or not next_path.startswith("/") or next_path.startswith(("//", "/\\")):
        return "/"
    if any(ch in next_path for ch in "\r\n\\") or any(ord(ch) < 32 for ch in next_path):
        return "/"
    return next_path
