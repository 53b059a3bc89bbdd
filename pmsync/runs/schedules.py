"""Fair schedules: a deterministic per-integration minute offset, so fifty integrations' syncs do not start at once."""

from __future__ import annotations

import hashlib
import re

SPREAD_MINUTES = 10
"""An integration's scheduled runs start up to this many minutes after the schedule's own minute (0 to 9)."""

_WHOLE_MINUTE = re.compile(r"^\d{1,2}$")
_EVERY_N_MINUTES = re.compile(r"^\*/(\d{1,2})$")


def minute_offset(integration: str, spread: int = SPREAD_MINUTES) -> int:
    """The integration's offset in minutes, 0 to spread − 1: the SHA-256 of its name modulo spread (the same on every
    machine and every deploy, unlike Python's hash)."""
    if spread < 1:
        raise ValueError(f"spread must be at least 1 minute, got {spread}")
    return int.from_bytes(hashlib.sha256(integration.encode("utf-8")).digest()[:8], "big") % spread


def staggered_cron(cron: str, integration: str, spread: int = SPREAD_MINUTES) -> str:
    """`cron` with its minute field moved by the integration's offset.

    A whole minute `M` becomes `M + offset` (`2 * * * *` → `7 * * * *`); every-N-minutes `*/N` becomes
    `offset mod N`-59/N (`*/5` → `3-59/5`), the same rate shifted. Any other minute field (a list, a range, `*`) is
    left as it is. A whole minute so late in the hour that the offset would carry into the next hour is refused."""
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"expected a five-field cron expression (minute hour day month weekday), got {cron!r}")
    minute, offset = fields[0], minute_offset(integration, spread)
    if _WHOLE_MINUTE.match(minute):
        if int(minute) + spread > 60:
            raise ValueError(f"cron {cron!r}: minute {minute} plus up to {spread - 1} minutes of offset leaves the hour; "
                             f"schedule it at minute {60 - spread} or earlier")
        fields[0] = str(int(minute) + offset)
    elif every := _EVERY_N_MINUTES.match(minute):
        step = int(every.group(1))
        fields[0] = f"{offset % step}-59/{step}"
    return " ".join(fields)
