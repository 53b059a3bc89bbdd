"""Options that feed flow parameters, checked as they are parsed against the flows' own types (pmsync.runs.parameters)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer


def bounded(type_name: str) -> Callable[[Any], Any]:
    """A typer callback checking an option's value as the type `type_name` of pmsync.runs.parameters (imported only when a
    command runs: `--help` pays for no pydantic). A refusal is a usage error, one `error:` line and exit 2, naming
    the option, the value and what it takes; None (not given) passes."""

    def check(value: Any) -> Any:
        from pmsync.runs import parameters

        if value is None:
            return None
        try:
            return parameters.check_value(getattr(parameters, type_name), value)
        except parameters.ParameterRejected as refused:
            raise typer.BadParameter(str(refused)) from None

    return check


MAX_ID = 2**63 - 1
"""The largest id the platform database stores (BIGINT)."""


def stored_id(what: str) -> Callable[[Any], Any]:
    """A typer callback refusing an id no platform row can have (a usage error naming `what` it takes); None passes."""

    def check(value: Any) -> Any:
        if value is not None and not 0 <= value <= MAX_ID:
            raise typer.BadParameter(f"{value} is no {what}: give a whole number from 0 to {MAX_ID}")
        return value

    return check
