"""The refresher's mint budget: at most N token mints in any 60-second window, shared by its worker threads.

It implements :class:`peribolos_core.tokens.MintBudget` (the minter asks it for a slot and sleeps as long
as it says). GitHub's secondary rate limit charges 5 points of 900 a minute per endpoint for a POST, so
about 180 mints a minute; the default budget of 150 stays under it whatever the number of installations.

A sliding log with reservations: each caller reserves the earliest instant that keeps every 60 s window
at or under the limit, then waits until it. Reserved instants never decrease, so the check only needs the
N-th most recent one. Slots are spaced ``window + margin`` apart (61 s by default): the request leaves a
moment after its slot, and that moment varies, so without the margin GitHub could count a few more than N
in a 60 s window (the benchmark saw 154 for 150 without it).

~50 lines here beat a library: pyrate-limiter and limits read the wall clock and sleep on their own, and
neither can answer "would this slot fall after the run's deadline?", which is how a run stops minting in
time and leaves the latest-expiring tokens to the next run.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable

from peribolos_core.errors import MintDeferred


class MintBudget:
    def __init__(self, per_minute: int, *, window: float = 60.0, margin: float = 1.0) -> None:
        if per_minute < 1:
            raise ValueError(f"mint budget must be at least 1 a minute, got {per_minute}")
        self.per_minute = per_minute
        self.window = window
        self.spacing = window + margin
        """Slot ``k + per_minute`` comes at least this long after slot ``k``."""
        self._slots: deque[float] = deque(maxlen=per_minute)
        self._hold_until = float("-inf")
        self._granted: list[float] = []
        self._lock = threading.Lock()

    def acquire(self, now: float, deadline: float | None = None) -> float:
        """Take the earliest mint slot at or after ``now``; the seconds until it. MintDeferred (taking
        nothing) when it would come after ``deadline``."""
        with self._lock:
            slot = max(now, self._hold_until)
            if len(self._slots) == self.per_minute:
                slot = max(slot, self._slots[0] + self.spacing)
            if deadline is not None and slot > deadline:
                raise MintDeferred(
                    f"the mint budget ({self.per_minute} a minute) has no slot before this run's deadline"
                )
            self._slots.append(slot)
            self._granted.append(slot)
        return slot - now

    def hold(self, now: float, seconds: float) -> None:
        """GitHub said to wait (``retry-after``): grant no slot before ``now + seconds``."""
        with self._lock:
            self._hold_until = max(self._hold_until, now + seconds)

    @property
    def used(self) -> int:
        """Slots granted so far (each one mint request sent)."""
        return len(self._granted)

    @property
    def granted(self) -> list[float]:
        """Every granted slot's instant (for the peak-rate figure)."""
        with self._lock:
            return list(self._granted)

    def capacity(self, seconds: float) -> int:
        """How many mints a run of ``seconds`` can surely get from an empty window: one burst per started
        ``spacing`` (the first slot comes a little after the run starts, so the burst a full ``seconds`` later
        would fall past the deadline)."""
        return self.per_minute * max(1, math.ceil(seconds / self.spacing))

    def __repr__(self) -> str:
        return f"MintBudget(per_minute={self.per_minute}, window={self.window})"


def peak_per_window(instants: Iterable[float], window: float = 60.0) -> int:
    """The most instants found in any half-open window ``[t, t + window)``."""
    times = sorted(instants)
    peak, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        peak = max(peak, end - start + 1)
    return peak
