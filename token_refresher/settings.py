"""The refresher's settings: one frozen object, validated at start-up, messages naming the flag.

The App (and its mint budget), GitHub and Kubernetes settings, and the duration and ``--allowed-orgs``
rules, are the shared ones (:mod:`peribolos_core.settings`); what is checked here is the refresher's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from peribolos_core.durations import format_duration
from peribolos_core.errors import ConfigError
from peribolos_core.settings import AppSettings, KubeSettings, check_min_valid

from .executor import DEFAULT_CONCURRENCY, MAX_CONCURRENCY
from .plan import DEFAULT_DISALLOWED_GRACE
from .reconcile import default_run_time

LONGEST_INTERVAL = timedelta(minutes=30)
"""The seed's schedule, every 30 minutes, is the longest gap allowed between two runs."""


@dataclass(frozen=True)
class Settings:
    app: AppSettings
    """The App's id and key, where GitHub is, and the App-wide mint budget."""
    kube: KubeSettings
    """The namespace holding the token Secrets, and the kubeconfig (None: in-cluster)."""
    margin: timedelta = timedelta(minutes=15)
    """Validity every stored token keeps at any instant: each is re-minted just before it would fall under
    it. 15 m covers a missed run (with the 10 m schedule) and TaskRuns reading a Secret."""
    interval: timedelta = LONGEST_INTERVAL
    """The longest gap until the next run (the CronJob's schedule; the generator renders it from the
    schedule). A run mints what would fall below the margin before the next run could mint it."""
    max_run_time: timedelta | None = None
    """Start no mint after this long (None: a minute before the next run), so a run ends before the next
    one starts (the CronJob forbids two at once) and inside the Job's ``activeDeadlineSeconds``."""
    concurrency: int = DEFAULT_CONCURRENCY
    """Installations handled at once (threads); GitHub forbids more than 100 concurrent requests."""
    dry_run: bool = False
    """Plan and log what would change, mint nothing and write nothing."""
    allowed_orgs: frozenset[str] | None = None
    """Lower-case logins of the orgs served (the interceptor's ``--allowed-orgs``); None serves every org."""
    disallowed_grace: timedelta = DEFAULT_DISALLOWED_GRACE
    """How long the Secret of an org outside allowedOrgs is kept (unminted) before it is deleted: an
    allowedOrgs edit undone within it costs nothing."""
    status_config_map: str = ""
    """ConfigMap (in the budget's namespace) the run's figures go to for the metrics exporter; "": none."""

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ConfigError(
                f"--concurrency must be between 1 and {MAX_CONCURRENCY} (GitHub's limit on concurrent "
                f"requests), got {self.concurrency}"
            )
        check_min_valid(self.margin, "--margin")
        if not timedelta(minutes=1) <= self.interval <= LONGEST_INTERVAL:
            raise ConfigError(f"--interval must be between 1m and 30m (the longest gap between two runs), "
                              f"got {format_duration(self.interval)}")
        if self.max_run_time is not None and not timedelta(0) < self.max_run_time <= self.interval:
            raise ConfigError(f"--max-run-time must be positive and at most --interval "
                              f"({format_duration(self.interval)}), got {format_duration(self.max_run_time)}")
        if self.disallowed_grace < timedelta(0):
            raise ConfigError(
                f"--disallowed-org-grace must not be negative, got {format_duration(self.disallowed_grace)}"
            )

    @property
    def run_time(self) -> timedelta:
        return self.max_run_time or default_run_time(self.interval)

    @property
    def over_github_limit(self) -> bool:
        return self.app.mint_budget.over_github_limit
