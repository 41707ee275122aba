"""``peribolos-step``: the commands the Tekton Tasks run. Options are checked here, then work is handed to
``tokens``, ``config`` and ``report``.

Exit codes: 0 done; 1 failed (one line on stderr says why and what to do); 2 bad configuration (a flag,
an environment variable, the key file, an App JWT GitHub refuses).
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import click

from peribolos_core import clients, logs
from peribolos_core import tokens as token_cases
from peribolos_core.durations import DURATION
from peribolos_core.errors import BadCredentials, ConfigError, PeribolosError
from peribolos_core.options import (
    FILE,
    app_options,
    github_options,
    kube_options,
    log_options,
    version_option,
)
from peribolos_core.settings import (
    AppSettings,
    GitHubSettings,
    KubeSettings,
    check_installation_id,
    check_min_valid,
)
from peribolos_core.token_secret import secret_name

from . import config as config_step
from . import report as report_step
from . import tokens
from .peribolos_config import check as check_peribolos_config

PROG = "peribolos-step"
TOKEN_FILE_COMMANDS = {"fetch-config", "report"}
log = logging.getLogger("peribolos.step")


def _fail(command: str, message: str, code: int) -> NoReturn:
    log.error(message, extra={"command": command, "exit_code": code})
    click.echo(f"{PROG} {command}: error: {logs.redact(message)}", err=True)
    sys.exit(code)


def step(func: Callable[..., None]) -> Callable[..., None]:
    """Run the command, mapping errors to exit codes (2 configuration, 1 anything else). Goes below
    ``log_options`` (logging is configured first) and above the option groups (their settings are built,
    and checked, inside it)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        command = click.get_current_context().info_name or func.__name__
        try:
            func(*args, **kwargs)
        except ConfigError as exc:
            _fail(command, str(exc), 2)
        except BadCredentials as exc:
            # The App's JWT refused is configuration (app id, key); an installation token refused is not.
            _fail(command, str(exc), 1 if command in TOKEN_FILE_COMMANDS else 2)
        except PeribolosError as exc:
            hint = " (temporary: retrying the TaskRun may help)" if exc.temporary else ""
            _fail(command, f"{exc}{hint}", 1)
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            _fail(command, f"{type(exc).__name__}: {exc.strerror or exc}{where}", 1)

    return wrapper


installation_option = click.option(
    "--installation-id", type=int, required=True, help="The GitHub App installation id (digits)."
)
token_file_option = click.option(
    "--token-file",
    type=FILE,
    required=True,
    help="File holding the installation token (written by ensure-token --token-file).",
)
repo_option = click.option("--repo", required=True, help="Repository as ORG/REPO, e.g. my-org/.github.")


def _minter(app: AppSettings, kube: KubeSettings) -> token_cases.Minter:
    """The App-wide mint budget's minter (``--mint-budget``): a step that must wait for a slot logs it."""
    return clients.minter(app, kube)


def _now() -> datetime:
    return datetime.fromtimestamp(time.time(), UTC)


