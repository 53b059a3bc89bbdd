"""Where the source may be: an https base URL, plain http only on this machine (the sandbox), no credentials in it."""

from __future__ import annotations

from urllib.parse import urlsplit

from pmsync.hosts import is_loopback


def check_base_url(url: str, setting: str, example: str = "https://api.example.com/v1") -> str:
    """The base URL, if credentials may be sent to it; ValueError naming `setting` (the variable or field) otherwise,
    with the vendor's `example` of a good one.

    https, or http to a loopback host (the credentials travel in headers: over plain http anyone on the way reads
    them); a host; no user:password, query or fragment (the client appends the vendor's paths to it)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        if parts.port is not None and not parts.port:  # reading it checks it: a number up to 65535
            raise ValueError
    except ValueError:
        raise ValueError(f"{setting} is not a URL (e.g. {example})") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError(f"{setting} must be an https URL such as {example}")
    if parts.scheme == "http" and not is_loopback(host):
        raise ValueError(f"{setting} must use https (plain http is allowed only to this machine: localhost, 127.0.0.1, "
                         f"::1); the API key would cross the network unencrypted to {host}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{setting} must not carry a user or password (user:password@); the API key goes in headers")
    if parts.query or parts.fragment or url.strip().endswith(("?", "#")):
        raise ValueError(f"{setting} must not have a query or fragment (?… #…): pmsync appends the API paths to it")
    return url
