"""One rule per setting, shared by every program (steps, refresher, generator): pure, no I/O but a file check.

Each ``check_*`` function is the only place its rule is written; it returns the clean value or raises
:class:`~peribolos_core.errors.ConfigError` with a message that names the flag (or value key) it was given.
The settings objects below are frozen and validated when built, so a program refuses bad settings at
start-up, before any request.

The GitHub API URL's rule is :func:`peribolos_core.http.normalise_api_url` (the transport's own): it runs
when :mod:`peribolos_core.clients` builds a client, which every program does before its first request.
It is not imported here so that this module (imported by the interceptor's decision through
:mod:`~peribolos_core.token_secret`) stays free of ``requests``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from .durations import format_duration
from .errors import ConfigError

TOKEN_LIFETIME = timedelta(hours=1)
"""How long GitHub's installation tokens live."""
MIN_VALID_RANGE = (timedelta(minutes=1), timedelta(minutes=59))
"""Bounds of every ``--min-valid`` (steps, refresher, the generator's values), both included: under a
minute a token could expire during the request that uses it; from an hour on, every token is always due."""
MIN_VALID_RULE = "between 1m and 59m (installation tokens live one hour)"
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_MAX_RETRIES = 4
MAX_RETRIES_RANGE = (0, 10)
DEFAULT_MINT_BUDGET_PER_MINUTE = 150
"""Mints a minute the App allows itself: under GitHub's ~180 (:data:`GITHUB_MINTS_PER_MINUTE`)."""
GITHUB_MINTS_PER_MINUTE = 180
"""GitHub's secondary limit for one POST endpoint: 900 points a minute, 5 points a POST."""

