"""``peribolos-refresh-tokens``: check the options, build the clients, run once, exit 0 / 1 / 2.

Exit codes: 0 every installation succeeded; 1 at least one failed (the others were still handled);
2 bad configuration or nothing could start (missing key, GitHub or the kube-apiserver unreachable,
credentials refused), with one clear line on stderr.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NoReturn

import click

from peribolos_core import clients
from peribolos_core.durations import DURATION
from peribolos_core.errors import (
    BadCredentials,
    ConfigError,
    GitHubError,
    KubeError,
    KubeForbidden,
    PeribolosError,
)
from peribolos_core.options import app_options, kube_options, log_options, version_option
from peribolos_core.settings import AppSettings, KubeSettings, parse_allowed_orgs

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


def _fail(message: str) -> NoReturn:
    log.error(message, extra={"event": "aborted"})
    click.echo(f"{PROG}: {message}", err=True)
    sys.exit(2)


def _aborts_on_config_error(func: Callable[..., None]) -> Callable[..., None]:
    """Bad settings (from the option groups below or the command) end the program with one line, exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except ConfigError as exc:
            _fail(str(exc))

    return wrapper


@click.command(name=PROG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@version_option
@log_options
@_aborts_on_config_error
@app_options
@kube_options
@click.option("--min-valid", type=DURATION, default="45m", show_default=True,
              help="Re-mint tokens that expire sooner than this (1m to 59m).")
@click.option("--concurrency", type=click.IntRange(1, MAX_CONCURRENCY), default=8, show_default=True,
              help="Installations handled at once.")
@click.option("--mint-budget-per-minute", type=click.IntRange(min=1), default=150, show_default=True,
              help="Most token mints in any 60 s (GitHub allows ~180).")
@click.option("--max-run-time", type=DURATION, default="20m", show_default=True,
              help="Start no mint after this long; what is left waits for the next run.")
@click.option("--allowed-orgs", envvar="ALLOWED_ORGS", default="",
              help="Comma-separated org logins served, any case, as the interceptor's (env ALLOWED_ORGS); "
                   "default all. Other orgs get no Secret and no mint.")
@click.option("--disallowed-org-grace", type=DURATION, default="24h", show_default=True,
              help="Keep the Secret of an org no longer in --allowed-orgs this long, then delete it.")
@click.option("--dry-run", is_flag=True, help="Log what would change; mint and write nothing.")
def cli(
    app: AppSettings, kube: KubeSettings, min_valid: timedelta, concurrency: int, mint_budget_per_minute: int,
    max_run_time: timedelta, allowed_orgs: str, disallowed_org_grace: timedelta, dry_run: bool,
) -> None:
    """Refresh every installation's token Secret and reconcile them with the App's installations."""
    settings = Settings(
        app=app, kube=kube, min_valid=min_valid, concurrency=concurrency,
        mint_budget_per_minute=mint_budget_per_minute, max_run_time=max_run_time, dry_run=dry_run,
        allowed_orgs=parse_allowed_orgs(allowed_orgs), disallowed_grace=disallowed_org_grace,
    )
    refresher = build(settings)
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
    return Refresher(
        clients.github_app(settings.app, pool_size=settings.concurrency),
        clients.token_store(settings.kube),
        min_valid=settings.min_valid, concurrency=settings.concurrency,
        budget=MintBudget(settings.mint_budget_per_minute), max_run_time=settings.max_run_time,
        dry_run=settings.dry_run, allowed_orgs=settings.allowed_orgs,
        disallowed_grace=settings.disallowed_grace,
    )


def main() -> None:
    cli()
