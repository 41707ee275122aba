"""The interceptor's Prometheus metrics, kept by ``prometheus_client`` in a registry of their own.

- ``peribolos_interceptor_requests_total{event,decision,code}``: every request. ``decision`` is the action
  or ``stop`` with the gRPC ``code``; requests that got no decision have ``decision="bad_request"``
  (400), ``"too_large"`` (413), ``"head_too_large"`` (431), ``"head_timeout"`` (408),
  ``"body_timeout"`` (408) or ``"too_many_connections"`` (503), with the HTTP status as ``code``;
- ``peribolos_interceptor_decisions_total{event,action,code}``: InterceptorRequests that got a decision,
  by the action taken (``none`` when stopped) and the gRPC code;
- ``peribolos_interceptor_request_duration_seconds``: time from the parsed HTTP request to the response.

Label values are bounded: an event name outside the known set is counted as ``other``, so a caller
cannot grow the series without limit. A registry per :class:`Metrics` (not the global one) keeps
interceptors built in one process (tests) apart.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""Text exposition format 0.0.4, what every Prometheus scrapes."""


class Metrics:
    """Thread-safe counters and one latency histogram (prometheus_client's own locking)."""

    def __init__(self, known_events: Iterable[str]) -> None:
        self._known = frozenset(known_events)
        self._children: dict[tuple[object, ...], Counter] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "peribolos_interceptor_requests",
            "Interceptor requests by event, decision and code.",
            ("event", "decision", "code"),
            registry=self.registry,
        )
        self._decisions = Counter(
            "peribolos_interceptor_decisions",
            "InterceptorRequests decided, by event, action taken (none when stopped) and gRPC code.",
            ("event", "action", "code"),
            registry=self.registry,
        )
        self._duration = Histogram(
            "peribolos_interceptor_request_duration_seconds",
            "Time from request read to response built.",
            buckets=BUCKETS,
            registry=self.registry,
        )

    def event_label(self, event: str) -> str:
        if not event:
            return "none"
        return event if event in self._known else "other"

    def observe(self, event: str, decision: str, code: int, seconds: float | None) -> None:
        """One request answered; ``seconds`` is None for those refused before a decision was timed."""
        self._child(self._requests, self.event_label(event), decision, str(code)).inc()
        if seconds is not None:
            self._duration.observe(seconds)

    def decided(self, event: str, action: str, code: int) -> None:
        """One InterceptorRequest decided: ``action`` taken, or "" when it was stopped."""
        self._child(self._decisions, self.event_label(event), action or "none", str(code)).inc()

    def _child(self, counter: Counter, *labels: str) -> Counter:
        """``counter.labels(*labels)``, remembered: the labels are few and bounded, the lookup is not free."""
        key = (id(counter), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*labels)
        return child

    def render(self) -> bytes:
        return generate_latest(self.registry)
