"""Fault injection: fail the next matching requests, or a fraction of all of them at random.

:class:`Fault` says how (5xx, timeout, disconnect, truncated body, 429, secondary or primary rate limit);
:class:`Faults` holds the queue and the random generator and decides per request; :func:`fault_reply`
turns a fault into GitHub's answer.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from tests.fakes.github.replies import MSG_PRIMARY, MSG_SECONDARY, Reply, error

TRUNCATE_HEADER = "x-fake-truncate"
"""Set on a reply the server must cut in half (never sent to the client)."""


@dataclass(frozen=True)
class Fault:
    """One way to fail a request. Build with the class methods."""

    kind: str
    status: int = 502
    retry_after: float | None = None
    delay: float = 0.0
    reset_in: float = 60.0

    @classmethod
    def server_error(cls, status: int = 502) -> Fault:
        return cls("status", status=status)

    @classmethod
    def timeout(cls, delay: float) -> Fault:
        """Answer only after ``delay`` seconds (longer than the client's timeout)."""
        return cls("timeout", delay=delay)

    @classmethod
    def disconnect(cls) -> Fault:
        """Close the connection without an answer."""
        return cls("disconnect")

    @classmethod
    def truncated(cls) -> Fault:
        """Send a 200's headers and half its body, then close the connection."""
        return cls("truncated", status=200)

    @classmethod
    def too_many_requests(cls, retry_after: float | None = 1) -> Fault:
        return cls("too_many", status=429, retry_after=retry_after)

    @classmethod
    def secondary_limit(cls, retry_after: float | None = None) -> Fault:
        return cls("secondary", status=403, retry_after=retry_after)

    @classmethod
    def primary_limit(cls, reset_in: float = 60.0) -> Fault:
        """403 with ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset`` ``reset_in`` seconds ahead."""
        return cls("primary", status=403, reset_in=reset_in)


@dataclass
class _Queued:
    fault: Fault
    remaining: int
    method: str | None
    path: re.Pattern[str] | None


class Faults:
    """The faults waiting for requests, and the random ones. Thread-safe."""

    def __init__(
        self,
        probability: float = 0.0,
        random_faults: Iterable[Fault] = (Fault.server_error(502), Fault.server_error(503)),
        seed: int = 0,
    ) -> None:
        self.probability = probability
        self.random_faults = tuple(random_faults)
        self._rng = random.Random(seed)
        self._queue: list[_Queued] = []
        self._lock = threading.Lock()

    def inject(
        self, fault: Fault, times: int = 1, method: str | None = None, path: str | None = None
    ) -> None:
        """Fail the next ``times`` requests matching ``method`` and the ``path`` regex (search)."""
        with self._lock:
            self._queue.append(_Queued(fault, times, method, re.compile(path) if path else None))

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if any: the first queued one that matches, else maybe a random one."""
        with self._lock:
            for queued in self._queue:
                if queued.remaining <= 0:
                    continue
                if queued.method and queued.method != method:
                    continue
                if queued.path and not queued.path.search(path):
                    continue
                queued.remaining -= 1
                return queued.fault
            self._queue = [q for q in self._queue if q.remaining > 0]
            if self.probability and self._rng.random() < self.probability:
                return self._rng.choice(self.random_faults)
        return None


def fault_reply(fault: Fault, now: float) -> Reply | None:
    """GitHub's answer for ``fault``; None for ``disconnect`` (close without answering). ``timeout`` is
    the caller's to sleep; it then answers normally."""
    if fault.kind == "disconnect":
        return None
    if fault.kind == "truncated":
        return Reply(200, {"message": "x" * 200}, {TRUNCATE_HEADER: "1"})
    if fault.kind == "status":
        return error(fault.status, "Server Error" if fault.status >= 500 else "Fault")
    headers = {"retry-after": str(int(fault.retry_after))} if fault.retry_after is not None else {}
    if fault.kind == "too_many":
        return error(429, "Too Many Requests", headers)
    if fault.kind == "secondary":
        return error(403, MSG_SECONDARY, headers)
    if fault.kind == "primary":
        limits = {
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(now + fault.reset_in)),
            "x-ratelimit-limit": "5000",
        }
        return error(403, MSG_PRIMARY, limits)
    raise ValueError(f"unknown fault kind {fault.kind!r}")
