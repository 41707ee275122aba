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

from peribolos_core import logs
from peribolos_core.durations import DURATION
from peribolos_core.errors import BadCredentials, ConfigError, PeribolosError
from peribolos_core.github import GitHubApp
from peribolos_core.kube import default_namespace
from peribolos_core.token_secret import secret_name
from peribolos_core.token_store import TokenStore

from . import config as config_step
from . import report as report_step
from . import tokens
from .peribolos_config import check as check_peribolos_config
from .settings import AppSettings, GitHubSettings, KubeSettings, check_installation_id, check_min_valid

PROG = "peribolos-step"
TOKEN_FILE_COMMANDS = {"fetch-config", "report"}
log = logging.getLogger("peribolos.step")


FILE = click.Path(dir_okay=False, path_type=Path)
"""A file path option: the steps hand files to each other (token, config, exit code, output)."""


def _fail(command: str, message: str, code: int) -> NoReturn:
    log.error(message, extra={"command": command, "exit_code": code})
    click.echo(f"{PROG} {command}: error: {logs.redact(message)}", err=True)
    sys.exit(code)


def step(func: Callable[..., None]) -> Callable[..., None]:
    """Configure logging, run the command, map errors to exit codes (2 config, 1 anything else)."""

    @functools.wraps(func)
    def wrapper(*args: Any, log_format: str, log_level: str, **kwargs: Any) -> None:
        logs.configure(level=log_level, fmt=log_format)
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


