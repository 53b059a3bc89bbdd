"""Prefetch: a background thread produces the next items of an iterator into a bounded queue while the caller works."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

Item = TypeVar("Item")

_END = object()


class _Failure:
    """The producer's exception, carried through the queue to be raised in the consumer at its position."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


@contextmanager
def prefetch(items: Iterable[Item], depth: int = 1) -> Iterator[Iterator[Item]]:
    """Iterate `items` in a background thread, at most `depth` items ahead of the caller, the one being produced
    included: with depth 1 the next item is fetched while the caller works on the current one, and no more (memory
    stays bounded to the caller's item and `depth` others).

    Yields an iterator over the same items in the same order. An exception the producer raises is raised in the
    consumer at that position, the same exception object (its type and message intact). Leaving the `with` block,
    however (break, exception, or the end), stops the producer after the item it is producing, closes the source
    iterator in the producer's thread (its `finally` blocks run) and joins the thread: no thread outlives the block.
    """
    if depth < 1:
        raise ValueError(f"prefetch depth must be at least 1, got {depth!r}")
    handed: queue.Queue = queue.Queue()
    room = threading.Semaphore(depth)
    stop = threading.Event()

    def produce() -> None:
        source = iter(items)
        try:
            while True:
                room.acquire()
                if stop.is_set():
                    return
                item = next(source, _END)
                handed.put(item)
                if item is _END:
                    return
        except BaseException as error:  # noqa: BLE001 -- handed to the consumer, who raises it
            handed.put(_Failure(error))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    def consume() -> Iterator[Item]:
        while True:
            item = handed.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            room.release()
            yield item

    producer = threading.Thread(target=produce, name="pmsync-prefetch", daemon=True)
    producer.start()
    try:
        yield consume()
    finally:
        stop.set()
        room.release()
        while producer.is_alive():
            _drain(handed)
            producer.join(timeout=0.05)
        _drain(handed)


def _drain(handed: queue.Queue) -> None:
    while True:
        try:
            handed.get_nowait()
        except queue.Empty:
            return
