"""Drift repair: a sync TaskRun of every active installation's config repository at its default branch
head, so that changes made by hand in GitHub's UI are reverted (issue 12.4).

One run: read the TriggerTemplate ``peribolos-sync`` (and make one TaskRun of it on paper, so that a
template it cannot use stops the run before anything is created), list the App's installations, list the
sync TaskRuns the namespace holds, plan (:func:`plan_drift`, pure), then create one TaskRun per planned
installation, paced by :class:`Pacer`. Nothing is minted here: the App's JWT lists the installations;
each TaskRun's own steps mint its tokens.

The pace, ``--taskruns-per-minute`` (default :data:`DEFAULT_PER_MINUTE`, at most :data:`MAX_PER_MINUTE`),
keeps a run inside the App's budgets whatever the number of installations:

- mints: a sync TaskRun mints about 3 tokens, so 5 a minute cost 15 of the App-wide 150 mints a minute
  (8 a minute: 24), and the refresher and webhook syncs keep the rest;
- content creation (GitHub: ~80 requests a minute, 500 an hour): a drift TaskRun reports with
  ``report: changes``, one check run only when peribolos changed something or something failed, so even a
  run in which every org changed makes at most 8 a minute, 480 an hour; one that finds nothing posts none.

Installations never synced, or synced longest ago, come first: a run that reaches ``--max-run-time``
before the end leaves those synced most recently to the next run (``deferred`` in the summary).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from peribolos_core.actions import ACTIONS, SYNC
from peribolos_core.errors import (
    ConfigError,
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeNotFound,
    PeribolosError,
)
from peribolos_core.github import GitHubApp, Installation, parse_timestamp
from peribolos_core.settings import org_allowed

from .summary import RunSummary
from .tekton_api import TektonObjects
from .template import (
    ACTION_LABEL,
    INSTALLATION_LABEL,
    RUN_ANNOTATION,
    TRIGGER_LABEL,
    drift_taskrun,
)

log = logging.getLogger("peribolos.maintain")

SYNC_TEMPLATE = ACTIONS.get(SYNC).resource  # type: ignore[union-attr]
"""The TriggerTemplate drift runs are made from (the sync row's: ``peribolos-sync``)."""
DEFAULT_PER_MINUTE = 5
MAX_PER_MINUTE = 8
"""The most drift TaskRuns a minute: even if every one posted its check run, 8 x 60 = 480 stays under
GitHub's 500 content-creating requests an hour (and its 80 a minute), and 8 x 3 = 24 mints a minute leave
the App-wide budget of 150 to the refresher and the webhooks."""
SYNC_SELECTOR = f"{ACTION_LABEL}={SYNC}"
ORGANIZATION = "Organization"
SKIP_REASONS = ("user-account", "suspended", "not-allowed", "made-by-this-run")


@dataclass(frozen=True)
class SyncHistory:
    """What the namespace's sync TaskRuns tell a drift run."""

    last_sync: Mapping[int, datetime]
    """Installation id → when its newest sync TaskRun (of any trigger) was created."""
    made_by_run: frozenset[int]
    """Installations the current drift run has made a TaskRun for already (a retried Job)."""


def sync_history(taskruns: Iterable[Mapping[str, Any]], run_id: str) -> SyncHistory:
    """Read :class:`SyncHistory` off sync TaskRuns (pure); ones without a usable installation id count
    for nothing."""
    last: dict[int, datetime] = {}
    made: set[int] = set()
    for taskrun in taskruns:
        metadata = taskrun.get("metadata") or {}
        raw_id = (metadata.get("labels") or {}).get(INSTALLATION_LABEL, "")
        if not (isinstance(raw_id, str) and raw_id.isdigit()):
            continue
        installation_id = int(raw_id)
        try:
            created = parse_timestamp(metadata.get("creationTimestamp"), "creationTimestamp")
        except PeribolosError:
            created = datetime.min.replace(tzinfo=UTC)
        if installation_id not in last or created > last[installation_id]:
            last[installation_id] = created
        if (metadata.get("annotations") or {}).get(RUN_ANNOTATION) == run_id:
            made.add(installation_id)
    return SyncHistory(last, frozenset(made))


@dataclass(frozen=True)
class DriftPlan:
    due: list[Installation]
    """Installations to sync, in order: never synced first, then the longest ago."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Installations left out, by reason (:data:`SKIP_REASONS`)."""


def plan_drift(
    installations: Iterable[Installation], history: SyncHistory, allowed_orgs: frozenset[str] | None
) -> DriftPlan:
    """Which installations a drift run syncs, and in which order (pure)."""
    due: list[Installation] = []
    skipped: Counter[str] = Counter()
    for installation in installations:
        if installation.account_type != ORGANIZATION:
            skipped["user-account"] += 1
        elif installation.suspended:
            skipped["suspended"] += 1
        elif not org_allowed(installation.account_login, allowed_orgs):
            skipped["not-allowed"] += 1
        elif installation.id in history.made_by_run:
            skipped["made-by-this-run"] += 1
        else:
            due.append(installation)
    never = datetime.min.replace(tzinfo=UTC)
    due.sort(key=lambda i: (history.last_sync.get(i.id, never), i.id))
    return DriftPlan(due, skipped)


class Pacer:
    """At most ``per_minute`` starts a minute, evenly spaced (one every ``60 / per_minute`` s), the first
    at once. ``clock`` and ``sleep`` are monotonic seconds and a way to wait them."""

    def __init__(self, per_minute: int, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        if per_minute < 1:
            raise ConfigError(f"--taskruns-per-minute must be at least 1, got {per_minute}")
        self.interval = 60.0 / per_minute
        self.clock = clock
        self.sleep = sleep
        self._next: float | None = None

    def take(self, deadline: float) -> bool:
        """Wait for the next start; False (without waiting) when it would come after ``deadline``."""
        now = self.clock()
        slot = now if self._next is None else max(now, self._next)
        if slot > deadline:
            return False
        if slot > now:
            self.sleep(slot - now)
        self._next = slot + self.interval
        return True


@dataclass(frozen=True)
class DriftSummary(RunSummary):
    counts: dict[str, int]
    """``created``, ``exists`` (made before under the same name), ``failed``, ``deferred`` (not reached
    before ``--max-run-time``) and each skip reason."""
    installations: int
    duration_s: float
    github_requests: int
    kube_requests: int
    dry_run: bool = False


@dataclass(frozen=True)
class DriftOptions:
    run_id: str
    """The drift run (its Job's name): TaskRuns carry it, so a retried Job makes none twice."""
    config_repo: str = ".github"
    config_path: str = "peribolos.yaml"
    per_minute: int = DEFAULT_PER_MINUTE
    max_run_time: timedelta = timedelta(hours=23)
    """Create no TaskRun after this long (the CronJob's deadline minus a margin)."""
    allowed_orgs: frozenset[str] | None = None
    dry_run: bool = False
    """Let the API server check each TaskRun (server-side dry run) and store none."""

    def __post_init__(self) -> None:
        if not self.run_id.strip():
            raise ConfigError("--run-id / RUN_ID is empty")
        if not 1 <= self.per_minute <= MAX_PER_MINUTE:
            raise ConfigError(
                f"--taskruns-per-minute must be between 1 and {MAX_PER_MINUTE} (GitHub's 500 "
                f"content-creating requests an hour, the App's mint budget), got {self.per_minute}"
            )
        if self.max_run_time <= timedelta(0):
            raise ConfigError("--max-run-time must be positive")
        path = self.config_path
        if not path or path.startswith("/") or ".." in path.split("/"):
            raise ConfigError(f"--config-path {path!r} must be a relative file path inside the repository")


class DriftRepair:
    """One drift run on a GitHub App client and the namespace's Tekton objects."""

    def __init__(
        self, app: GitHubApp, tekton: TektonObjects, options: DriftOptions, *,
        clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.app = app
        self.tekton = tekton
        self.options = options
        self.clock = clock
        self.sleep = sleep

    def load_template(self) -> dict[str, Any]:
        """The sync TriggerTemplate, tried on paper once; ConfigError when it is missing or unusable."""
        try:
            template = self.tekton.trigger_template(SYNC_TEMPLATE)
        except KubeNotFound as exc:
            raise ConfigError(
                f"TriggerTemplate {SYNC_TEMPLATE} not found in namespace {self.tekton.namespace}: drift "
                "repair needs the sync action wired (values events.sync: true) and the render applied"
            ) from exc
        try:
            self._taskrun(template, Installation(1, "example-org", ORGANIZATION, False))
        except PeribolosError as exc:
            raise ConfigError(str(exc)) from exc
        return template

    def _taskrun(self, template: Mapping[str, Any], installation: Installation) -> dict[str, Any]:
        o = self.options
        return drift_taskrun(template, installation, run_id=o.run_id, config_repo=o.config_repo,
                             config_path=o.config_path)

    def run(self) -> DriftSummary:
        """Plan and create; PeribolosError (nothing created) when the template, GitHub's list of
        installations or the TaskRun list cannot be read."""
        started = self.clock()
        deadline = started + self.options.max_run_time.total_seconds()
        template = self.load_template()
        installations = list(self.app.iter_installations())
        history = sync_history(self.tekton.taskruns(SYNC_SELECTOR), self.options.run_id)
        plan = plan_drift(installations, history, self.options.allowed_orgs)
        counts: Counter[str] = Counter({key: 0 for key in ("created", "exists", "failed", "deferred")})
        counts.update(plan.skipped)
        pacer = Pacer(self.options.per_minute, self.clock, self.sleep)
        for index, installation in enumerate(plan.due):
            if not pacer.take(deadline):
                counts["deferred"] = len(plan.due) - index
                log.warning("max run time reached: the installations synced most recently wait for the next "
                            "run", extra={"event": "deferred", "deferred": counts["deferred"]})
                break
            counts[self._create(template, installation)] += 1
        summary = DriftSummary(
            dict(counts), len(installations), round(self.clock() - started, 3), self.app.request_count,
            self.tekton.request_count, self.options.dry_run,
        )
        log.info("drift repair run finished", extra={"event": "summary", **summary.log_fields()})
        return summary

    def _create(self, template: Mapping[str, Any], installation: Installation) -> str:
        """Create one TaskRun; its outcome (``created``, ``exists``, ``failed``). KubeForbidden goes up:
        no other creation can succeed either."""
        fields = {"installation_id": installation.id, "org": installation.account_login,
                  "dry_run": self.options.dry_run}
        try:
            taskrun = self._taskrun(template, installation)
            made = self.tekton.create_taskrun(taskrun, dry_run=self.options.dry_run)
        except KubeConflict:
            log.info("a TaskRun of this drift run exists already", extra={"event": "exists", **fields})
            return "exists"
        except KubeForbidden:
            raise
        except (KubeError, ConfigError) as exc:
            # ConfigError: what GitHub says of this installation cannot go into a TaskRun (its login).
            log.error("could not create the sync TaskRun", extra={
                "event": "failed", **fields, "error_type": type(exc).__name__, "error": str(exc),
                "temporary": exc.temporary})
            return "failed"
        name = (made.get("metadata") or {}).get("name") or (taskrun.get("metadata") or {}).get("generateName")
        labels = (taskrun.get("metadata") or {}).get("labels") or {}
        log.info("sync TaskRun created", extra={"event": "created", **fields, "taskrun": name,
                                                "trigger": labels.get(TRIGGER_LABEL)})
        return "created"
