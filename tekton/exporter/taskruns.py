"""This service's TaskRuns by action and outcome, from the objects alone (no I/O).

A TaskRun's outcome is its ``Succeeded`` condition: ``True`` succeeded; ``False`` failed, or cancelled /
timeout by its reason; ``Unknown`` (or none yet) running or pending. Labels are bounded: the action is one
of the action table's names or ``other``; no org, installation or repository ever becomes a label.

:class:`TaskRunBook` keeps the latest state of each TaskRun (by uid) as the watch reports it and counts each
completion once: only those that finished after the exporter started, so a restart does not count the
TaskRuns still kept in the namespace a second time (Prometheus' ``increase()`` would read a burst of them).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ACTION_LABEL = "peribolos.dev/action"
OUTCOMES = ("succeeded", "failed", "cancelled", "timeout")
"""Finished TaskRuns."""
STATES = ("pending", "running", *OUTCOMES)
OTHER = "other"
_REASONS = {"TaskRunCancelled": "cancelled", "TaskRunTimeout": "timeout"}


@dataclass(frozen=True)
class TaskRunState:
    uid: str
    action: str
    """An action of the table, or ``other``."""
    state: str
    """One of :data:`STATES`."""
    finished_at: float | None = None
    """Seconds since the epoch (``status.completionTime``), when finished."""
    duration_s: float | None = None
    """From ``status.startTime`` to the completion, when both are known."""

    @property
    def finished(self) -> bool:
        return self.state in OUTCOMES


def timestamp(value: Any) -> float | None:
    """An RFC 3339 time of the API as seconds since the epoch; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _condition(status: Mapping[str, Any]) -> Mapping[str, Any]:
    for condition in status.get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == "Succeeded":
            return condition
    return {}


def state_of(obj: Mapping[str, Any], actions: frozenset[str]) -> TaskRunState | None:
    """The TaskRun's state; None for an object without a uid (not a stored TaskRun)."""
    metadata = obj.get("metadata") or {}
    uid = metadata.get("uid")
    if not isinstance(uid, str) or not uid:
        return None
    action = (metadata.get("labels") or {}).get(ACTION_LABEL)
    action = action if action in actions else OTHER
    status = obj.get("status") or {}
    condition = _condition(status)
    started = timestamp(status.get("startTime"))
    if condition.get("status") == "True":
        state = "succeeded"
    elif condition.get("status") == "False":
        state = _REASONS.get(str(condition.get("reason")), "failed")
    else:
        return TaskRunState(uid, action, "running" if started is not None else "pending")
    finished = timestamp(status.get("completionTime")) or timestamp(condition.get("lastTransitionTime"))
    duration = finished - started if finished is not None and started is not None else None
    return TaskRunState(uid, action, state, finished, duration)


class TaskRunBook:
    """The TaskRuns as last seen; ``on_completed`` is called once for each completion after ``started_at``.
    Thread-safe: the watch writes, the metrics scrape reads."""

    def __init__(self, actions: Iterable[str], started_at: float,
                 on_completed: Callable[[TaskRunState], None]) -> None:
        self.actions = frozenset(actions)
        # Completion times are whole seconds: one in the second the exporter started may be after it.
        self.started_at = math.floor(started_at)
        self.on_completed = on_completed
        self._runs: dict[str, TaskRunState] = {}
        self._counted: set[str] = set()
        self._lock = threading.Lock()

    def replace(self, objects: Iterable[Mapping[str, Any]]) -> None:
        """After a list: these are all the TaskRuns there are."""
        states = [s for s in (state_of(o, self.actions) for o in objects) if s is not None]
        with self._lock:
            self._runs = {s.uid: s for s in states}
            self._counted &= set(self._runs)
        for state in states:
            self._see(state)

    def apply(self, kind: str, obj: Mapping[str, Any]) -> None:
        """One watch event (ADDED, MODIFIED, DELETED; BOOKMARK and ERROR carry no TaskRun)."""
        state = state_of(obj, self.actions) if kind in ("ADDED", "MODIFIED", "DELETED") else None
        if state is None:
            return
        if kind == "DELETED":
            with self._lock:
                self._runs.pop(state.uid, None)
                self._counted.discard(state.uid)
            return
        with self._lock:
            self._runs[state.uid] = state
        self._see(state)

    def _see(self, state: TaskRunState) -> None:
        if not state.finished or state.finished_at is None or state.finished_at < self.started_at:
            return
        with self._lock:
            if state.uid in self._counted:
                return
            self._counted.add(state.uid)
        self.on_completed(state)

    def states(self) -> Counter[tuple[str, str]]:
        """TaskRuns kept in the namespace by (action, state)."""
        with self._lock:
            return Counter((s.action, s.state) for s in self._runs.values())
