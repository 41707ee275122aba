"""Pruning: finished TaskRuns of this service are deleted by age and by count per org and action, failures
kept longer than successes (issue 12.5). A TaskRun's Pod has an owner reference to it, so the garbage
collector deletes the Pod (and its logs) with it.

:func:`plan_prune` decides from the TaskRuns and the clock alone (pure). Within one org (installation id)
and action, the finished runs are ranked newest first, successes and failures apart; a run is kept only
while it is among the newest ``keep_successful`` (``keep_failed``) *and* younger than
``max_success_age`` (``max_failure_age``). Running TaskRuns (no ``Succeeded`` condition, or ``Unknown``)
are never touched. Cancelled and timed-out runs are failures, as Tekton reports them.

Tekton Pipelines has no pruner of its own; the Operator's (``TektonConfig`` ``pruner``) keeps N runs per
namespace or per resource, not per org and action, and is absent from plain Pipelines installs: hence
this CronJob.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from peribolos_core.durations import format_duration
from peribolos_core.errors import ConfigError, KubeError, KubeForbidden, PeribolosError
from peribolos_core.github import parse_timestamp

from .summary import RunSummary
from .tekton_api import TektonObjects
from .template import ACTION_LABEL, INSTALLATION_LABEL

log = logging.getLogger("peribolos.maintain")

PART_OF = "app.kubernetes.io/part-of=peribolos-as-a-service"
SELECTOR = f"{PART_OF},{ACTION_LABEL}"
"""This service's TaskRuns (every TriggerTemplate labels them so), those with an action only."""
ORG_ANNOTATION = "peribolos.dev/org"
DEFAULT_MAX_DELETIONS = 5000
"""Deletions one run makes at most (oldest first); the rest waits an hour. ~16 ms each (measured): ~80 s."""


