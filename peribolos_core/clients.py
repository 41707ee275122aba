"""The one place that builds the clients from the settings: the GitHub App, an installation's client, and
the token store on Kubernetes. The steps and the refresher both build theirs here.

Building checks what only the client can: the App key file is read and parsed, the GitHub API URL is
normalised by the transport, the kubeconfig is loaded. Every failure is a ConfigError naming the setting.
"""

from __future__ import annotations

from .app_jwt import load_private_key
from .github import GitHubApp, GitHubInstallationClient
from .http import new_session
from .kube import load_api_client, load_core_v1, read_container_log
from .leases import LABELS, OrgLocks
from .settings import AppSettings, GitHubSettings, KubeSettings
from .token_store import TokenStore


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
