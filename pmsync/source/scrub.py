"""Credentials out of every text built from a source answer: one scrubber, shared by the client and the run record."""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

SCRUBBED = "[credential removed]"
SHORTEST_FRAGMENT = 6
"""Pieces of a credential split at whitespace are scrubbed from this length on (shorter ones match ordinary words)."""


class CredentialScrubber:
    """Removes the given credentials from texts: as they are, escaped the way repr or JSON would show them,
    percent-encoded as a URL carries them, and their whitespace-separated pieces."""

    def __init__(self, credentials: Iterable[str]) -> None:
        variants: set[str] = set()
        for credential in filter(None, credentials):
            variants |= {credential, repr(credential)[1:-1], json.dumps(credential)[1:-1],
                         quote(credential, safe=""), quote_plus(credential, safe="")}
            variants |= {piece for piece in credential.split() if len(piece) >= SHORTEST_FRAGMENT}
        self._variants = sorted(filter(None, variants), key=len, reverse=True)

    def text(self, text: str) -> str:
        for variant in self._variants:
            if variant in text:
                text = text.replace(variant, SCRUBBED)
        return text

    def error(self, error: BaseException) -> BaseException:
        """The same exception, its message and every text it carries (request, field, record id …) scrubbed."""
        error.args = tuple(self.text(arg) if isinstance(arg, str) else arg for arg in error.args)
        for name, value in vars(error).items():
            if isinstance(value, str):
                setattr(error, name, self.text(value))
        return error