class Outcome(Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RUNNING = "running"


@dataclass(frozen=True)
class Policy:
    """How many finished TaskRuns per org and action are kept, and for how long."""

    keep_successful: int = 5
    keep_failed: int = 20
    """Failures are kept longer: they are what someone reads to find out what went wrong."""
    max_success_age: timedelta = timedelta(days=7)
    max_failure_age: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        for flag, count in (("--keep-successful", self.keep_successful), ("--keep-failed", self.keep_failed)):
            if count < 0:
                raise ConfigError(f"{flag} must not be negative, got {count}")
        for flag, age in (("--max-success-age", self.max_success_age),
                          ("--max-failure-age", self.max_failure_age)):
            if age < timedelta(0):
                raise ConfigError(f"{flag} must not be negative, got {format_duration(age)}")

    def limits(self, outcome: Outcome) -> tuple[int, timedelta]:
        if outcome is Outcome.SUCCEEDED:
            return self.keep_successful, self.max_success_age
        return self.keep_failed, self.max_failure_age


@dataclass(frozen=True)
class Run:
    """What planning needs of one TaskRun."""

    name: str
    uid: str
    org: str
    """Its installation id (stable across renames), else its org login in lower case."""
    action: str
    outcome: Outcome
    finished_at: datetime | None
    """When it finished (None while running)."""


def _time(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value, "timestamp")
    except PeribolosError:
        return None


def run_of(taskrun: Mapping[str, Any]) -> Run | None:
    """The :class:`Run` of a TaskRun object; None when it has no name, uid or action (not one of ours)."""
    metadata = taskrun.get("metadata") or {}
    labels = metadata.get("labels") or {}
    name, uid, action = metadata.get("name"), metadata.get("uid"), labels.get(ACTION_LABEL)
    if not (name and uid and action):
        return None
    installation = labels.get(INSTALLATION_LABEL) or ""
    org = installation or str((metadata.get("annotations") or {}).get(ORG_ANNOTATION, "")).lower()
    status = taskrun.get("status") or {}
    condition = next((c for c in status.get("conditions") or [] if c.get("type") == "Succeeded"), {})
    outcomes = {"True": Outcome.SUCCEEDED, "False": Outcome.FAILED}
    outcome = outcomes.get(condition.get("status"), Outcome.RUNNING)
    finished = None
    if outcome is not Outcome.RUNNING:
        finished = (_time(status.get("completionTime")) or _time(condition.get("lastTransitionTime"))
                    or _time(metadata.get("creationTimestamp")))
    return Run(name, uid, org, action, outcome, finished)


@dataclass(frozen=True)
class Deletion:
    run: Run
    reason: str
    """``count`` (beyond the newest N of its kind) or ``age`` (older than the kind's maximum age)."""
    age: timedelta


def plan_prune(runs: Iterable[Run], now: datetime, policy: Policy) -> list[Deletion]:
    """The TaskRuns to delete, oldest first (pure). A finished run whose time is unknown counts as
    finished ``now``: kept by age, ranked by count."""
    groups: dict[tuple[str, str, Outcome], list[Run]] = defaultdict(list)
    for run in runs:
        if run.outcome is not Outcome.RUNNING:
            groups[(run.org, run.action, run.outcome)].append(run)
    out: list[Deletion] = []
    for (_, _, outcome), members in groups.items():
        keep, max_age = policy.limits(outcome)
        members.sort(key=lambda r: (r.finished_at or now, r.name), reverse=True)
        for rank, run in enumerate(members):
            age = now - (run.finished_at or now)
            if rank >= keep:
                out.append(Deletion(run, "count", age))
            elif age > max_age:
                out.append(Deletion(run, "age", age))
    out.sort(key=lambda d: (-d.age.total_seconds(), d.run.name))
    return out


@dataclass(frozen=True)
class PruneSummary(RunSummary):
    counts: dict[str, int]
    """``deleted``, ``gone`` (deleted by someone else meanwhile), ``failed``, ``deferred`` (over
    ``--max-deletions``), ``kept``, ``running``."""
    taskruns: int
    duration_s: float
    kube_requests: int
    dry_run: bool = False


class Pruner:
    """One prune run on the namespace's TaskRuns."""

    def __init__(
        self, tekton: TektonObjects, policy: Policy, *, max_deletions: int = DEFAULT_MAX_DELETIONS,
        dry_run: bool = False, now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_deletions < 1:
            raise ConfigError(f"--max-deletions must be at least 1, got {max_deletions}")
        self.tekton = tekton
        self.policy = policy
        self.max_deletions = max_deletions
        self.dry_run = dry_run
        self.now = now
        self.clock = clock

    def run(self) -> PruneSummary:
        """List, plan, delete; PeribolosError (nothing deleted) when the list cannot be read, KubeForbidden
        when RBAC refuses a deletion."""
        started = self.clock()
        runs = [run for run in map(run_of, self.tekton.taskruns(SELECTOR)) if run is not None]
        plan = plan_prune(runs, self.now(), self.policy)
        counts = Counter({key: 0 for key in ("deleted", "gone", "failed", "deferred")})
        counts["running"] = sum(run.outcome is Outcome.RUNNING for run in runs)
        counts["kept"] = len(runs) - counts["running"] - len(plan)
        counts["deferred"] = max(0, len(plan) - self.max_deletions)
        for deletion in plan[: self.max_deletions]:
            counts[self._delete(deletion)] += 1
        summary = PruneSummary(dict(counts), len(runs), round(self.clock() - started, 3),
                               self.tekton.request_count, self.dry_run)
        log.info("prune run finished", extra={"event": "summary", **summary.log_fields()})
        return summary

    def _delete(self, deletion: Deletion) -> str:
        run = deletion.run
        fields = {"taskrun": run.name, "org": run.org, "action": run.action, "outcome": run.outcome.value,
                  "reason": deletion.reason, "age": format_duration(deletion.age), "dry_run": self.dry_run}
        if self.dry_run:
            log.info("would delete TaskRun", extra={"event": "deleted", **fields})
            return "deleted"
        try:
            deleted = self.tekton.delete_taskrun(run.name, run.uid)
        except KubeForbidden:
            raise
        except KubeError as exc:
            log.error("could not delete TaskRun", extra={
                "event": "failed", **fields, "error_type": type(exc).__name__, "error": str(exc),
                "temporary": exc.temporary})
            return "failed"
        if not deleted:
            return "gone"
        log.info("TaskRun deleted", extra={"event": "deleted", **fields})
        return "deleted"
