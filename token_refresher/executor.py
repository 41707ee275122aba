"""Run one function over many items with a bounded number of threads, in order of submission.

The work is I/O-bound (GitHub and Kubernetes round trips), so threads are the right tool; GitHub's
secondary limits forbid more than 100 concurrent requests, hence the hard cap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 100

T = TypeVar("T")
R = TypeVar("R")


def check_concurrency(concurrency: int) -> int:
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}, got {concurrency}")
    return concurrency


def run_bounded(items: Sequence[T], fn: Callable[[T], R], concurrency: int = DEFAULT_CONCURRENCY) -> list[R]:
    """``[fn(item) for item in items]`` with at most ``concurrency`` calls at once.

    Items start in the order given (the pool's queue is FIFO), so the soonest-expiring tokens are minted
    first. ``fn`` should turn per-item failures into results; an exception it lets escape is re-raised
    here after the running calls finish.
    """
    check_concurrency(concurrency)
    if concurrency == 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items)), thread_name_prefix="refresh") as pool:
        return list(pool.map(fn, items))
