"""The refresher's settings: one frozen object, validated at start-up, messages naming the flag.

The App, GitHub and Kubernetes settings, and the ``--min-valid`` and ``--allowed-orgs`` rules, are the
shared ones (:mod:`peribolos_core.settings`); what is checked here is the refresher's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from peribolos_core.durations import format_duration
from peribolos_core.errors import ConfigError
from peribolos_core.settings import AppSettings, KubeSettings, check_min_valid

from .executor import DEFAULT_CONCURRENCY, MAX_CONCURRENCY
from .plan import DEFAULT_DISALLOWED_GRACE

GITHUB_MINTS_PER_MINUTE = 180
"""GitHub's secondary limit for one POST endpoint: 900 points a minute, 5 points a POST."""


@dataclass(frozen=True)
class Settings:
    app: AppSettings
    """The App's id and key, and where GitHub is."""
    kube: KubeSettings
    """The namespace holding the token Secrets, and the kubeconfig (None: in-cluster)."""
    min_valid: timedelta = timedelta(minutes=45)
    """Re-mint a stored token that expires sooner than this. 45 m with a 30 m schedule: a token refreshed by
    one run still has 15 m left when the next run starts, and a run that is skipped or fails still leaves
    tokens valid; TaskRuns longer than that rely on ensure-token."""
    concurrency: int = DEFAULT_CONCURRENCY
    """Installations handled at once (threads); GitHub forbids more than 100 concurrent requests."""
    mint_budget_per_minute: int = 150
    """Mints in any 60 s window; GitHub allows about 180 a minute on the mint endpoint."""
    max_run_time: timedelta = timedelta(minutes=20)
    """Start no mint after this long, so the run ends well inside the Job's ``activeDeadlineSeconds``
    (25 m) and before the next run (every 30 m). With the budget it caps a run's mints at
    ``budget x bursts`` (one burst every 61 s: 3,000 by default); the latest-expiring rest waits."""
    dry_run: bool = False
    """Plan and log what would change, mint nothing and write nothing."""
    allowed_orgs: frozenset[str] | None = None
    """Lower-case logins of the orgs served (the interceptor's ``--allowed-orgs``); None serves every org."""
    disallowed_grace: timedelta = DEFAULT_DISALLOWED_GRACE
    """How long the Secret of an org outside allowedOrgs is kept (unminted) before it is deleted: an
    allowedOrgs edit undone within it costs nothing."""

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ConfigError(
                f"--concurrency must be between 1 and {MAX_CONCURRENCY} (GitHub's limit on concurrent "
                f"requests), got {self.concurrency}"
            )
        if self.mint_budget_per_minute < 1:
            raise ConfigError(
                f"--mint-budget-per-minute must be at least 1, got {self.mint_budget_per_minute}"
            )
        check_min_valid(self.min_valid)
        if self.max_run_time <= timedelta(0):
            raise ConfigError(f"--max-run-time must be positive, got {format_duration(self.max_run_time)}")
        if self.disallowed_grace < timedelta(0):
            raise ConfigError(
                f"--disallowed-org-grace must not be negative, got {format_duration(self.disallowed_grace)}"
            )

    @property
    def over_github_limit(self) -> bool:
        return self.mint_budget_per_minute > GITHUB_MINTS_PER_MINUTE
