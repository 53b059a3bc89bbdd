"""prefetch: order, the bound on how far the producer runs ahead, exceptions at their position, early exit, cleanup."""

from __future__ import annotations

import threading

import pytest

from pmsync.source import SourceUnavailable
from pmsync.sync.prefetch import prefetch

WAIT = 30
"""Seconds a test waits for the producer to reach a point it must reach; only a broken prefetch ever waits this long."""


class Producer:
    """A generator of numbered items that records how far it ran ahead of the consumer and whether it was closed."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count = count
        self.fail_at = fail_at
        self.produced = 0
        self.consumed = 0
        self.most_ahead = 0
        self.closed = False
        self.threads: set[str] = set()
        self.changed = threading.Condition()

    def items(self):
        try:
            for number in range(self.count):
                if number == self.fail_at:
                    raise SourceUnavailable(f"source still failing at item {number}", request="GET /units?offset=40")
                with self.changed:
                    self.produced += 1
                    self.most_ahead = max(self.most_ahead, self.produced - self.consumed)
                    self.threads.add(threading.current_thread().name)
                    self.changed.notify_all()
                yield number
        finally:
            self.closed = True

    def asking(self) -> None:
        """The consumer is about to ask for the next item (counted before it asks, so the count is never late)."""
        with self.changed:
            self.consumed += 1

    def wait_until_produced(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.produced >= count, timeout=WAIT), f"producer stuck at {self.produced}"


def prefetch_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "pmsync-prefetch"]


def test_items_arrive_in_order_from_a_background_thread():
    producer = Producer(50)
    with prefetch(producer.items(), depth=2) as items:
        assert list(items) == list(range(50))
    assert producer.threads == {"pmsync-prefetch"} and producer.closed
    assert prefetch_threads() == []


@pytest.mark.parametrize("depth", [1, 3])
def test_the_producer_runs_ahead_but_never_more_than_depth_items(depth):
    producer = Producer(20)
    with prefetch(producer.items(), depth=depth) as items:
        while True:
            producer.asking()
            number = next(items, None)
            if number is None:
                break
            if number in (0, 10):
                producer.wait_until_produced(producer.consumed + depth)
    assert producer.most_ahead == depth, "it ran exactly as far ahead as allowed (the item in hand included), no further"


def test_a_producer_exception_is_raised_in_the_consumer_at_its_position_with_type_and_message():
    producer = Producer(10, fail_at=4)
    got = []
    with pytest.raises(SourceUnavailable, match=r"source still failing at item 4 \[GET /units\?offset=40\]") as failed:
        with prefetch(producer.items()) as items:
            for number in items:
                got.append(number)
    assert got == [0, 1, 2, 3]
    assert failed.value.retriable and failed.value.request == "GET /units?offset=40"
    assert prefetch_threads() == []


def test_breaking_out_early_stops_the_producer_closes_the_generator_and_joins_the_thread():
    producer = Producer(1_000_000)
    with prefetch(producer.items(), depth=2) as items:
        for number in items:
            producer.asking()
            if number == 3:
                producer.wait_until_produced(6)
                break
    assert producer.closed
    assert producer.produced <= 4 + 2
    assert prefetch_threads() == []


def test_a_consumer_exception_stops_the_producer_and_is_not_swallowed():
    producer = Producer(1_000_000)
    with pytest.raises(KeyError, match="checking failed"):
        with prefetch(producer.items()) as items:
            for number in items:
                if number == 2:
                    raise KeyError("checking failed")
    assert producer.closed and prefetch_threads() == []


def test_an_empty_source_and_a_plain_iterable_work():
    with prefetch([]) as items:
        assert list(items) == []
    with prefetch(range(3), depth=5) as items:
        assert list(items) == [0, 1, 2]
    assert prefetch_threads() == []


def test_a_depth_below_one_is_refused():
    with pytest.raises(ValueError, match="depth must be at least 1"):
        with prefetch([1], depth=0):
            pass
