"""The App's mint budget: at most N token mints in any 60-second window, whatever mints.

GitHub's secondary rate limit is per App: 900 points a minute per endpoint and 5 a POST, so about 180
mints a minute. The refresher, every install and every minting step of a TaskRun spend that one budget,
so it lives where they all see it: :class:`KubeMintBudget` keeps the window on a ConfigMap of the main
namespace and changes it with optimistic concurrency (the ``resourceVersion`` read; a 409 means re-read
and retry), so concurrent processes on any node take slots from one log. :class:`LocalMintBudget` is
the same window inside one process (its threads), for a program run without the shared budget.

The window is a log of reserved slots (instants, seconds since the epoch for the shared one). A caller
takes the earliest instant ``t`` at or after its ``now`` with

- ``t`` no earlier than the latest slot already taken (slots are handed out in order, whatever the
  callers' clocks say, so the log stays sorted);
- ``t`` at least ``spacing`` after the N-th most recent slot, so no ``spacing``-long window holds more
  than N; ``spacing`` is 61 s: a request leaves a moment after its slot and that moment varies, so
  without the margin GitHub could count a few more than N in its 60 s (a benchmark saw 154 for 150);
- ``t`` no earlier than ``hold_until``: GitHub rate-limited a mint and said how long to wait;

then waits until ``t``. A slot that would come after the caller's deadline is refused (MintDeferred) and
nothing is taken. ~150 lines here beat a rate-limit library: those read the wall clock and sleep on
their own, and none can answer "would this slot fall after my deadline?".
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from .config_maps import ConfigMaps, config_map, data_of, with_data
from .errors import KubeConflict, KubeNotFound, MintDeferred

log = logging.getLogger("peribolos.mint_budget")

WINDOW_SECONDS = 60.0
"""GitHub counts its secondary limit per minute."""
MARGIN_SECONDS = 1.0
"""Slot ``k + N`` comes ``WINDOW_SECONDS + MARGIN_SECONDS`` after slot ``k``."""
COMPONENT = "mint-budget"
"""The ConfigMap's ``app.kubernetes.io/component`` label."""
T = TypeVar("T")


@dataclass(frozen=True)
class Window:
    """The budget's state: slots taken (ascending) and the instant before which GitHub wants no mint."""

    slots: tuple[float, ...] = ()
    hold_until: float = float("-inf")

    def next_slot(self, now: float, per_minute: int, spacing: float) -> tuple[float, str]:
        """The earliest slot at or after ``now`` and why it is later than ``now`` ("" when it is not)."""
        slot, why = now, ""
        if self.slots and self.slots[-1] > slot:
            slot, why = self.slots[-1], "queue"
        if len(self.slots) >= per_minute and self.slots[-per_minute] + spacing > slot:
            slot, why = self.slots[-per_minute] + spacing, "window"
        if self.hold_until > slot:
            slot, why = self.hold_until, "hold"
        return math.ceil(slot * 1000) / 1000, why  # what is stored, to the millisecond

    def taken(self, slot: float, now: float, spacing: float) -> Window:
        """This window with ``slot`` added, forgetting slots that can no longer delay anyone."""
        kept = tuple(s for s in self.slots if s > now - spacing)
        return Window((*kept, slot), self.hold_until)

    def held(self, until: float) -> Window:
        return Window(self.slots, max(self.hold_until, until))

    def used(self, now: float, seconds: float = WINDOW_SECONDS) -> int:
        """Slots in ``(now - seconds, now]``: mints sent in the last minute."""
        return sum(1 for s in self.slots if now - seconds < s <= now)


def describe_wait(why: str, per_minute: int, spacing: float, slot: float) -> str:
    """Why a caller waits, in words for its log line."""
    if why == "hold":
        until = datetime.fromtimestamp(slot, UTC).isoformat(timespec="seconds") if slot > 1e9 \
            else f"{slot:.1f} s"
        return f"GitHub rate-limited a mint and asked to wait: no mint before {until}"
    if why == "window":
        return (f"the App's {per_minute} mints of the last {spacing:.0f} s are taken (the budget the "
                "refresher and every minting step share)")
    return "behind mints the others already reserved (the App's budget is full)"


