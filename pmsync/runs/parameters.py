"""Flow parameters' types and bounds: one definition for the Prefect UI's form, the jobs' entry and the command line.

Each type is `Annotated[base, Field(...)]`: Prefect turns the bounds into the flow's parameter schema (minimum, maximum,
pattern, enum, maxLength), which the UI's form and a deployment run's creation check; a flow call, a job and a
command check a value with the same type, and refuse it naming the parameter, the value and the rule.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

OVERLAP_HOURS_MAX = 8760
"""A year: the longest overlap a delta sync re-reads before each stream's last complete pass."""
MAX_ID = 2**63 - 1
"""The largest id the platform database stores (BIGINT), and the largest the source's ids are read as."""
INTEGRATION_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
"""An integration block's name (a block slug, every vendor's), as `pmsync integration add` checks it."""
INTEGRATION_NAME_MAX = 120
"""The platform's integrations.name column."""
IMPORT_PATH_MAX = 1024
IMPORT_CONTENT_MAX = 64 * 1024 * 1024
"""Characters of uploaded CSV content the parameter takes at all (each is at least a byte); the worker's
PMSYNC_IMPORT_MAX_BYTES (20 MiB by default) then caps its UTF-8 bytes."""

OverlapHours = Annotated[float, Field(
    ge=0, le=OVERLAP_HOURS_MAX, allow_inf_nan=False,
    description=f"the hours re-read before each stream's last complete pass, a finite number from 0 to {OVERLAP_HOURS_MAX}",
)]
DeactivationShare = Annotated[float, Field(
    ge=0, le=1, allow_inf_nan=False,
    description="the largest share of the active units one reconciliation may deactivate, a number from 0 to 1",
)]
IntegrationName = Annotated[str, Field(
    pattern=INTEGRATION_NAME_PATTERN, max_length=INTEGRATION_NAME_MAX,
    description="an integration block's name: lowercase letters, digits and dashes, starting with a "
                f"letter or digit, at most {INTEGRATION_NAME_MAX} characters",
)]
PlatformIntegrationName = Annotated[str, Field(
    min_length=1, max_length=INTEGRATION_NAME_MAX, pattern=r"^[^\x00-\x1f\x7f]+$",
    description=f"an integration's name on the platform (a block's, or PMSYNC_INTEGRATION_NAME's): 1 to "
                f"{INTEGRATION_NAME_MAX} characters, no control characters",
)]
"""An import writes rows of an integration by name only, never loading its block or reading its source."""
LeaseId = Annotated[int, Field(
    strict=True, ge=1, le=MAX_ID, description=f"the lease's id in the source, a whole number from 1 to {MAX_ID}",
)]
WorkOrderId = Annotated[int, Field(
    strict=True, ge=1, le=MAX_ID, description=f"the work order's platform id, a whole number from 1 to {MAX_ID}",
)]
ImportKindName = Annotated[Literal["owners", "service-providers"], Field(
    description="what the file holds: owners or service-providers",
)]
ImportPath = Annotated[str, Field(
    max_length=IMPORT_PATH_MAX,
    description=f"a .csv file's name inside PMSYNC_IMPORT_DIR on the worker, at most {IMPORT_PATH_MAX} characters",
)]
"""Where the path leads (inside the directory, a .csv file) the import checks before it opens anything
(pmsync.imports.files.confined_path), an empty one included."""
ImportContent = Annotated[str, Field(
    max_length=IMPORT_CONTENT_MAX,
    description=f"the CSV file's text, at most {IMPORT_CONTENT_MAX} characters (and PMSYNC_IMPORT_MAX_BYTES bytes)",
)]


class ParameterRejected(ValueError):
    """Fatal: a flow or job parameter outside its type's bounds; nothing was run. The message names each parameter,
    the value given and what it must be."""


def overlap(hours: float) -> timedelta:
    """`hours` of delta-window overlap as a timedelta; ParameterRejected unless it is a finite number from 0 to
    OVERLAP_HOURS_MAX (so a window never starts after its stream's mark)."""
    return timedelta(hours=check_value(OverlapHours, hours, "overlap_hours"))


def check_overlap(overlap_: timedelta) -> timedelta:
    """ParameterRejected unless 0 ≤ `overlap_` ≤ OVERLAP_HOURS_MAX hours."""
    if not timedelta(0) <= overlap_ <= timedelta(hours=OVERLAP_HOURS_MAX):
        raise ParameterRejected(f"an overlap of {overlap_.total_seconds() / 3600:g} hours is refused: the overlap is "
                                f"{rule(OverlapHours)}")
    return overlap_


Job = TypeVar("Job", bound=Callable[..., Any])


def checked_parameters(job: Job) -> Job:
    """`job(steps, **parameters)` with every parameter after `steps` checked against its annotated type first (the
    values as validated: `overlap_hours=1` becomes 1.0); ParameterRejected naming every one refused, before the job
    runs. A direct run and a library caller are checked like a flow run."""
    signature = inspect.signature(job)

    @functools.wraps(job)
    def run_checked(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        steps, *names = bound.arguments
        parameters = check_parameters(job, {name: bound.arguments[name] for name in names})
        return job(bound.arguments[steps], **parameters)

    return typing.cast(Job, run_checked)


def check_parameters(function: Callable[..., Any], values: dict[str, Any]) -> dict[str, Any]:
    """`values` validated against `function`'s annotations of those names; ParameterRejected naming each refused."""
    checked, problems = {}, []
    for name, value in values.items():
        try:
            checked[name] = _adapter(function, name).validate_python(value)
        except ValidationError:
            problems.append(refusal(_hints(function)[name], value, name))
    if problems:
        raise ParameterRejected("; ".join(problems))
    return checked


def check_value(hint: Any, value: Any, name: str | None = None) -> Any:
    """`value` validated as a `hint` (one of the types above); ParameterRejected, naming `name` when given, if refused."""
    try:
        return TypeAdapter(hint).validate_python(value)
    except ValidationError:
        raise ParameterRejected(refusal(hint, value, name)) from None


def refusal(hint: Any, value: Any, name: str | None = None) -> str:
    """`overlap_hours=-1 is refused: overlap_hours takes the hours re-read …, a finite number from 0 to 8760`."""
    return f"{name + '=' if name else ''}{_shown(value)} is refused: {name or 'it'} takes {rule(hint)}"


@functools.cache
def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    return typing.get_type_hints(inspect.unwrap(function), include_extras=True)


@functools.cache
def _adapter(function: Callable[..., Any], name: str) -> TypeAdapter[Any]:
    return TypeAdapter(_hints(function)[name])


def rule(hint: Any) -> str:
    """What a value of `hint` must be: its Field's description, `or none` when it is optional, else the type's name."""
    arguments = typing.get_args(hint)
    if typing.get_origin(hint) is Annotated:
        described = [m.description for m in hint.__metadata__ if isinstance(m, FieldInfo) and m.description]
        return described[0] if described else rule(arguments[0])
    if type(None) in arguments:
        rules = [rule(argument) for argument in arguments if argument is not type(None)]
        return " or ".join(rules) + ", or none"
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(map(str, arguments))
    return f"a {getattr(hint, '__name__', hint)}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"
