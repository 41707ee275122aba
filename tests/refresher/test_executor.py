"""Bounded concurrency: results in order, never more than N calls at once, the hard cap of 100."""

from __future__ import annotations

import threading
import time

import pytest

from token_refresher.executor import MAX_CONCURRENCY, run_bounded


class Gauge:
    """Counts calls in flight and remembers the most seen at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current = self.peak = 0

    def __call__(self, item: int) -> int:
        with self.lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
        time.sleep(0.005)
        with self.lock:
            self.current -= 1
        return item * 2


@pytest.mark.parametrize(("concurrency", "items", "max_peak"), [
    (1, 10, 1),
    (3, 30, 3),
    (8, 40, 8),
    (8, 2, 2),
    (100, 5, 5),
], ids=["sequential", "three", "default", "fewer-items-than-threads", "cap"])
def test_results_in_order_and_concurrency_bounded(concurrency, items, max_peak) -> None:
    gauge = Gauge()
    assert run_bounded(list(range(items)), gauge, concurrency) == [i * 2 for i in range(items)]
    assert 1 <= gauge.peak <= max_peak


def test_work_uses_the_threads_it_is_given() -> None:
    gauge = Gauge()
    barrier = threading.Barrier(4, timeout=5)

    def fn(item: int) -> int:
        barrier.wait()  # deadlocks (and times out) unless 4 calls run at once
        return gauge(item)

    assert run_bounded(list(range(8)), fn, 4) == [i * 2 for i in range(8)]


def test_items_start_in_the_order_given() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def fn(item: int) -> None:
        with lock:
            started.append(item)

    run_bounded(list(range(200)), fn, 1)
    assert started == list(range(200))


@pytest.mark.parametrize("concurrency", [0, -1, MAX_CONCURRENCY + 1], ids=["zero", "negative", "over-cap"])
def test_concurrency_out_of_range_is_refused(concurrency) -> None:
    with pytest.raises(ValueError, match="between 1 and 100"):
        run_bounded([1], lambda i: i, concurrency)


def test_empty_input() -> None:
    assert run_bounded([], lambda i: i, 8) == []
