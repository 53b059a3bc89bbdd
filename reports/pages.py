"""The frame of every Reports page: the document, its one style sheet, the sign-out button, and the headers that go with it."""

from __future__ import annotations

import base64
import hashlib
from html import escape

from fastapi.responses import HTMLResponse

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:1rem 0}"
    "th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}th{background:#f3f3f3}.num{text-align:right}"
    "a.download{font-weight:600}figure{margin:1rem 0}figcaption{font-size:.85rem;color:#555}"
    "#sign-out{float:right}"
)
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
"""The CSP source that allows exactly the page's own <style> element (its hash) and no other inline style."""
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src '{STYLE_HASH}'; img-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "Referrer-Policy": "same-origin",
}
"""Sent with every response: no content sniffing, no framing (clickjacking), no script at all (the pages have none;
the chart is inline SVG), and URLs never leak to other sites."""
SIGN_OUT = '<form id="sign-out" method="post" action="/logout"><button type="submit">Sign out</button></form>'


def page(title: str, body: str, status: int = 200, sign_out: bool = False) -> HTMLResponse:
    """A whole page; `sign_out` adds the sign-out button (pages behind the token)."""
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{SIGN_OUT if sign_out else ''}<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def not_found(message: str, sign_out: bool = False) -> HTMLResponse:
    return page("Not found", f'<p>{escape(message)}</p><p><a href="/">All integrations</a></p>', 404, sign_out)
