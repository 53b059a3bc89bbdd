"""The jobs, one plain function per flow, run directly (steps = the library functions) when no Prefect is wanted."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any


class Job:
    """A job run with the plain steps; its module is imported on the first call, so a command pays for one job only."""

    def __init__(self, module: str, function: str):
        self.module, self.name = module, function

    @property
    def function(self) -> Callable[..., dict]:
        """The job itself: `function(steps, **parameters)`."""
        return getattr(importlib.import_module(self.module), self.name)

    @property
    def __signature__(self) -> inspect.Signature:
        """The flow's parameters: the job's without `steps`."""
        signature = inspect.signature(self.function)
        return signature.replace(parameters=list(signature.parameters.values())[1:])

    def __call__(self, *args: Any, **parameters: Any) -> dict:
        from pmsync.jobs.steps import PLAIN_STEPS

        return self.function(PLAIN_STEPS, *args, **parameters)

    def __repr__(self) -> str:
        return f"Job({self.module}.{self.name})"


JOBS: dict[str, Callable[..., dict]] = {
    "initial-sync": Job("pmsync.jobs.sync", "initial_sync"),
    "delta-sync": Job("pmsync.jobs.sync", "delta_sync"),
    "delta-batch": Job("pmsync.jobs.batch", "delta_batch"),
    "lease-sync": Job("pmsync.jobs.sync", "lease_sync"),
    "lease-balance": Job("pmsync.jobs.balance", "lease_balance"),
    "property-reconciliation": Job("pmsync.jobs.reconcile", "reconcile"),
    "work-order-push": Job("pmsync.jobs.push", "work_order_push"),
    "csv-import": Job("pmsync.jobs.csv_import", "csv_import"),
    "csv-import-operator-file": Job("pmsync.jobs.csv_import", "csv_import_operator_file"),
}
"""Keyed by the Prefect flow names; each takes exactly the keyword parameters of that flow and returns the same dict."""