COMMIT_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
"""A commit id as GitHub writes it (``fullmatch``): SHA-1 (40 hex digits) or SHA-256 (64), lower case."""
REPO_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
"""A repository's name as GitHub allows it (``fullmatch``): letters, digits, ``.``, ``_``, ``-``, 1 to 100."""
_NAMESPACE = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
"""A Kubernetes namespace name: an RFC 1123 label."""
_APP_ID = re.compile(r"\d+|Iv[0-9A-Za-z.]+")
"""A numeric App id, or the App's client id (``Iv1.``, ``Iv23...``): GitHub takes either as the JWT's iss."""
_INSTALLATION_ID = re.compile(r"\d{1,19}")
_OBJECT_NAME = re.compile(r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?")
"""A ConfigMap name: an RFC 1123 subdomain."""


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def min_valid_ok(value: timedelta) -> bool:
    """Whether a ``--min-valid`` value is within :data:`MIN_VALID_RANGE` (:data:`MIN_VALID_RULE` says it)."""
    low, high = MIN_VALID_RANGE
    return low <= value <= high


def check_min_valid(value: timedelta, flag: str = "--min-valid") -> timedelta:
    if not min_valid_ok(value):
        raise ConfigError(f"{flag} must be {MIN_VALID_RULE}, got {format_duration(value)}")
    return value


def check_installation_id(value: int | str, what: str = "--installation-id") -> int:
    """A GitHub App installation id: a positive integer (digits when given as text)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"{what} must be a positive integer, got {_show(value)}")
    text = str(value)
    if not _INSTALLATION_ID.fullmatch(text) or int(text) <= 0:
        raise ConfigError(f"{what} must be a positive integer, got {_show(text)}")
    return int(text)


def check_app_id(value: str, what: str = "--app-id / GITHUB_APP_ID") -> str:
    """The App's numeric id or client id, without surrounding blanks."""
    clean = (value or "").strip()
    if not _APP_ID.fullmatch(clean):
        raise ConfigError(f"{what} must be the App's numeric id or client id, got {_show(value)}")
    return clean


def check_namespace(value: str, what: str = "--namespace / POD_NAMESPACE") -> str:
    if not _NAMESPACE.fullmatch(value or ""):
        raise ConfigError(f"{what} {_show(value)} is not a valid namespace name")
    return value


def check_object_name(value: str, what: str) -> str:
    """The name of a Kubernetes object such as a ConfigMap: an RFC 1123 subdomain."""
    if not _OBJECT_NAME.fullmatch(value or ""):
        raise ConfigError(f"{what} {_show(value)} is not a valid ConfigMap name")
    return value


def check_max_retries(value: int, what: str = "--github-max-retries") -> int:
    low, high = MAX_RETRIES_RANGE
    if not low <= value <= high:
        raise ConfigError(f"{what} must be between {low} and {high}, got {value}")
    return value


def parse_allowed_orgs(value: str | None) -> frozenset[str] | None:
    """``--allowed-orgs`` / ``ALLOWED_ORGS``: ``"a, B"`` → ``{"a", "b"}`` (logins compare in any case);
    empty → None, which serves every org that installs the App."""
    orgs = frozenset(part.strip().lower() for part in (value or "").split(",") if part.strip())
    return orgs or None


def org_allowed(login: str, allowed: frozenset[str] | None) -> bool:
    """Whether ``allowed`` (from :func:`parse_allowed_orgs`) serves the org ``login``."""
    return allowed is None or login.lower() in allowed


@dataclass(frozen=True)
class GitHubSettings:
    """Where GitHub is: ``--github-api-url`` / GITHUB_API_URL and how often to retry a request."""

    api_url: str = DEFAULT_API_URL
    """REST API base URL; ``https://HOST/api/v3`` on GitHub Enterprise Server. Checked by the transport
    (:func:`peribolos_core.http.normalise_api_url`) when a client is built."""
    max_retries: int = DEFAULT_MAX_RETRIES
    """Retries after a 5xx, timeout or connection error (backoff 0.5 s, 1 s, 2 s, 4 s...)."""

    def __post_init__(self) -> None:
        check_max_retries(self.max_retries)


@dataclass(frozen=True)
class MintBudgetSettings:
    """The App-wide mint budget: ``--mint-budget`` / MINT_BUDGET (the ConfigMap's name),
    ``--mint-budget-namespace`` / MINT_BUDGET_NAMESPACE and ``--mint-budget-per-minute`` /
    MINT_BUDGET_PER_MINUTE."""

    per_minute: int = DEFAULT_MINT_BUDGET_PER_MINUTE
    """Mints in any 60 s window, for the whole App (every process that names the same ConfigMap)."""
    name: str = ""
    """The ConfigMap holding the window; empty: this process keeps a window of its own (nothing shared:
    only for runs outside the cluster and tests; the rendered manifests always name one)."""
    namespace: str | None = None
    """Where that ConfigMap lives; None: the pod's own namespace (the main one)."""

    def __post_init__(self) -> None:
        if self.per_minute < 1:
            raise ConfigError(f"--mint-budget-per-minute must be at least 1, got {self.per_minute}")
        if self.name:
            check_object_name(self.name, "--mint-budget / MINT_BUDGET")
        if self.namespace is not None:
            check_namespace(self.namespace, "--mint-budget-namespace / MINT_BUDGET_NAMESPACE")

    @property
    def over_github_limit(self) -> bool:
        return self.per_minute > GITHUB_MINTS_PER_MINUTE


@dataclass(frozen=True)
class AppSettings:
    """Who the App is: ``--app-id`` / GITHUB_APP_ID, ``--private-key-file`` / GITHUB_APP_PRIVATE_KEY_FILE."""

    app_id: str
    """Numeric App id, or the App's client id (``Iv...``); blanks around it are dropped."""
    private_key_file: Path
    """The App's PEM key (a path or its text); read and checked when the App client is built."""
    github: GitHubSettings = GitHubSettings()
    mint_budget: MintBudgetSettings = MintBudgetSettings()
    """The budget every mint of this App spends (GitHub's limit is per App)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "app_id", check_app_id(self.app_id))
        key_file = self.private_key_file if isinstance(self.private_key_file, Path) else None
        text = str(self.private_key_file or "").strip()
        if key_file is None and not text:
            raise ConfigError("--private-key-file / GITHUB_APP_PRIVATE_KEY_FILE is required")
        object.__setattr__(self, "private_key_file", key_file or Path(text))


@dataclass(frozen=True)
class KubeSettings:
    """The Kubernetes side: ``--namespace`` / POD_NAMESPACE (the pod's own), ``--token-namespace`` /
    TOKEN_NAMESPACE (where the token Secrets live) and ``--kubeconfig`` / KUBECONFIG."""

    namespace: str
    """The pod's own namespace: the org Leases of the sync Task live there."""
    kubeconfig: str | None = None
    """None: in-cluster config (the Pod's ServiceAccount), falling back to ~/.kube/config."""
    token_namespace: str = ""
    """Namespace of the token Secrets, apart from the App key's (empty: ``namespace``)."""

    def __post_init__(self) -> None:
        check_namespace(self.namespace)
        if self.token_namespace:
            check_namespace(self.token_namespace, "--token-namespace / TOKEN_NAMESPACE")
        else:
            object.__setattr__(self, "token_namespace", self.namespace)
        if self.kubeconfig and not Path(self.kubeconfig).is_file():
            raise ConfigError(f"--kubeconfig / KUBECONFIG {self.kubeconfig} does not exist")
