"""The refresher's settings: one frozen object, validated at start-up, messages naming the flag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from peribolos_core.durations import format_duration
from peribolos_core.errors import ConfigError

from .executor import DEFAULT_CONCURRENCY, MAX_CONCURRENCY

TOKEN_LIFETIME = timedelta(hours=1)
"""GitHub installation tokens expire one hour after they are minted."""
GITHUB_MINTS_PER_MINUTE = 180
"""GitHub's secondary limit for one POST endpoint: 900 points a minute, 5 points a POST."""


@dataclass(frozen=True)
class Settings:
    app_id: str
    """GitHub App id (or client id): the JWT's issuer."""
    private_key_file: Path
    """The App's PEM private key, mounted from the App Secret."""
    github_api_url: str = "https://api.github.com"
    """REST base URL; ``https://HOST/api/v3`` for GitHub Enterprise Server."""
    namespace: str = "default"
    """Namespace holding the token Secrets."""
    kubeconfig: str | None = None
    """Path of a kubeconfig; None means in-cluster (the CronJob's ServiceAccount)."""
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

    def __post_init__(self) -> None:
        if not str(self.app_id).strip():
            raise ConfigError("--app-id / GITHUB_APP_ID is empty: set it to the GitHub App's id")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ConfigError(
                f"--concurrency must be between 1 and {MAX_CONCURRENCY} (GitHub's limit on concurrent "
                f"requests), got {self.concurrency}"
            )
        if self.mint_budget_per_minute < 1:
            raise ConfigError(
                f"--mint-budget-per-minute must be at least 1, got {self.mint_budget_per_minute}"
            )
        if not timedelta(0) < self.min_valid < TOKEN_LIFETIME:
            raise ConfigError(
                f"--min-valid must be more than 0 and less than a token's lifetime (1h), got "
                f"{format_duration(self.min_valid)}: at 1h or more every token would be re-minted every run"
            )
        if self.max_run_time <= timedelta(0):
            raise ConfigError(f"--max-run-time must be positive, got {format_duration(self.max_run_time)}")
        if not self.namespace.strip():
            raise ConfigError("--namespace / POD_NAMESPACE is empty")

    @property
    def over_github_limit(self) -> bool:
        return self.mint_budget_per_minute > GITHUB_MINTS_PER_MINUTE

