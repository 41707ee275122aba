"""The exporter's metrics, in a ``prometheus_client`` registry of their own.

Counted as the TaskRuns finish (:class:`~tekton.exporter.taskruns.TaskRunBook` calls :meth:`completed`):

- ``peribolos_taskruns_completed_total{action,outcome}``: TaskRuns of this service that finished since the
  exporter started, ``outcome`` one of succeeded, failed, cancelled, timeout (every pair starts at 0, so
  ``increase()`` sees the first failure);
- ``peribolos_taskrun_duration_seconds{action,outcome}``: from start to completion.

Read at each scrape (one request each; a failed read counts ``peribolos_exporter_read_errors_total{object}``
and leaves those series out of that scrape, never the others):

- ``peribolos_taskruns{action,state}``: the TaskRuns kept in the namespace, by state (pending, running
  and the outcomes);
- the refresher's last run, from its status ConfigMap: ``peribolos_refresher_last_run_timestamp_seconds``,
  ``..._duration_seconds``, ``..._exit_code``, ``peribolos_refresher_last_run_installations{result}``
  (refreshed, created, deleted, suspended, disallowed, skipped, fresh, deferred, failed),
  ``..._tokens_minted``, ``..._mint_requests``, ``..._below_margin``, ``..._missing_tokens``,
  ``peribolos_refresher_margin_seconds``, ``peribolos_refresher_earliest_token_expiry_timestamp_seconds``
  and ``peribolos_refresher_oldest_token_age_seconds`` (now minus the issue time of the token closest to
  expiry: a token lives one hour);
- its Jobs: ``peribolos_refresher_last_job_succeeded`` (1 or 0: the most recently finished one),
  ``peribolos_refresher_last_job_finished_timestamp_seconds``, ``peribolos_refresher_jobs{state}``;
- the App-wide mint budget: ``peribolos_mint_budget_used`` (mints in the last 60 s, any process),
  ``peribolos_mint_budget_reserved`` (slots taken for later: minters waiting),
  ``peribolos_mint_budget_per_minute``.

Nothing here reads a Secret: token ages come from the refresher's own figures.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from peribolos_core.config_maps import ConfigMaps, data_of
from peribolos_core.errors import PeribolosError
from peribolos_core.kube_objects import NamespacedObjects
from peribolos_core.mint_budget import Window, decode
from peribolos_core.run_status import RESULTS, RunStatus, RunStatusStore
from peribolos_core.settings import TOKEN_LIFETIME

from .taskruns import OTHER, OUTCOMES, STATES, TaskRunBook, TaskRunState, timestamp

log = logging.getLogger("peribolos.exporter")
BUCKETS = (5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)


@dataclass(frozen=True)
class Sources:
    """Where the scrape-time figures come from (None: that family is not exported)."""

    refresher_status: RunStatusStore | None = None
    refresher_jobs: NamespacedObjects | None = None
    mint_budget: tuple[ConfigMaps, str, int] | None = None
    """The budget's ConfigMaps, its name and the per-minute limit."""


class ExporterMetrics:
    def __init__(self, actions: Iterable[str], sources: Sources, clock: Callable[[], float] = time.time
                 ) -> None:
        self.actions = tuple(actions)
        self.sources = sources
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        self.book: TaskRunBook | None = None
        # First: its reads run before the counters are collected, so a failed read counts in the same scrape.
        self.registry.register(_Snapshot(self))
        self._completed = Counter("peribolos_taskruns_completed",
                                  "TaskRuns of this service that finished since the exporter started.",
                                  ("action", "outcome"), registry=self.registry)
        self._duration = Histogram("peribolos_taskrun_duration_seconds",
                                   "TaskRun duration, start to completion.", ("action", "outcome"),
                                   buckets=BUCKETS, registry=self.registry)
        self._read_errors = Counter("peribolos_exporter_read_errors",
                                    "Reads of the Kubernetes API that failed at a scrape.", ("object",),
                                    registry=self.registry)
        for action in (*self.actions, OTHER):
            for outcome in OUTCOMES:
                self._completed.labels(action, outcome)

    def completed(self, state: TaskRunState) -> None:
        self._completed.labels(state.action, state.state).inc()
        if state.duration_s is not None and state.duration_s >= 0:
            self._duration.labels(state.action, state.state).observe(state.duration_s)

    def read(self, name: str, read: Callable[[], Any]) -> Any:
        """``read()``, or None (counted and logged) when the API refuses or fails."""
        try:
            return read()
        except (PeribolosError, ValueError) as exc:
            self._read_errors.labels(name).inc()
            log.warning("cannot read for the metrics",
                        extra={"object": name, "error_type": type(exc).__name__, "error": str(exc)})
            return None


def _gauge(name: str, documentation: str, value: float | None = None, labels: Iterable[str] = (),
           samples: Iterable[tuple[tuple[str, ...], float]] = ()) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=list(labels) or None)
    if value is not None:
        family.add_metric([], value)
    for values, sample in samples:
        family.add_metric(list(values), sample)
    return family