def read_token_file(path: Path) -> str:
    """The token in ``path`` (whitespace stripped), registered for redaction; ConfigError when unusable."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        raise ConfigError(f"--token-file {path} does not exist: run ensure-token --token-file first") from exc
    if not token:
        raise ConfigError(f"--token-file {path} is empty")
    logs.register_secret(token)
    return token


@click.group(name=PROG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@version_option
def cli() -> None:
    """Steps of the peribolos Tekton Tasks: keep an installation's token Secret, fetch the org's config at
    a revision, and report peribolos' result as a check run.

    Exit codes: 0 done, 1 failed (one line on stderr says why), 2 bad configuration.
    """


@cli.command()
@log_options
@step
@installation_option
@app_options
@kube_options
def install(installation_id: int, app: AppSettings, kube: KubeSettings) -> None:
    """Mint a token for the installation and write its Secret (with the org's login and account type).

    Run on installation created/unsuspend/new_permissions_accepted and repositories added/removed.
    """
    check_installation_id(installation_id)
    outcome = token_cases.install(_minter(app, kube), clients.token_store(kube), installation_id)
    log.info("installation token stored", extra=tokens.describe(outcome, _now()))


@cli.command()
@log_options
@step
@installation_option
@kube_options
def uninstall(installation_id: int, kube: KubeSettings) -> None:
    """Delete the installation's token Secret. A Secret already gone is success."""
    check_installation_id(installation_id)
    existed = token_cases.forget(clients.token_store(kube), installation_id)
    log.info(
        "installation token Secret deleted" if existed else "installation token Secret was already gone",
        extra={
            "installation_id": installation_id,
            "secret": secret_name(installation_id),
            "namespace": kube.namespace,
            "existed": existed,
        },
    )


@cli.command(name="ensure-token")
@log_options
@step
@installation_option
@click.option(
    "--min-valid",
    type=DURATION,
    default="45m",
    show_default=True,
    help="Re-mint when the stored token expires sooner than this (1m to 59m).",
)
@click.option(
    "--token-file",
    type=FILE,
    default=None,
    help="Also write the token here (mode 0600) for peribolos' --github-token-path.",
)
@app_options
@kube_options
def ensure_token(
    installation_id: int, min_valid: timedelta, token_file: Path | None, app: AppSettings, kube: KubeSettings
) -> None:
    """Make sure the installation's Secret holds a token valid for --min-valid more; mint only if not.

    A missing Secret is created. With --token-file the token is written to that file for the next step.
    """
    check_installation_id(installation_id)
    check_min_valid(min_valid)
    minter, store = _minter(app, kube), clients.token_store(kube)
    now = _now()
    outcome = token_cases.ensure(minter, store, installation_id, min_valid, now)
    if token_file is not None:
        tokens.write_token_file(token_file, outcome.token)
    log.info(
        "installation token ready", extra={**tokens.describe(outcome, now), "token_file": str(token_file)}
    )


@cli.command(name="fetch-config")
@log_options
@step
@token_file_option
@repo_option
@click.option("--revision", required=True, help="Commit SHA (or ref) to read the file at.")
@click.option(
    "--path",
    "config_path",
    default="peribolos.yaml",
    show_default=True,
    help="The config file's path in the repository.",
)
@click.option(
    "--output",
    type=FILE,
    required=True,
    help="Where to write the file for peribolos' --config-path.",
)
@click.option(
    "--org",
    default=None,
    help="When set, the config must configure exactly this org (the installation's account).",
)
@github_options
def fetch_config(
    token_file: Path,
    repo: str,
    revision: str,
    config_path: str,
    output: Path,
    org: str | None,
    github: GitHubSettings,
) -> None:
    """Fetch the org's peribolos config at --revision, check that it is a peribolos config, write --output."""
    client = clients.installation_client(github, read_token_file(token_file))
    size = config_step.fetch_config(client, repo, revision, config_path, output, org)
    log.info(
        "config fetched",
        extra={"repo": repo, "revision": revision, "path": config_path, "output": str(output), "bytes": size},
    )


@cli.command()
@log_options
@step
@token_file_option
@repo_option
@click.option("--head-sha", required=True, help="The commit the check run belongs to.")
@click.option(
    "--name",
    type=click.Choice(report_step.check_run_names()),
    required=True,
    help="Check run name; the interceptor recognises rerequests by it.",
)
@click.option(
    "--exit-code-file",
    type=FILE,
    required=True,
    help="File holding peribolos' exit code; missing means it never finished (failure).",
)
@click.option(
    "--details-file",
    type=FILE,
    default=None,
    help="peribolos' output; its tail becomes the check run's text.",
)
@click.option(
    "--propagate-exit-code",
    is_flag=True,
    help="Exit 1 after reporting when peribolos failed, so the TaskRun fails too.",
)
@github_options
def report(
    token_file: Path,
    repo: str,
    head_sha: str,
    name: str,
    exit_code_file: Path,
    details_file: Path | None,
    propagate_exit_code: bool,
    github: GitHubSettings,
) -> None:
    """Create a completed check run on --head-sha: success when peribolos exited 0, else failure."""
    client = clients.installation_client(github, read_token_file(token_file))
    run_id, run = report_step.report(client, repo, head_sha, name, exit_code_file, details_file, logs.redact)
    log.info(
        "check run created",
        extra={
            "repo": repo,
            "head_sha": head_sha,
            "check_run_name": name,
            "check_run_id": run_id,
            "conclusion": run.conclusion,
        },
    )
    if propagate_exit_code and run.conclusion != "success":
        _fail("report", f"peribolos failed: {run.title}", 1)


@cli.command(name="check-config")
@click.argument(
    "files",
    metavar="FILE...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, readable=True),
)
@click.option("--org", default=None, help="The config must configure exactly this org (any case).")
@click.option(
    "--min-admins",
    type=click.IntRange(min=2),
    default=2,
    show_default=True,
    help="As peribolos' --min-admins (it never runs with fewer than 2): fewer admins is a problem.",
)
@click.option(
    "--required-admins",
    multiple=True,
    metavar="LOGIN",
    help="As peribolos' --required-admins (repeatable): each must be listed under admins.",
)
def check_config(
    files: tuple[str, ...], org: str | None, min_admins: int, required_admins: tuple[str, ...]
) -> None:
    """Check peribolos config files locally, as fetch-config does before peribolos runs (no network).

    Prints one FILE:LINE:COL: message line per problem. Exit codes: 0 valid (warnings may be printed),
    1 problems found, 2 bad usage (an unknown flag, a missing file). Runs as a pre-commit hook too
    (.pre-commit-hooks.yaml, id peribolos-check-config).
    """
    failed = False
    for name in files:
        result = check_peribolos_config(
            Path(name).read_bytes(), org=org, min_admins=min_admins, required_admins=required_admins
        )
        for problem in result.problems:
            click.echo(problem.format(name))
        failed = failed or not result.ok
    if failed:
        sys.exit(1)


def main() -> None:
    cli()