def encode(window: Window, per_minute: int) -> dict[str, str]:
    """The ConfigMap's data for ``window`` (milliseconds are enough: slots are seconds apart)."""
    hold = "" if math.isinf(window.hold_until) else f"{window.hold_until:.3f}"
    return {"per-minute": str(per_minute), "slots": " ".join(f"{s:.3f}" for s in window.slots),
            "hold-until": hold}


def decode(data: Mapping[str, str]) -> Window:
    """The window of a ConfigMap's data; ValueError when it is not ours (edited by hand?)."""
    slots = tuple(sorted(float(part) for part in (data.get("slots") or "").split()))
    if any(math.isnan(s) or math.isinf(s) for s in slots):
        raise ValueError("slots must be finite numbers")
    hold = (data.get("hold-until") or "").strip()
    hold_until = float(hold) if hold else float("-inf")
    if math.isnan(hold_until):
        raise ValueError("hold-until must be a number")
    return Window(slots, hold_until)


def peak_per_window(instants: Iterable[float], window: float = WINDOW_SECONDS) -> int:
    """The most instants found in any half-open window ``[t, t + window)``."""
    times = sorted(instants)
    peak, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


class _Budget:
    """What both budgets share: the limit, the spacing, and the slots this process was granted."""

    def __init__(self, per_minute: int, window: float, margin: float) -> None:
        if per_minute < 1:
            raise ValueError(f"mint budget must be at least 1 a minute, got {per_minute}")
        self.per_minute = per_minute
        self.window = window
        self.spacing = window + margin
        """Slot ``k + per_minute`` comes at least this long after slot ``k``."""
        self._granted: list[float] = []
        self._lock = threading.Lock()

    def _deferred(self) -> MintDeferred:
        return MintDeferred(
            f"the mint budget ({self.per_minute} a minute) has no slot before this run's deadline"
        )

    @property
    def used(self) -> int:
        """Slots granted to this process so far (each one mint request sent)."""
        return len(self._granted)

    @property
    def granted(self) -> list[float]:
        """Every slot granted to this process (for the peak-rate figure)."""
        return list(self._granted)

    @property
    def seconds_per_mint(self) -> float:
        """The budget's long-run pace: ``spacing / per_minute`` (0.41 s at 150 a minute)."""
        return self.spacing / self.per_minute


class LocalMintBudget(_Budget):
    """The window in this process only, shared by its threads (a ``tokens.MintBudget``)."""

    def __init__(self, per_minute: int, *, window: float = WINDOW_SECONDS, margin: float = MARGIN_SECONDS
                 ) -> None:
        super().__init__(per_minute, window, margin)
        self._window = Window()

    def acquire(self, now: float, deadline: float | None = None) -> float:
        """Take the earliest mint slot at or after ``now``; the seconds until it. MintDeferred (taking
        nothing) when it would come after ``deadline``."""
        with self._lock:
            slot, _ = self._window.next_slot(now, self.per_minute, self.spacing)
            if deadline is not None and slot > deadline:
                raise self._deferred()
            self._window = self._window.taken(slot, now, self.spacing)
            self._granted.append(slot)
        return slot - now

    def hold(self, now: float, seconds: float) -> None:
        """GitHub said to wait (``retry-after``): grant no slot before ``now + seconds``."""
        with self._lock:
            self._window = self._window.held(now + seconds)

    def __repr__(self) -> str:
        return f"LocalMintBudget(per_minute={self.per_minute})"


