"""The one place that builds the clients from the settings: the GitHub App, the App's mint budget and the
minter that spends it, an installation's client, and the token store on Kubernetes. The steps and the
refresher both build theirs here: every program that mints builds its :class:`~peribolos_core.tokens.Minter`
with :func:`minter`, so every mint of the App spends the one App-wide budget.

Building checks what only the client can: the App key file is read and parsed, the GitHub API URL is
normalised by the transport, the kubeconfig is loaded. Every failure is a ConfigError naming the setting.
"""

from __future__ import annotations

import time

from .app_jwt import load_private_key
from .config_maps import ConfigMaps
from .github import GitHubApp, GitHubInstallationClient
from .http import new_session
from .kube import default_namespace, load_api_client, load_core_v1, read_container_log
from .leases import LABELS, OrgLocks
from .mint_budget import KubeMintBudget, LocalMintBudget
from .settings import AppSettings, GitHubSettings, KubeSettings, MintBudgetSettings
from .token_store import TokenStore
from .tokens import MintBudget, Minter


def github_app(settings: AppSettings, *, pool_size: int | None = None) -> GitHubApp:
    """The App client; ``pool_size`` sizes the connection pool for that many concurrent requests."""
    session = new_session(pool_size=max(pool_size, 4)) if pool_size else None
    return GitHubApp(
        settings.app_id,
        load_private_key(settings.private_key_file),
        api_url=settings.github.api_url,
        session=session,
        max_retries=settings.github.max_retries,
    )


def installation_client(settings: GitHubSettings, token: str) -> GitHubInstallationClient:
    """A client acting as one installation, with its ``token``."""
    return GitHubInstallationClient(token, settings.api_url, max_retries=settings.max_retries)


def token_store(settings: KubeSettings) -> TokenStore:
    """The token Secrets of the settings' token namespace, through the kubeconfig (or in-cluster
    credentials)."""
    return TokenStore(load_core_v1(settings.kubeconfig), settings.token_namespace)


def org_locks(settings: KubeSettings) -> OrgLocks:
    """The org Leases of the pod's own namespace (one sync per org at a time)."""
    return OrgLocks(load_api_client(settings.kubeconfig), settings.namespace, labels=LABELS)


def container_log(settings: KubeSettings, pod: str, container: str) -> str:
    """What ``container`` of ``pod`` (in the pod's own namespace) printed."""
    return read_container_log(load_core_v1(settings.kubeconfig), settings.namespace, pod, container)


def mint_budget(
    settings: MintBudgetSettings, kubeconfig: str | None = None, *, report_waits_over: float = 0.0
) -> MintBudget:
    """The App-wide budget on its ConfigMap when ``settings.name`` is set, else one of this process only.
    ``report_waits_over``: log a wait for a slot only when it is longer (seconds)."""
    if not settings.name:
        return LocalMintBudget(settings.per_minute)
    maps = ConfigMaps(load_core_v1(kubeconfig), settings.namespace or default_namespace())
    return KubeMintBudget(maps, settings.name, settings.per_minute, report_waits_over=report_waits_over)


STEP_WAITS_REPORTED_OVER = 0.5
"""A step logs its wait for a mint slot from half a second on (shorter ones are the budget's bookkeeping)."""


def minter(
    app: AppSettings, kube: KubeSettings | None = None, *, pool_size: int | None = None,
    report_waits_over: float = STEP_WAITS_REPORTED_OVER,
) -> Minter:
    """The App client and the App's mint budget, on the wall clock (the shared budget's slots are
    instants every node agrees on). ``kube`` gives the kubeconfig (None: in-cluster or $KUBECONFIG)."""
    kubeconfig = kube.kubeconfig if kube else None
    budget = mint_budget(app.mint_budget, kubeconfig, report_waits_over=report_waits_over)
    return Minter(github_app(app, pool_size=pool_size), budget, clock=time.time)