def _options(*decorators: Callable[..., Any]) -> Callable[..., Any]:
    def apply(func: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


log_options = _options(
    click.option(
        "--log-format",
        envvar="LOG_FORMAT",
        type=click.Choice(["json", "text"]),
        default="json",
        show_default=True,
        help="Log lines as JSON objects or text (env LOG_FORMAT).",
    ),
    click.option(
        "--log-level",
        envvar="LOG_LEVEL",
        default="info",
        show_default=True,
        type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
        help="Env LOG_LEVEL.",
    ),
)
api_url_option = _options(
    click.option(
        "--github-api-url",
        envvar="GITHUB_API_URL",
        default="https://api.github.com",
        show_default=True,
        help="REST API base URL; https://HOST/api/v3 on GitHub Enterprise Server (env GITHUB_API_URL).",
    ),
    click.option(
        "--github-max-retries",
        envvar="GITHUB_MAX_RETRIES",
        type=click.IntRange(0, 10),
        default=4,
        show_default=True,
        help="Retries of a GitHub request after a 5xx, timeout or connection error (env GITHUB_MAX_RETRIES).",
    ),
)
app_options = _options(
    click.option(
        "--app-id", envvar="GITHUB_APP_ID", default="", help="GitHub App id or client id (env GITHUB_APP_ID)."
    ),
    click.option(
        "--private-key-file",
        envvar="GITHUB_APP_PRIVATE_KEY_FILE",
        default="",
        help="The App's PEM private key, PKCS#1 or PKCS#8 (env GITHUB_APP_PRIVATE_KEY_FILE).",
    ),
    api_url_option,
)
kube_options = _options(
    click.option(
        "--namespace",
        envvar="POD_NAMESPACE",
        default=None,
        help="Namespace of the token Secrets (env POD_NAMESPACE; default: the pod's own, else 'default').",
    ),
    click.option(
        "--kubeconfig",
        envvar="KUBECONFIG",
        default=None,
        help="kubeconfig file (env KUBECONFIG); default: in-cluster ServiceAccount.",
    ),
)
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


def _app(app_id: str, private_key_file: str, github_api_url: str, github_max_retries: int) -> AppSettings:
    if not private_key_file:
        raise ConfigError("--private-key-file / GITHUB_APP_PRIVATE_KEY_FILE is required")
    return AppSettings(app_id, Path(private_key_file), GitHubSettings(github_api_url, github_max_retries))


def _kube(namespace: str | None, kubeconfig: str | None) -> KubeSettings:
    return KubeSettings(namespace or default_namespace(), kubeconfig or None)


def _app_and_store(
    app_id: str,
    private_key_file: str,
    github_api_url: str,
    github_max_retries: int,
    namespace: str | None,
    kubeconfig: str | None,
) -> tuple[GitHubApp, TokenStore]:
    """The GitHub App client and the token store of the commands that mint (settings checked first)."""
    app_settings = _app(app_id, private_key_file, github_api_url, github_max_retries)
    kube = _kube(namespace, kubeconfig)
    return app_settings.app(), kube.store()


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
def cli() -> None:
    """Steps of the peribolos Tekton Tasks: keep an installation's token Secret, fetch the org's config at
    a revision, and report peribolos' result as a check run.

    Exit codes: 0 done, 1 failed (one line on stderr says why), 2 bad configuration.
    """


@cli.command()
@installation_option
@app_options
@kube_options
@log_options
@step
def install(
    installation_id: int,
    app_id: str,
    private_key_file: str,
    github_api_url: str,
    github_max_retries: int,
    namespace: str | None,
    kubeconfig: str | None,
) -> None:
    """Mint a token for the installation and write its Secret (with the org's login and account type).

    Run on installation created/unsuspend/new_permissions_accepted and repositories added/removed.
    """
    check_installation_id(installation_id)
    app, store = _app_and_store(
        app_id, private_key_file, github_api_url, github_max_retries, namespace, kubeconfig
    )
    outcome = tokens.install(app, store, installation_id)
    log.info("installation token stored", extra=tokens.describe(outcome, _now()))


@cli.command()
@installation_option
@kube_options
@log_options
@step
def uninstall(installation_id: int, namespace: str | None, kubeconfig: str | None) -> None:
    """Delete the installation's token Secret. A Secret already gone is success."""
    check_installation_id(installation_id)
    store = _kube(namespace, kubeconfig).store()
    existed = tokens.uninstall(store, installation_id)
    log.info(
        "installation token Secret deleted" if existed else "installation token Secret was already gone",
        extra={
            "installation_id": installation_id,
            "secret": secret_name(installation_id),
            "namespace": store.namespace,
            "existed": existed,
        },
    )


@cli.command(name="ensure-token")
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
@log_options
@step
def ensure_token(
    installation_id: int,
    min_valid: timedelta,
    token_file: Path | None,
    app_id: str,
    private_key_file: str,
    github_api_url: str,
    github_max_retries: int,
    namespace: str | None,
    kubeconfig: str | None,
) -> None:
    """Make sure the installation's Secret holds a token valid for --min-valid more; mint only if not.

    A missing Secret is created. With --token-file the token is written to that file for the next step.
    """
    check_installation_id(installation_id)
    check_min_valid(min_valid)
    app, store = _app_and_store(
        app_id, private_key_file, github_api_url, github_max_retries, namespace, kubeconfig
    )
    now = _now()
    outcome = tokens.ensure_token(app, store, installation_id, min_valid, now)
    logs.register_secret(outcome.token)
    if token_file is not None:
        tokens.write_token_file(token_file, outcome.token)
    log.info(
        "installation token ready", extra={**tokens.describe(outcome, now), "token_file": str(token_file)}
    )


@cli.command(name="fetch-config")
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
@api_url_option
@log_options
@step
def fetch_config(
    token_file: Path,
    repo: str,
    revision: str,
    config_path: str,
    output: Path,
    org: str | None,
    github_api_url: str,
    github_max_retries: int,
) -> None:
    """Fetch the org's peribolos config at --revision, check that it is a peribolos config, write --output."""
    client = GitHubSettings(github_api_url, github_max_retries).installation_client(
        read_token_file(token_file)
    )
    size = config_step.fetch_config(client, repo, revision, config_path, output, org)
    log.info(
        "config fetched",
        extra={"repo": repo, "revision": revision, "path": config_path, "output": str(output), "bytes": size},
    )


@cli.command()
@token_file_option
@repo_option
@click.option("--head-sha", required=True, help="The commit the check run belongs to.")
@click.option(
    "--name",
    type=click.Choice(report_step.CHECK_RUN_NAMES),
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
@api_url_option
@log_options
@step
def report(
    token_file: Path,
    repo: str,
    head_sha: str,
    name: str,
    exit_code_file: Path,
    details_file: Path | None,
    propagate_exit_code: bool,
    github_api_url: str,
    github_max_retries: int,
) -> None:
    """Create a completed check run on --head-sha: success when peribolos exited 0, else failure."""
    client = GitHubSettings(github_api_url, github_max_retries).installation_client(
        read_token_file(token_file)
    )
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