class KubeMintBudget(_Budget):
    """The window on the ConfigMap ``name`` (created when missing), for every process of the App.

    ``now`` and ``deadline`` are seconds since the epoch (``time.time``): the callers run on different
    nodes, whose clocks NTP keeps within milliseconds (the 1 s margin covers them). A process keeps the
    object it last wrote and writes on it directly, so an uncontended slot costs one request; a 409 costs
    a read and a retry. The threads of one process take their turn under a lock, so they never conflict
    with each other. Waits longer than ``report_waits_over`` seconds are logged with how long and why.
    """

    def __init__(
        self,
        config_maps: ConfigMaps,
        name: str,
        per_minute: int,
        *,
        window: float = WINDOW_SECONDS,
        margin: float = MARGIN_SECONDS,
        max_attempts: int = 30,
        report_waits_over: float = 0.0,
        backoff: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(per_minute, window, margin)
        self.maps = config_maps
        self.name = name
        self.max_attempts = max_attempts
        self.report_waits_over = report_waits_over
        self._backoff = backoff
        self._jitter = jitter
        self._object: dict[str, Any] | None = None
        self.conflicts = 0
        """409s met so far (another process wrote first), for the benchmarks."""

    @property
    def where(self) -> str:
        return f"ConfigMap {self.maps.namespace}/{self.name}"

    def acquire(self, now: float, deadline: float | None = None) -> float:
        """Take the earliest slot at or after ``now`` in the shared window; the seconds until it.
        MintDeferred (nothing written) when it would come after ``deadline``."""

        def take(window: Window) -> tuple[tuple[float, str], Window]:
            slot, why = window.next_slot(now, self.per_minute, self.spacing)
            if deadline is not None and slot > deadline:
                raise self._deferred()
            return (slot, why), window.taken(slot, now, self.spacing)

        slot, why = self._update(take, now)
        self._granted.append(slot)
        wait = slot - now
        if wait > self.report_waits_over and wait > 0:
            reason = describe_wait(why, self.per_minute, self.spacing, slot)
            log.info(f"waiting {wait:.1f} s for a mint slot: {reason}",
                     extra={"event": "mint-budget-wait", "wait_s": round(wait, 3), "reason": why,
                            "mint_budget": self.name, "namespace": self.maps.namespace,
                            "mint_budget_per_minute": self.per_minute})
        return wait

    def hold(self, now: float, seconds: float) -> None:
        """GitHub said to wait: no process of the App gets a slot before ``now + seconds``."""
        self._update(lambda window: (None, window.held(now + seconds)), now)

    def window_now(self) -> Window:
        """The window as stored (a read; for figures)."""
        obj = self.maps.get(self.name)
        return self._decode(obj, time.time()) if obj is not None else Window()

    def _update(self, change: Callable[[Window], tuple[T, Window]], now: float) -> T:
        """Read-modify-write of the window under optimistic concurrency; ``change`` may raise (nothing is
        written then)."""
        with self._lock:
            obj = self._object
            for attempt in range(self.max_attempts):
                if obj is None:
                    obj = self._read_or_create()
                result, window = change(self._decode(obj, now))
                body = with_data(obj, encode(window, self.per_minute))
                try:
                    self._object = self.maps.replace(body)
                    return result
                except (KubeConflict, KubeNotFound):
                    self.conflicts += 1
                    self._object = obj = None
                    if attempt:
                        self._backoff(min(0.5, 0.01 * attempt) * self._jitter())
        raise KubeConflict(
            409, f"{self.where}: still changed by others after {self.max_attempts} attempts; retry the step"
        )

    def _read_or_create(self) -> dict[str, Any]:
        obj = self.maps.get(self.name)
        if obj is not None:
            return obj
        try:
            return self.maps.create(config_map(self.name, encode(Window(), self.per_minute), COMPONENT))
        except KubeConflict:  # created by another process in between
            obj = self.maps.get(self.name)
            if obj is None:
                raise
            return obj

    def _decode(self, obj: Mapping[str, Any], now: float) -> Window:
        try:
            return decode(data_of(obj))
        except ValueError as exc:
            # Fail safe: a window we cannot read may have been full; hold a whole spacing, then rewrite it.
            log.warning("mint budget ConfigMap is not in our format: its window counts as full; rewriting it",
                        extra={"mint_budget": self.name, "namespace": self.maps.namespace,
                               "problem": str(exc)})
            return Window((), now + self.spacing)

    def __repr__(self) -> str:
        return f"KubeMintBudget({self.where}, per_minute={self.per_minute})"


__all__ = ["COMPONENT", "KubeMintBudget", "LocalMintBudget", "Window", "decode", "describe_wait", "encode",
           "peak_per_window"]
