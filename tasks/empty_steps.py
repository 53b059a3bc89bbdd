"""A stream with nothing in its window makes no task runs: its extract, validate and load steps are plain calls then."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def holds_records(pages: Iterable[Any] | None) -> bool:
    """Whether any page (a SourcePage, or a CheckedPage holding one) lists a record, parsed or refused."""
    for page in pages or ():
        source_page = getattr(page, "page", page)
        if source_page.raw or source_page.refused:
            return True
    return False


def quiet_when_empty(task_call: Callable[..., Any], plain: Callable[..., Any], pages_at: int) -> Callable[..., Any]:
    """`task_call(*args)` (a task run) when the pages at position `pages_at` hold a record, else `plain(*args)` (the
    same work, an empty page's mark included, with no task run)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        pages = kwargs["pages"] if "pages" in kwargs else args[pages_at]
        return (task_call if holds_records(pages) else plain)(*args, **kwargs)

    return call


class QuietExtract:
    """The extract step: a listing's first batch is awaited in the flow; when it holds no record (an empty window)
    neither it nor the call that ends the listing is a task run. A first batch with records, and every later one, is
    handed over in an `extract` task run named as always (`extract · units · batch 1`)."""

    def __init__(self, task_call: Callable[..., Any]) -> None:
        self._task_call = task_call
        self._empty: weakref.WeakSet = weakref.WeakSet()

    def __call__(self, batches: Iterator[Any], stream: Any, number: int) -> Any:
        if number == 1:
            first = next(batches, None)
            if not holds_records(first):
                self._empty.add(batches)  # the prefetcher's generator
                return first
            return self._task_call(iter([first]), stream, number)
        if batches in self._empty:
            return next(batches, None)
        return self._task_call(batches, stream, number)
