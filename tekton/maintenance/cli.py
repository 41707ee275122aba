"""``peribolos-maintain``: ``drift-repair`` and ``prune``, each run once by its CronJob. Options are checked
here, then the work is handed to :mod:`.drift` and :mod:`.prune`.

Exit codes: 0 done; 1 some TaskRuns could not be created or deleted (the others were; each has its
``failed`` line); 2 bad configuration or nothing could start (the key, GitHub's list of installations,
the TriggerTemplate, the TaskRun list, RBAC), with one line on stderr. Nothing was changed then.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import click

from peribolos_core import clients
from peribolos_core.durations import DURATION
from peribolos_core.errors import ConfigError, KubeForbidden, PeribolosError
from peribolos_core.options import app_listing_hint, app_options, kube_options, log_options, version_option
from peribolos_core.settings import AppSettings, KubeSettings, parse_allowed_orgs

from .drift import DEFAULT_PER_MINUTE, MAX_PER_MINUTE, DriftOptions, DriftRepair
from .prune import DEFAULT_MAX_DELETIONS, Policy, Pruner
from .tekton_api import TektonObjects

PROG = "peribolos-maintain"
log = logging.getLogger("peribolos.maintain")


def _hint(exc: PeribolosError) -> str:
    if (hint := app_listing_hint(exc)) is not None:
        return hint
    if isinstance(exc, KubeForbidden):
        return ("the ServiceAccount may not do this: check its Role (the rendered maintenance.yaml) and "
                "--namespace")
    return "cannot reach the Kubernetes API: check --kubeconfig / in-cluster access and --namespace"


def _fail(command: str, message: str) -> NoReturn:
    log.error(message, extra={"event": "aborted", "command": command})
    click.echo(f"{PROG} {command}: {message}", err=True)
    sys.exit(2)


def _aborts(func: Callable[..., int]) -> Callable[..., None]:
    """Run the command and exit with its code; bad settings, or a failure before anything changed, end it
    with one line and exit 2. Goes below ``log_options`` and above the option groups."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        command = click.get_current_context().info_name or func.__name__
        try:
            code = func(*args, **kwargs)
        except ConfigError as exc:
            _fail(command, str(exc))
        except PeribolosError as exc:
            _fail(command, f"{_hint(exc)} ({type(exc).__name__}: {exc})")
        sys.exit(code)

    return wrapper


@click.group(name=PROG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@version_option
def cli() -> None:
    """Keep the service converged and its namespace tidy: repair drift, prune finished TaskRuns."""


def _default_run_id() -> str:
    return f"manual-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


@cli.command("drift-repair")
@log_options
@_aborts
@app_options
@kube_options
@click.option("--config-repo", default=".github", show_default=True,
              help="Repository, in each org, that holds the config (the interceptor's).")
@click.option("--config-path", default="peribolos.yaml", show_default=True, help="The config file in it.")
@click.option("--taskruns-per-minute", type=click.IntRange(1, MAX_PER_MINUTE), default=DEFAULT_PER_MINUTE,
              show_default=True,
              help="Sync TaskRuns created a minute, evenly spaced (each mints ~3 tokens and may post one "
                   "check run).")
@click.option("--max-run-time", type=DURATION, default="23h", show_default=True,
              help="Create no TaskRun after this long; the rest (synced most recently) waits for the next "
                   "run.")
@click.option("--allowed-orgs", envvar="ALLOWED_ORGS", default="",
              help="Comma-separated org logins served, any case (env ALLOWED_ORGS); default all.")
@click.option("--run-id", envvar="RUN_ID", default="",
              help="This run's id, e.g. its Job's name (env RUN_ID): a retried run makes no TaskRun twice. "
                   "Default: manual-<UTC time>.")
@click.option("--dry-run", is_flag=True,
              help="Have the API server check each TaskRun (server-side dry run) and store none.")
def drift_repair(
    app: AppSettings, kube: KubeSettings, config_repo: str, config_path: str, taskruns_per_minute: int,
    max_run_time: timedelta, allowed_orgs: str, run_id: str, dry_run: bool,
) -> int:
    """Sync every active installation's config repository at its default branch head (a TaskRun of the
    TriggerTemplate peribolos-sync each, report mode 'changes'), so changes made by hand are reverted."""
    options = DriftOptions(
        run_id=run_id.strip() or _default_run_id(), config_repo=config_repo, config_path=config_path,
        per_minute=taskruns_per_minute, max_run_time=max_run_time,
        allowed_orgs=parse_allowed_orgs(allowed_orgs), dry_run=dry_run,
    )
    tekton = TektonObjects.connect(kube.kubeconfig, kube.namespace)
    repair = DriftRepair(clients.github_app(app), tekton, options)
    return repair.run().exit_code


@cli.command("prune")
@log_options
@_aborts
@kube_options
@click.option("--keep-successful", type=click.IntRange(min=0), default=5, show_default=True,
              help="Successful TaskRuns kept per org and action (the newest).")
@click.option("--keep-failed", type=click.IntRange(min=0), default=20, show_default=True,
              help="Failed TaskRuns kept per org and action (the newest).")
@click.option("--max-success-age", type=DURATION, default="7d", show_default=True,
              help="Successful TaskRuns older than this are deleted, however few.")
@click.option("--max-failure-age", type=DURATION, default="30d", show_default=True,
              help="Failed TaskRuns older than this are deleted, however few.")
@click.option("--max-deletions", type=click.IntRange(min=1), default=DEFAULT_MAX_DELETIONS, show_default=True,
              help="Deletions in one run, oldest first; the rest waits for the next run.")
@click.option("--dry-run", is_flag=True, help="Log what would be deleted; delete nothing.")
def prune(
    kube: KubeSettings, keep_successful: int, keep_failed: int, max_success_age: timedelta,
    max_failure_age: timedelta, max_deletions: int, dry_run: bool,
) -> int:
    """Delete finished TaskRuns of this service (their Pods go with them) by count and age per org and
    action; running ones are never touched."""
    policy = Policy(keep_successful, keep_failed, max_success_age, max_failure_age)
    pruner = Pruner(TektonObjects.connect(kube.kubeconfig, kube.namespace), policy,
                    max_deletions=max_deletions, dry_run=dry_run)
    return pruner.run().exit_code


def main() -> None:
    cli()
