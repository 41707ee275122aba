"""The click option groups the programs share: logs, GitHub, the App, Kubernetes, and ``--version``.

Each group declares its flags once (with their environment variables) and hands the command one settings
object instead of the flags: ``github_options`` passes ``github: GitHubSettings``, ``app_options`` passes
``app: AppSettings``, ``kube_options`` passes ``kube: KubeSettings``. ``log_options`` configures logging
before anything else runs. Settings are built when the command is called, so a bad value raises
ConfigError inside the program's own error handling: place the program's error decorator below
``log_options`` and above the other groups::

    @cli.command()
    @log_options
    @handles_errors          # the program's: ConfigError -> exit 2
    @app_options
    @kube_options
    def install(app: AppSettings, kube: KubeSettings) -> None: ...
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import logs
from .errors import BadCredentials, GitHubError, PeribolosError
from .kube import default_namespace
from .settings import (
    DEFAULT_API_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MINT_BUDGET_PER_MINUTE,
    MAX_RETRIES_RANGE,
    AppSettings,
    GitHubSettings,
    KubeSettings,
    MintBudgetSettings,
)

PACKAGE = "peribolos-as-a-service"
F = TypeVar("F", bound=Callable[..., Any])


def version_option(func: F) -> F:
    """``--version``: the installed package's version (from its metadata). A fresh click option per
    command: click's remembers the first program name it printed."""
    return click.version_option(package_name=PACKAGE)(func)


def _group(options: list[Callable[[F], F]], collect: Callable[[dict[str, Any]], dict[str, Any]]
           ) -> Callable[[F], F]:
    """A decorator adding ``options`` and replacing their values by what ``collect`` makes of them (it pops
    the flags' keyword arguments it reads and returns the new ones)."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **collect(kwargs), **kwargs)

        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate


def _configure_logs(kwargs: dict[str, Any]) -> dict[str, Any]:
    logs.configure(level=kwargs.pop("log_level"), fmt=kwargs.pop("log_format"))
    return {}


log_options = _group(
    [
        click.option(
            "--log-format", envvar="LOG_FORMAT", type=click.Choice(["json", "text"]), default="json",
            show_default=True, help="Log lines as JSON objects or text (env LOG_FORMAT).",
        ),
        click.option(
            "--log-level", envvar="LOG_LEVEL", default="info", show_default=True,
            type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
            help="Env LOG_LEVEL.",
        ),
    ],
    _configure_logs,
)
"""``--log-format`` / LOG_FORMAT and ``--log-level`` / LOG_LEVEL; logging is configured before the command."""

_github_flags = [
    click.option(
        "--github-api-url", envvar="GITHUB_API_URL", default=DEFAULT_API_URL, show_default=True,
        help="REST API base URL; https://HOST/api/v3 on GitHub Enterprise Server (env GITHUB_API_URL).",
    ),
    click.option(
        "--github-max-retries", envvar="GITHUB_MAX_RETRIES", type=click.IntRange(*MAX_RETRIES_RANGE),
        default=DEFAULT_MAX_RETRIES, show_default=True,
        help="Retries of a GitHub request after a 5xx, timeout or connection error (env GITHUB_MAX_RETRIES).",
    ),
]


def _github(kwargs: dict[str, Any]) -> GitHubSettings:
    return GitHubSettings(kwargs.pop("github_api_url"), kwargs.pop("github_max_retries"))


def _collect_github(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {"github": _github(kwargs)}


def _collect_app(kwargs: dict[str, Any]) -> dict[str, Any]:
    budget = MintBudgetSettings(kwargs.pop("mint_budget_per_minute"), kwargs.pop("mint_budget").strip(),
                                kwargs.pop("mint_budget_namespace") or None)
    return {"app": AppSettings(kwargs.pop("app_id"), kwargs.pop("private_key_file"), _github(kwargs), budget)}


def _collect_kube(kwargs: dict[str, Any]) -> dict[str, Any]:
    namespace, kubeconfig = kwargs.pop("namespace"), kwargs.pop("kubeconfig")
    token_namespace = kwargs.pop("token_namespace") or ""
    return {"kube": KubeSettings(namespace or default_namespace(), kubeconfig or None, token_namespace)}


github_options = _group(_github_flags, _collect_github)
"""GitHub's address and retries; passes ``github: GitHubSettings``."""

app_options = _group(
    [
        click.option(
            "--app-id", envvar="GITHUB_APP_ID", default="",
            help="GitHub App id or client id (env GITHUB_APP_ID).",
        ),
        click.option(
            "--private-key-file", envvar="GITHUB_APP_PRIVATE_KEY_FILE", default="",
            help="The App's PEM private key, PKCS#1 or PKCS#8 (env GITHUB_APP_PRIVATE_KEY_FILE).",
        ),
        *_github_flags,
        click.option(
            "--mint-budget", envvar="MINT_BUDGET", default="",
            help="ConfigMap holding the App-wide mint budget, shared by every process that mints (env "
                 "MINT_BUDGET); empty: a budget of this process only.",
        ),
        click.option(
            "--mint-budget-namespace", envvar="MINT_BUDGET_NAMESPACE", default=None,
            help="Namespace of that ConfigMap (env MINT_BUDGET_NAMESPACE; default: the pod's own).",
        ),
        click.option(
            "--mint-budget-per-minute", envvar="MINT_BUDGET_PER_MINUTE", type=click.IntRange(min=1),
            default=DEFAULT_MINT_BUDGET_PER_MINUTE, show_default=True,
            help="Most token mints of the whole App in any 60 s; GitHub allows ~180 "
                 "(env MINT_BUDGET_PER_MINUTE).",
        ),
    ],
    _collect_app,
)
"""The App's identity, GitHub's address and the App's mint budget; passes ``app: AppSettings``
(``app.github`` is GitHub's, ``app.mint_budget`` the budget's)."""

kube_options = _group(
    [
        click.option(
            "--namespace", envvar="POD_NAMESPACE", default=None,
            help="The pod's own namespace (env POD_NAMESPACE; default: the in-cluster one, else 'default').",
        ),
        click.option(
            "--token-namespace", envvar="TOKEN_NAMESPACE", default=None,
            help="Namespace of the token Secrets, apart from the App key's (env TOKEN_NAMESPACE; default: "
                 "--namespace).",
        ),
        click.option(
            "--kubeconfig", envvar="KUBECONFIG", default=None,
            help="kubeconfig file (env KUBECONFIG); default: in-cluster ServiceAccount.",
        ),
    ],
    _collect_kube,
)
"""The pod's namespace, where the token Secrets live, the kubeconfig; passes ``kube: KubeSettings``."""

FILE = click.Path(dir_okay=False, path_type=Path)
"""A file path option."""


def app_listing_hint(exc: PeribolosError) -> str | None:
    """What to check when the App could not list its installations (``app_options``' flags), or None when
    ``exc`` is no GitHub error: the programs' own hints cover the rest."""
    if isinstance(exc, BadCredentials):
        return "GitHub refused the App's JWT: check --app-id, the private key, and this machine's clock"
    if isinstance(exc, GitHubError):
        return "cannot list the App's installations: check --github-api-url and that GitHub is reachable"
    return None
