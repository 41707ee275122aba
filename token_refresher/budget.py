"""The mint budget: at most N token mints in any 60-second window, shared by all worker threads.

GitHub's secondary rate limit charges 5 points of 900 a minute per endpoint for a POST, so about 180
mints a minute; the default budget of 150 stays under it whatever the number of installations.

A sliding log with reservations: each caller reserves the earliest instant that keeps every 60 s window
at or under the limit, then sleeps until it. Reserved instants never decrease, so the check only needs the
N-th most recent one. ~40 lines here beat a library: pyrate-limiter and limits read the wall clock and sleep
on their own, and neither can answer "would this slot fall after the run's deadline?", which is how a run
stops minting in time and leaves the latest-expiring tokens to the next run.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable


class MintBudget:
    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        window: float = 60.0,
    ) -> None:
        if per_minute < 1:
            raise ValueError(f"mint budget must be at least 1 a minute, got {per_minute}")
        self.per_minute = per_minute
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._slots: deque[float] = deque(maxlen=per_minute)
        self._hold_until = float("-inf")
        self._granted: list[float] = []
        self._lock = threading.Lock()

    def acquire(self, deadline: float | None = None) -> bool:
        """Wait for a mint slot and take it; False (taking nothing) when it would come after ``deadline``."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._hold_until)
            if len(self._slots) == self.per_minute:
                slot = max(slot, self._slots[0] + self.window)
            if deadline is not None and slot > deadline:
                return False
            self._slots.append(slot)
            self._granted.append(slot)
        if slot > now:
            self._sleep(slot - now)
        return True

    def hold(self, seconds: float) -> None:
        """GitHub said to wait (``retry-after``): grant no slot before ``seconds`` from now."""
        with self._lock:
            self._hold_until = max(self._hold_until, self._clock() + seconds)

    def now(self) -> float:
        """The budget's clock (deadlines passed to :meth:`acquire` are on it)."""
        return self._clock()

    @property
    def used(self) -> int:
        return len(self._granted)

    @property
    def granted(self) -> list[float]:
        """Every granted slot's instant on the budget's clock (for the peak-rate figure)."""
        with self._lock:
            return list(self._granted)

    def capacity(self, seconds: float) -> int:
        """How many mints fit in a run of ``seconds`` from an empty window (0 s still allows one burst)."""
        return self.per_minute * (int(seconds // self.window) + 1)


def peak_per_window(instants: Iterable[float], window: float = 60.0) -> int:
    """The most instants found in any half-open window ``[t, t + window)``."""
    times = sorted(instants)
    peak, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        peak = max(peak, end - start + 1)
    return peak