class _Snapshot:
    """The scrape-time families (a custom collector: ``describe`` names them without any read)."""

    def __init__(self, metrics: ExporterMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        now = m.clock()
        if m.book is not None:
            states = m.book.states()
            pairs = [(a, s) for a in (*m.actions, OTHER) for s in STATES]
            yield _gauge("peribolos_taskruns", "TaskRuns of this service kept in the namespace, by state.",
                         labels=("action", "state"), samples=((p, states.get(p, 0)) for p in pairs))
        if m.sources.refresher_status is not None:
            status = m.read("refresher-status", m.sources.refresher_status.read)
            if status is not None:
                yield from refresher_families(status, now)
        if m.sources.refresher_jobs is not None:
            found = m.read("refresher-jobs", m.sources.refresher_jobs.list)
            if found is not None:
                yield from job_families(found[0])
        if m.sources.mint_budget is not None:
            maps, name, per_minute = m.sources.mint_budget
            obj = m.read("mint-budget", lambda: maps.get(name))
            window = m.read("mint-budget", lambda: decode(data_of(obj))) if obj is not None else Window()
            if window is not None:
                yield from budget_families(window, per_minute, now)


def refresher_families(status: RunStatus, now: float) -> Iterator[GaugeMetricFamily]:
    """The refresher's last run as gauges (pure)."""
    prefix = "peribolos_refresher_last_run"
    yield _gauge(f"{prefix}_timestamp_seconds", "When the refresher's last run ended.", status.finished_at)
    yield _gauge(f"{prefix}_duration_seconds", "How long the refresher's last run took.", status.duration_s)
    yield _gauge(f"{prefix}_exit_code", "Exit code of the last run: 0 all succeeded, 1 some failed.",
                 status.exit_code)
    yield _gauge(f"{prefix}_installations", "Installations by what the last run did.", labels=("result",),
                 samples=(((r,), status.counts.get(r, 0)) for r in RESULTS))
    yield _gauge(f"{prefix}_tokens_minted", "Tokens the last run minted and stored.", status.tokens_minted)
    yield _gauge(f"{prefix}_mint_requests", "Mint slots the last run took.", status.mint_requests)
    yield _gauge(f"{prefix}_below_margin", "Tokens the last run found with less than the margin left.",
                 status.below_margin)
    yield _gauge(f"{prefix}_missing_tokens", "Served installations left without a token Secret.",
                 status.missing)
    yield _gauge("peribolos_refresher_margin_seconds", "Validity every stored token should keep.",
                 status.margin_s)
    if status.earliest_expiry is not None:
        yield _gauge("peribolos_refresher_earliest_token_expiry_timestamp_seconds",
                     "Expiry of the stored token closest to expiry, when the last run ended.",
                     status.earliest_expiry)
        issued = status.earliest_expiry - TOKEN_LIFETIME.total_seconds()
        yield _gauge("peribolos_refresher_oldest_token_age_seconds",
                     "Age of the oldest stored token now (it was minted an hour before it expires).",
                     max(0.0, now - issued))


def _job_state(job: Mapping[str, Any]) -> tuple[str, float | None]:
    status = job.get("status") or {}
    for condition in status.get("conditions") or []:
        if not isinstance(condition, Mapping) or condition.get("status") != "True":
            continue
        when = condition.get("lastTransitionTime")
        if condition.get("type") == "Failed":
            return "failed", timestamp(status.get("completionTime") or when)
        if condition.get("type") == "Complete":
            return "succeeded", timestamp(status.get("completionTime") or when)
    return "active", None


def job_families(jobs: list[dict[str, Any]]) -> Iterator[GaugeMetricFamily]:
    """The refresher's Jobs as gauges: the most recently finished one, and how many in each state (pure)."""
    states = [_job_state(job) for job in jobs]
    finished = [(when, state) for state, when in states if when is not None]
    counts = {s: sum(1 for x, _ in states if x == s) for s in ("active", "succeeded", "failed")}
    yield _gauge("peribolos_refresher_jobs", "Refresher Jobs kept in the namespace, by state.",
                 labels=("state",), samples=(((s,), n) for s, n in counts.items()))
    if finished:
        when, state = max(finished)
        yield _gauge("peribolos_refresher_last_job_succeeded",
                     "1 when the most recently finished refresher Job succeeded, 0 when it failed.",
                     1.0 if state == "succeeded" else 0.0)
        yield _gauge("peribolos_refresher_last_job_finished_timestamp_seconds",
                     "When the most recently finished refresher Job ended.", when)


def budget_families(window: Window, per_minute: int, now: float) -> Iterator[GaugeMetricFamily]:
    """The App-wide mint budget's use (pure)."""
    yield _gauge("peribolos_mint_budget_per_minute", "Mints the App allows itself in any 60 s.", per_minute)
    yield _gauge("peribolos_mint_budget_used", "Mints of the App in the last 60 s (every process).",
                 window.used(now))
    yield _gauge("peribolos_mint_budget_reserved", "Mint slots taken for later: minters waiting for them.",
                 sum(1 for s in window.slots if s > now))
