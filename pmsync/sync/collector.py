"""The cycle collector during a sync: paused over a batch's work, and kept off the process's long-lived objects."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a batch is checked or a page applied: its candidates, rows and frame cells
    form no cycles, yet each full collection walks every live object of the process (GX, pandas, the batch's pages),
    which cost a third of the gate's time. Cyclic garbage made meanwhile waits for the next collection."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_FROZEN = threading.Event()


def freeze_long_lived_objects() -> None:
    """Once per process, once GX is loaded: every object alive now (the modules of GX, pandas, Prefect, SQLAlchemy)
    leaves the cycle collector's view (gc.freeze). Each full collection walked them all, over a million objects,
    while a sync's pages and rows keep triggering collections: over a third of an initial sync's CPU went there.
    They are still freed by reference counting; only cyclic garbage alive at this moment is never collected."""
    if not _FROZEN.is_set():
        _FROZEN.set()
        gc.freeze()
