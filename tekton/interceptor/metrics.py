"""Prometheus metrics in the text exposition format (version 0.0.4), written by hand.

Two families are all the interceptor needs, so a dependency would be more code to carry than this:

- ``peribolos_interceptor_requests_total{event,decision,code}``: decisions made (``decision`` is the
  action, or ``stop``; ``code`` the gRPC code), plus ``decision="bad_request"``/``"too_large"`` with the
  HTTP status as ``code`` for requests that got no decision;
- ``peribolos_interceptor_request_duration_seconds``: time from the parsed HTTP request to the response.

Label values are bounded: an event name outside the known set is counted as ``other``, so a caller
cannot grow the series without limit.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Thread-safe counters and one latency histogram."""

    def __init__(self, known_events: Iterable[str]) -> None:
        self._known = frozenset(known_events)
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = {}
        self._bucket_counts = [0] * (len(BUCKETS) + 1)
        self._sum = 0.0
        self._count = 0

    def event_label(self, event: str) -> str:
        if not event:
            return "none"
        return event if event in self._known else "other"

    def observe(self, event: str, decision: str, code: int, seconds: float | None) -> None:
        key = (self.event_label(event), decision, str(code))
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1
            if seconds is not None:
                self._bucket_counts[bisect.bisect_left(BUCKETS, seconds)] += 1
                self._sum += seconds
                self._count += 1

    def render(self) -> bytes:
        with self._lock:
            requests = sorted(self._requests.items())
            buckets = list(self._bucket_counts)
            total, count = self._sum, self._count
        lines = [
            "# HELP peribolos_interceptor_requests_total Interceptor requests by event, decision and code.",
            "# TYPE peribolos_interceptor_requests_total counter",
        ]
        for (event, decision, code), value in requests:
            labels = f'event="{_escape(event)}",decision="{_escape(decision)}",code="{_escape(code)}"'
            lines.append(f"peribolos_interceptor_requests_total{{{labels}}} {value}")
        lines += [
            "# HELP peribolos_interceptor_request_duration_seconds Time from request read to response built.",
            "# TYPE peribolos_interceptor_request_duration_seconds histogram",
        ]
        cumulative = 0
        for bound, value in zip((*BUCKETS, float("inf")), buckets, strict=True):
            cumulative += value
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'peribolos_interceptor_request_duration_seconds_bucket{{le="{le}"}} {cumulative}')
        lines.append(f"peribolos_interceptor_request_duration_seconds_sum {total!r}")
        lines.append(f"peribolos_interceptor_request_duration_seconds_count {count}")
        return ("\n".join(lines) + "\n").encode("utf-8")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
