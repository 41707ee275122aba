"""A clock for code that takes ``clock`` and ``sleep`` callables: time moves only when someone sleeps."""

from __future__ import annotations


class FakeClock:
    """``clock()`` returns ``now``; ``clock.sleep(s)`` records ``s`` and advances ``now`` at once."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
