"""``peribolos-refresh-tokens``: check the options, build the clients, run once, exit 0 / 1 / 2.

Exit codes: 0 every installation succeeded; 1 at least one failed (the others were still handled);
2 bad configuration or nothing could start (missing key, GitHub or the kube-apiserver unreachable,
credentials refused), with one clear line on stderr.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NoReturn

import click

from peribolos_core import clients
from peribolos_core.config_maps import ConfigMaps
from peribolos_core.durations import DURATION
from peribolos_core.errors import (
    ConfigError,
    KubeError,
    KubeForbidden,
    PeribolosError,
)
from peribolos_core.kube import default_namespace, load_core_v1
from peribolos_core.options import app_listing_hint, app_options, kube_options, log_options, version_option
from peribolos_core.run_status import RunStatusStore
from peribolos_core.settings import AppSettings, KubeSettings, parse_allowed_orgs

from .executor import MAX_CONCURRENCY
from .reconcile import Refresher
from .settings import Settings

BUDGET_WAITS_REPORTED_OVER = 5.0
"""The refresher paces its own mints; it logs only the budget waits others' mints cause beyond this (s)."""

log = logging.getLogger("peribolos.refresher")
PROG = "peribolos-refresh-tokens"


def _hint(exc: PeribolosError) -> str:
    if (hint := app_listing_hint(exc)) is not None:
        return hint
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
@click.option("--margin", type=DURATION, default="15m", show_default=True,
              help="Validity every stored token keeps: each is re-minted just before it would fall under it "
                   "(1m to 59m; 59m re-mints every token now).")
@click.option("--interval", type=DURATION, default="30m", show_default=True,
              help="The longest gap until the next run (the CronJob's schedule; 1m to 30m).")
@click.option("--max-run-time", type=DURATION, default=None,
              help="Start no mint after this long; default: a minute before --interval is up.")
@click.option("--concurrency", type=click.IntRange(1, MAX_CONCURRENCY), default=8, show_default=True,
              help="Installations handled at once.")
@click.option("--status-config-map", envvar="REFRESHER_STATUS", default="",
              help="ConfigMap (in the mint budget's namespace) the run's figures go to for the metrics "
                   "exporter (env REFRESHER_STATUS); empty: none.")
@click.option("--min-valid", type=DURATION, default=None, hidden=True,
              help="Before 0.2: replaced by --margin and --interval; ignored with a warning.")
@click.option("--allowed-orgs", envvar="ALLOWED_ORGS", default="",
              help="Comma-separated org logins served, any case, as the interceptor's (env ALLOWED_ORGS); "
                   "default all. Other orgs get no Secret and no mint.")
@click.option("--disallowed-org-grace", type=DURATION, default="24h", show_default=True,
              help="Keep the Secret of an org no longer in --allowed-orgs this long, then delete it.")
@click.option("--dry-run", is_flag=True, help="Log what would change; mint and write nothing.")
def cli(
    app: AppSettings, kube: KubeSettings, margin: timedelta, interval: timedelta,
    max_run_time: timedelta | None, concurrency: int, status_config_map: str, min_valid: timedelta | None,
    allowed_orgs: str, disallowed_org_grace: timedelta, dry_run: bool,
) -> None:
    """Keep every installation's token Secret above the margin and reconcile the Secrets with the App's
    installations; every mint spends the App-wide mint budget."""
    settings = Settings(
        app=app, kube=kube, margin=margin, interval=interval, max_run_time=max_run_time,
        concurrency=concurrency, dry_run=dry_run, allowed_orgs=parse_allowed_orgs(allowed_orgs),
        disallowed_grace=disallowed_org_grace, status_config_map=status_config_map.strip(),
    )
    if min_valid is not None:
        log.warning("--min-valid is no longer used (every token now keeps --margin): re-render the CronJob",
                    extra={"event": "ignored-flag", "flag": "--min-valid"})
    refresher = build(settings)
    if settings.over_github_limit:
        log.warning("mint budget is above GitHub's ~180 mints a minute: expect secondary rate limits",
                    extra={"mint_budget_per_minute": settings.app.mint_budget.per_minute})
    try:
        summary = refresher.run()
    except PeribolosError as exc:
        _fail(f"{_hint(exc)} ({type(exc).__name__}: {exc})")
    sys.exit(summary.exit_code)


def build(settings: Settings) -> Refresher:
    """The clients, the App-wide budget and the status store for ``settings``, on the wall clock (the
    shared budget's slots are instants every node agrees on); ConfigError when the key or kubeconfig is
    unusable."""
    budget = clients.mint_budget(settings.app.mint_budget, settings.kube.kubeconfig,
                                 report_waits_over=BUDGET_WAITS_REPORTED_OVER)
    status = None
    if settings.status_config_map:
        namespace = settings.app.mint_budget.namespace or default_namespace()
        status = RunStatusStore(ConfigMaps(load_core_v1(settings.kube.kubeconfig), namespace),
                                settings.status_config_map)
    return Refresher(
        clients.github_app(settings.app, pool_size=settings.concurrency),
        clients.token_store(settings.kube),
        margin=settings.margin, interval=settings.interval, max_run_time=settings.run_time,
        concurrency=settings.concurrency, budget=budget, dry_run=settings.dry_run,  # type: ignore[arg-type]
        allowed_orgs=settings.allowed_orgs, disallowed_grace=settings.disallowed_grace, status=status,
        clock=time.time,
    )


def main() -> None:
    cli()
