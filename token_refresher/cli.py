"""``peribolos-refresh-tokens``: check the options, build the clients, run once, exit 0 / 1 / 2.

Exit codes: 0 every installation succeeded; 1 at least one failed (the others were still handled);
2 bad configuration or nothing could start (missing key, GitHub or the kube-apiserver unreachable,
credentials refused), with one clear line on stderr.
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from pathlib import Path

import click

from peribolos_core import logs
from peribolos_core.app_jwt import load_private_key
from peribolos_core.durations import DURATION
from peribolos_core.errors import (
    BadCredentials,
    ConfigError,
    GitHubError,
    KubeError,
    KubeForbidden,
    PeribolosError,
)
from peribolos_core.github import GitHubApp
from peribolos_core.http import new_session
from peribolos_core.kube import default_namespace, load_core_v1
from peribolos_core.token_store import TokenStore

from .budget import MintBudget
from .executor import MAX_CONCURRENCY
from .reconcile import Refresher
from .settings import Settings

log = logging.getLogger("peribolos.refresher")
PROG = "peribolos-refresh-tokens"


def _hint(exc: PeribolosError) -> str:
    if isinstance(exc, BadCredentials):
        return "GitHub refused the App's JWT: check --app-id, the private key, and this machine's clock"
    if isinstance(exc, GitHubError):
        return "cannot list the App's installations: check --github-api-url and that GitHub is reachable"
    if isinstance(exc, KubeForbidden):
        return "the ServiceAccount may not list or write Secrets: check the refresher's Role and --namespace"
    if isinstance(exc, KubeError):
        return "cannot list the token Secrets: check --kubeconfig / in-cluster access and --namespace"
    return "fix the configuration"


def _fail(message: str) -> None:
    log.error(message, extra={"event": "aborted"})
    click.echo(f"{PROG}: {message}", err=True)
    sys.exit(2)


@click.command(name=PROG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--app-id", envvar="GITHUB_APP_ID", required=True, help="GitHub App id (env GITHUB_APP_ID).")
@click.option("--private-key-file", envvar="GITHUB_APP_PRIVATE_KEY_FILE", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The App's PEM private key (env GITHUB_APP_PRIVATE_KEY_FILE).")
@click.option("--github-api-url", envvar="GITHUB_API_URL", default="https://api.github.com",
              show_default=True, help="REST API base URL; https://HOST/api/v3 for GitHub Enterprise Server.")
@click.option("--namespace", envvar="POD_NAMESPACE", default=None,
              help="Namespace of the token Secrets (env POD_NAMESPACE; default: the pod's own).")
@click.option("--kubeconfig", envvar="KUBECONFIG", default=None, help="kubeconfig path; default in-cluster.")
@click.option("--min-valid", type=DURATION, default="45m", show_default=True,
              help="Re-mint tokens that expire sooner than this.")
@click.option("--concurrency", type=click.IntRange(1, MAX_CONCURRENCY), default=8, show_default=True,
              help="Installations handled at once.")
@click.option("--mint-budget-per-minute", type=click.IntRange(min=1), default=150, show_default=True,
              help="Most token mints in any 60 s (GitHub allows ~180).")
@click.option("--max-run-time", type=DURATION, default="20m", show_default=True,
              help="Start no mint after this long; what is left waits for the next run.")
@click.option("--dry-run", is_flag=True, help="Log what would change; mint and write nothing.")
@click.option("--log-format", envvar="LOG_FORMAT", type=click.Choice(["json", "text"]), default="json",
              show_default=True)
@click.option("--log-level", envvar="LOG_LEVEL", type=click.Choice(["debug", "info", "warning", "error"],
              case_sensitive=False), default="info", show_default=True)
def cli(
    app_id: str, private_key_file: Path, github_api_url: str, namespace: str | None, kubeconfig: str | None,
    min_valid: timedelta, concurrency: int, mint_budget_per_minute: int, max_run_time: timedelta,
    dry_run: bool, log_format: str, log_level: str,
) -> None:
    """Refresh every installation's token Secret and reconcile them with the App's installations."""
    logs.configure(level=log_level, fmt=log_format)
    try:
        settings = Settings(
            app_id=app_id, private_key_file=private_key_file, github_api_url=github_api_url,
            namespace=namespace or default_namespace(),
            kubeconfig=kubeconfig or None, min_valid=min_valid, concurrency=concurrency,
            mint_budget_per_minute=mint_budget_per_minute, max_run_time=max_run_time, dry_run=dry_run,
        )
        refresher = build(settings)
    except ConfigError as exc:
        _fail(str(exc))
    if settings.over_github_limit:
        log.warning("mint budget is above GitHub's ~180 mints a minute: expect secondary rate limits",
                    extra={"mint_budget_per_minute": settings.mint_budget_per_minute})
    try:
        summary = refresher.run()
    except PeribolosError as exc:
        _fail(f"{_hint(exc)} ({type(exc).__name__}: {exc})")
    sys.exit(summary.exit_code)


def build(settings: Settings) -> Refresher:
    """The clients and the budget for ``settings``; ConfigError when the key or kubeconfig is unusable."""
    key = load_private_key(settings.private_key_file)
    app = GitHubApp(settings.app_id, key, api_url=settings.github_api_url,
                    session=new_session(pool_size=max(settings.concurrency, 4)))
    store = TokenStore(load_core_v1(settings.kubeconfig), settings.namespace)
    return Refresher(
        app, store, min_valid=settings.min_valid, concurrency=settings.concurrency,
        budget=MintBudget(settings.mint_budget_per_minute), max_run_time=settings.max_run_time,
        dry_run=settings.dry_run,
    )


def main() -> None:
    cli()
