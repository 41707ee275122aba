"""The mint budget: never more than N slots in any window, deadlines, GitHub's holds, and the peak figure.

The budget only answers how long to wait; ``take`` waits it out on the clock, as ``tokens.Minter`` does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from peribolos_core.errors import MintDeferred
from tests.fakes.clock import FakeClock
from token_refresher.budget import MintBudget, peak_per_window


def budget(per_minute: int, margin: float = 0.0) -> MintBudget:
    """Without the safety margin by default, so the arithmetic below is GitHub's plain minute."""
    return MintBudget(per_minute, margin=margin)


def take(limiter: MintBudget, clock: Callable[[], float], sleep: Callable[[float], None],
         deadline: float | None = None) -> bool:
    """Acquire a slot and wait for it; False when the budget defers (nothing taken)."""
    try:
        wait = limiter.acquire(clock(), deadline)
    except MintDeferred:
        return False
    if wait > 0:
        sleep(wait)
    return True


@pytest.mark.parametrize(("acquisitions", "expected_sleeps"), [
    pytest.param(5, [], id="burst-within-limit"),
    pytest.param(6, [60.0], id="one-over-waits-a-minute"),
    pytest.param(15, [60.0, 60.0], id="three-windows"),
])
def test_slots_wait_for_the_window(acquisitions, expected_sleeps) -> None:
    clock = FakeClock()
    limiter = budget(5)
    for _ in range(acquisitions):
        assert take(limiter, clock, clock.sleep)
    assert clock.slept == expected_sleeps
    assert limiter.used == acquisitions
    assert peak_per_window(limiter.granted) == min(5, acquisitions)


def test_slow_callers_never_wait() -> None:
    clock = FakeClock()
    limiter = budget(2)
    for _ in range(10):
        assert take(limiter, clock, clock.sleep)
        clock.now += 30.0
    assert clock.slept == []


def test_sliding_not_fixed_window() -> None:
    clock = FakeClock()
    limiter = budget(2)
    take(limiter, clock, clock.sleep)          # t=1000
    clock.now += 50
    take(limiter, clock, clock.sleep)          # t=1050
    clock.now += 20            # t=1070: the 1000 slot has left the window, the 1050 one has not
    take(limiter, clock, clock.sleep)
    assert clock.slept == []
    take(limiter, clock, clock.sleep)          # must wait until 1050 + 60
    assert clock.now == pytest.approx(1110.0)


@pytest.mark.parametrize(("deadline_offset", "granted", "capacity"), [
    pytest.param(0.0, 3, 3, id="no-time-one-burst"),
    pytest.param(59.0, 3, 3, id="before-second-window"),
    pytest.param(60.0, 6, 3, id="at-second-window"),
    pytest.param(61.0, 6, 6, id="just-after-second-window"),
    pytest.param(120.0, 9, 6, id="two-minutes"),
])
def test_deadline_refuses_slots_after_it_and_capacity_is_what_a_run_surely_gets(deadline_offset, granted,
                                                                               capacity) -> None:
    clock = FakeClock()
    limiter = budget(3)
    deadline = clock.now + deadline_offset
    got = 0
    while take(limiter, clock, clock.sleep, deadline):
        got += 1
    assert got == granted and limiter.used == granted
    # A run's first slot comes a moment after it starts: the burst exactly at the deadline is not sure.
    assert limiter.capacity(deadline_offset) == capacity


def test_late_first_slot_still_gets_the_planned_capacity() -> None:
    clock = FakeClock()
    limiter = budget(3)
    deadline = clock.now + 120.0
    clock.now += 0.5  # listing and planning took half a second
    got = 0
    while take(limiter, clock, clock.sleep, deadline):
        got += 1
    assert got >= limiter.capacity(120.0) == 6


def test_default_margin_spaces_bursts_61_seconds_apart() -> None:
    clock = FakeClock()
    limiter = MintBudget(2)
    for _ in range(5):
        take(limiter, clock, clock.sleep)
    assert clock.slept == [61.0, 61.0]
    assert limiter.capacity(20 * 60) == 2 * 20  # the default 20-minute run: 20 bursts


def test_refused_slot_is_not_taken() -> None:
    clock = FakeClock()
    limiter = budget(1)
    assert take(limiter, clock, clock.sleep, clock.now)
    with pytest.raises(MintDeferred, match="no slot before this run's deadline"):
        limiter.acquire(clock(), deadline=clock.now + 1)
    assert limiter.used == 1


def test_hold_delays_every_following_slot() -> None:
    clock = FakeClock()
    limiter = budget(100)
    take(limiter, clock, clock.sleep)
    limiter.hold(clock(), 7.5)
    take(limiter, clock, clock.sleep)
    assert clock.slept == [7.5]
    assert not take(limiter, clock, clock.sleep, clock.now - 1)


def test_threads_never_exceed_the_limit_in_any_window() -> None:
    limiter = MintBudget(4, window=0.05, margin=0.0)

    def worker() -> None:
        for _ in range(6):
            take(limiter, time.monotonic, time.sleep)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limiter.used == 30
    assert peak_per_window(limiter.granted, 0.05) == 4


@pytest.mark.parametrize("per_minute", [0, -3], ids=["zero", "negative"])
def test_budget_must_be_positive(per_minute) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MintBudget(per_minute)


@pytest.mark.parametrize(("instants", "window", "peak"), [
    ([], 60.0, 0),
    ([0.0], 60.0, 1),
    ([0.0, 59.9, 60.0], 60.0, 2),
    ([0.0, 1.0, 2.0, 100.0, 101.0], 60.0, 3),
    ([5.0, 1.0, 2.5], 2.0, 2),
], ids=["empty", "one", "half-open-window", "burst-then-pair", "unsorted"])
def test_peak_per_window(instants, window, peak) -> None:
    assert peak_per_window(instants, window) == peak
