"""The step commands' settings: frozen, validated once at start-up, with messages that name the flag/env.

Only what a command needs is validated: ``fetch-config`` never asks for the App key, ``uninstall`` never
talks to GitHub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from peribolos_core.app_jwt import load_private_key
from peribolos_core.errors import ConfigError
from peribolos_core.github import GitHubApp, GitHubInstallationClient
from peribolos_core.http import normalise_api_url
from peribolos_core.kube import load_core_v1
from peribolos_core.token_store import TokenStore

_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_APP_ID = re.compile(r"^(\d+|Iv[0-9A-Za-z.]+)$")
TOKEN_LIFETIME = timedelta(hours=1)
"""How long GitHub's installation tokens live; ``--min-valid`` must stay below it."""


@dataclass(frozen=True)
class GitHubSettings:
    """Where GitHub is: ``--github-api-url`` / GITHUB_API_URL."""

    api_url: str
    """REST API base URL, normalised (no trailing slash); ``https://HOST/api/v3`` on GHES."""
    max_retries: int = 4
    """Retries after a 5xx, timeout or connection error (backoff 0.5 s, 1 s, 2 s, 4 s...)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", normalise_api_url(self.api_url))
        if not 0 <= self.max_retries <= 10:
            raise ConfigError(f"--github-max-retries must be between 0 and 10, got {self.max_retries}")

    def installation_client(self, token: str) -> GitHubInstallationClient:
        return GitHubInstallationClient(token, self.api_url, max_retries=self.max_retries)


@dataclass(frozen=True)
class AppSettings:
    """Who the App is: ``--app-id`` / GITHUB_APP_ID, ``--private-key-file`` / GITHUB_APP_PRIVATE_KEY_FILE."""

    app_id: str
    """Numeric App id, or the App's client id (``Iv...``): both are accepted as the JWT's ``iss``."""
    private_key_file: Path
    github: GitHubSettings

    def __post_init__(self) -> None:
        if not self.app_id or not _APP_ID.match(self.app_id.strip()):
            raise ConfigError(
                f"--app-id / GITHUB_APP_ID must be the App's numeric id or client id, got {self.app_id!r}"
            )

    def load_key(self) -> rsa.RSAPrivateKey:
        """The App key; ConfigError naming the file when missing or malformed."""
        return load_private_key(self.private_key_file)

    def app(self) -> GitHubApp:
        return GitHubApp(
            self.app_id.strip(),
            self.load_key(),
            api_url=self.github.api_url,
            max_retries=self.github.max_retries,
        )


@dataclass(frozen=True)
class KubeSettings:
    """Where the token Secrets live: ``--namespace`` / POD_NAMESPACE and ``--kubeconfig`` / KUBECONFIG."""

    namespace: str
    kubeconfig: str | None = None
    """None: in-cluster config (the Task's ServiceAccount), falling back to ~/.kube/config."""

    def __post_init__(self) -> None:
        if not _NAMESPACE.match(self.namespace):
            raise ConfigError(f"--namespace / POD_NAMESPACE {self.namespace!r} is not a valid namespace name")
        if self.kubeconfig and not Path(self.kubeconfig).is_file():
            raise ConfigError(f"--kubeconfig / KUBECONFIG {self.kubeconfig} does not exist")

    def store(self) -> TokenStore:
        return TokenStore(load_core_v1(self.kubeconfig), self.namespace)


def check_installation_id(value: int) -> int:
    if value <= 0:
        raise ConfigError(f"--installation-id must be a positive integer, got {value}")
    return value


def check_min_valid(value: timedelta) -> timedelta:
    """``--min-valid`` between 1 minute and just under a token's 1-hour life (else every run re-mints)."""
    if not timedelta(minutes=1) <= value < TOKEN_LIFETIME:
        raise ConfigError(f"--min-valid must be at least 1m and less than 1h (tokens live 1h), got {value}")
    return value
