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

from peribolos_core import actions, clients, logs, scopes
from peribolos_core import tokens as token_cases
from peribolos_core.actions import ACTIONS, Action
from peribolos_core.durations import DURATION
from peribolos_core.errors import BadCredentials, ConfigError, PeribolosError
from peribolos_core.github import check_repo
from peribolos_core.options import (
    FILE,
    app_options,
    github_options,
    kube_options,
    log_options,
    version_option,
)
from peribolos_core.settings import (
    COMMIT_SHA,
    AppSettings,
    GitHubSettings,
    KubeSettings,
    check_installation_id,
    check_min_valid,
)
from peribolos_core.token_secret import secret_name

from . import bootstrap as bootstrap_step
from . import config as config_step
from . import prepare as prepare_step
from . import report as report_step
from . import state, tokens
from .peribolos_config import PERIBOLOS_MIN_ADMINS
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


def min_admins_option(default: int | None, help: str) -> Callable[[Any], Any]:
    """peribolos' ``--min-admins``: never under its floor (:data:`PERIBOLOS_MIN_ADMINS`)."""
    return click.option("--min-admins", type=click.IntRange(min=PERIBOLOS_MIN_ADMINS), default=default,
                        show_default=default is not None, help=help)


def required_admins_option(help: str) -> Callable[[Any], Any]:
    """peribolos' ``--required-admins`` (repeatable)."""
    return click.option("--required-admins", multiple=True, metavar="LOGIN", help=help)


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
            "namespace": kube.token_namespace,
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


state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The Task's shared state folder: record the outcome there for report (a failure exits 0).",
)
action_option = click.option(
    "--action",
    type=click.Choice(report_step.config_actions()),
    required=True,
    help="The Task's action (its check run, whether it applies the config).",
)
app_name_option = click.option(
    "--app-name", default="peribolos", show_default=True, help="The GitHub App's name, on the check run."
)
check_run_when_option = click.option(
    "--check-run-when",
    type=click.Choice(actions.CHECK_RUN_WHEN),
    default=actions.ALWAYS,
    show_default=True,
    help="always: in progress, then completed; changed-or-failed: only a completed check run when peribolos "
    "changed something or anything failed (scheduled runs).",
)


def _action(name: str) -> Action:
    row = ACTIONS.get(name)
    assert row is not None  # click.Choice
    return row


def _record_to(state_dir: Path) -> Callable[[state.Record], None]:
    return lambda record: state.write(state_dir, record)


@cli.command()
@log_options
@step
@action_option
@installation_option
@click.option("--org", required=True, help="The installation's account login.")
@repo_option
@click.option("--revision", default="", help="Commit to apply or check; empty: the default branch's head.")
@check_run_when_option
@click.option("--details-url", default="", help="The check run's details_url (the TaskRun in a dashboard).")
@app_name_option
@click.option(
    "--peribolos-permission",
    "peribolos_permissions",
    multiple=True,
    metavar="PERMISSION=LEVEL",
    help="A permission of peribolos' token (repeatable; the generator renders what the --fix-* flags need).",
)
@click.option(
    "--peribolos-all-repositories",
    is_flag=True,
    help="peribolos' token reaches every repository (a --fix-* flag manages them); else only --repo.",
)
@click.option("--holder", default="", envvar="POD_NAME", help="Who holds the org's Lease (the TaskRun).")
@click.option("--lease-duration", type=DURATION, default="30m", show_default=True,
              help="The Lease expires this long after it is taken (the TaskRun's timeout).")
@click.option("--lock-wait", type=DURATION, default="20m", show_default=True,
              help="How long a sync waits for another sync of the org.")
@state_dir_option
@click.option("--report-token-file", type=FILE, required=True, help="Where report's token goes.")
@click.option("--fetch-token-file", type=FILE, required=True, help="Where fetch-config's token goes.")
@click.option("--peribolos-token-file", type=FILE, required=True, help="Where peribolos' token goes.")
@app_options
@kube_options
def prepare(
    action: str,
    installation_id: int,
    org: str,
    repo: str,
    revision: str,
    check_run_when: str,
    details_url: str,
    app_name: str,
    peribolos_permissions: tuple[str, ...],
    peribolos_all_repositories: bool,
    holder: str,
    lease_duration: timedelta,
    lock_wait: timedelta,
    state_dir: Path | None,
    report_token_file: Path,
    fetch_token_file: Path,
    peribolos_token_file: Path,
    app: AppSettings,
    kube: KubeSettings,
) -> None:
    """The sync and dry-run Tasks' first step: mint each step's own scoped token, create the check run in
    progress, and for a sync take the org's Lease and check that --revision is still the default branch's
    head. Failures are recorded in --state-dir for report (exit 0)."""
    row = _action(action)
    check_installation_id(installation_id)
    check_repo(repo)
    if state_dir is None:
        raise ConfigError("--state-dir is required: report completes the check run from prepare's record")
    if not revision and not row.locks:
        raise ConfigError(f"--revision is required for {action} (a sync alone resolves the branch's head)")
    if revision and not COMMIT_SHA.fullmatch(revision):
        raise ConfigError(f"--revision {revision[:50]!r} is not a commit SHA")
    if row.locks and not holder:
        raise ConfigError("--holder / POD_NAME is required for a sync: the org's Lease names its holder")
    try:
        permissions = dict(scopes.parse_permission(p) for p in peribolos_permissions)
    except ValueError as exc:
        raise ConfigError(f"--peribolos-permission {exc}") from exc
    if not permissions:
        raise ConfigError("--peribolos-permission is required (peribolos reads the org's members at least)")
    repo_name = repo.split("/", 1)[1]
    request = prepare_step.Request(
        action=row,
        installation_id=installation_id,
        org=org,
        repo=repo,
        revision=revision,
        peribolos=scopes.Scope(permissions, None if peribolos_all_repositories else (repo_name,)),
        check_run_when=check_run_when,
        details_url=details_url,
        app_name=app_name,
        holder=holder,
        lease_seconds=int(lease_duration.total_seconds()),
        lock_wait_seconds=lock_wait.total_seconds(),
    )
    save = _record_to(state_dir)
    try:
        locks = clients.org_locks(kube) if row.locks else None
        minter = _minter(app, kube)
    except PeribolosError as exc:
        # The App key or the kubeconfig is unusable: say so on the check run (report), then exit 2.
        save(state.Record(state.PREPARE, state.FAILED, f"The service is misconfigured: {exc}", "service",
                          revision=revision))
        raise
    record = prepare_step.Prepare(
        request,
        minter,
        lambda token: clients.installation_client(app.github, token),
        prepare_step.TokenFiles(report_token_file, fetch_token_file, peribolos_token_file),
        save,
        locks,
    ).run()
    log.info("prepare done", extra={"outcome": record.outcome, "revision": record.revision})


@cli.command(name="fetch-config")
@log_options
@step
@token_file_option
@repo_option
@click.option("--revision", default="", help="Commit SHA (or ref) to read the file at; with --state-dir, "
              "empty means the one prepare recorded.")
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
@min_admins_option(None, "As peribolos' --min-admins: fewer admins is a problem.")
@required_admins_option("As peribolos' --required-admins (repeatable).")
@state_dir_option
@github_options
def fetch_config(
    token_file: Path,
    repo: str,
    revision: str,
    config_path: str,
    output: Path,
    org: str | None,
    min_admins: int | None,
    required_admins: tuple[str, ...],
    state_dir: Path | None,
    github: GitHubSettings,
) -> None:
    """Fetch the org's peribolos config at --revision, check it against peribolos' format (and --org),
    write --output. With --state-dir: only when prepare succeeded, and the outcome is recorded there."""
    def fetch() -> tuple[int, Any]:
        client = clients.installation_client(github, read_token_file(token_file))
        return config_step.fetch_config(client, repo, revision, config_path, output, org,
                                        min_admins=min_admins, required_admins=required_admins)

    if state_dir is None:
        if not revision:
            raise ConfigError("--revision is required without --state-dir")
        size, _ = fetch()
        log.info("config fetched", extra={"repo": repo, "revision": revision, "path": config_path,
                                          "output": str(output), "bytes": size})
        return
    prepared = state.read(state_dir, state.PREPARE)
    if prepared is None or not prepared.ok:
        record = state.Record(state.FETCH_CONFIG, state.SKIPPED, "prepare did not succeed")
    else:
        revision = revision or prepared.revision
        state.write(state_dir, state.Record(state.FETCH_CONFIG))
        record = config_step.fetch_and_record(fetch, config_path, repo, revision)
    state.write(state_dir, record)
    level = logging.INFO if record.outcome in (state.OK, state.SKIPPED) else logging.ERROR
    log.log(level, "fetch-config " + record.outcome, extra={
        "repo": repo, "revision": revision, "path": config_path, "reason": record.reason or None,
        "problems": len(record.problems),
    })


@cli.command()
@log_options
@step
@action_option
@repo_option
@click.option("--revision", default="", help="The run's commit; empty: the one prepare recorded.")
@state_dir_option
@click.option("--token-file", type=FILE, required=True, help="report's token (prepare writes it).")
@click.option(
    "--exit-code-file",
    type=FILE,
    required=True,
    help="File holding peribolos' exit code; missing means it never finished (failure).",
)
@check_run_when_option
@app_name_option
@click.option("--pod-name", envvar="POD_NAME", default="", help="This TaskRun's Pod (env POD_NAME).")
@click.option("--container", default="step-peribolos", show_default=True,
              help="The container whose log is peribolos' output.")
@kube_options
@github_options
def report(
    action: str,
    repo: str,
    revision: str,
    state_dir: Path | None,
    token_file: Path,
    exit_code_file: Path,
    check_run_when: str,
    app_name: str,
    pod_name: str,
    container: str,
    kube: KubeSettings,
    github: GitHubSettings,
) -> None:
    """Complete the run's check run with what happened (whichever step stopped it), release the org's
    Lease, and exit 1 when the TaskRun should fail (a sync that failed; a dry run the service failed)."""
    row = _action(action)
    if state_dir is None:
        raise ConfigError("--state-dir is required: report completes the check run from the steps' records")
    prepared = state.read(state_dir, state.PREPARE)
    fetched = state.read(state_dir, state.FETCH_CONFIG)
    revision = (prepared.revision if prepared is not None and prepared.revision else "") or revision
    exit_code = report_step.read_exit_code(exit_code_file)
    output, output_error = None, ""
    if fetched is not None and fetched.ok:
        output, output_error = _peribolos_output(kube, pod_name, container)
    facts = report_step.Facts(row, app_name, revision, prepared, fetched, exit_code, output, output_error)
    outcome = report_step.conclude(facts, logs.redact)
    try:
        posted = _post(github, token_file, repo, revision, row, outcome, prepared, check_run_when)
    finally:
        if prepared is not None and prepared.lease:
            released = clients.org_locks(kube).release(prepared.lease, prepared.holder)
            log.info("org lock released" if released else "org lock was no longer held by this run",
                     extra={"lease": prepared.lease, "holder": prepared.holder})
    log.info("check run completed" if posted else "no check run posted (nothing changed)", extra={
        "repo": repo, "revision": revision, "check_run_name": row.check_run, "check_run_id": posted,
        "conclusion": outcome.conclusion, "changes": outcome.changes,
    })
    if outcome.taskrun_fails(row):
        _fail("report", outcome.title, 1)


def _peribolos_output(kube: KubeSettings, pod: str, container: str) -> tuple[str | None, str]:
    """peribolos' output, read from its container's log (its image has no shell to write a file)."""
    if not pod:
        return None, "no pod name (--pod-name / POD_NAME)"
    try:
        return clients.container_log(kube, pod, container), ""
    except PeribolosError as exc:
        log.warning("peribolos' output could not be read", extra={"error": str(exc)})
        return None, str(exc)


def _post(
    github: GitHubSettings,
    token_file: Path,
    repo: str,
    revision: str,
    row: Action,
    outcome: report_step.Outcome,
    prepared: state.Record | None,
    check_run_when: str,
) -> int | None:
    if not revision or not token_file.is_file():
        _fail("report", f"no check run can be posted (prepare made no token or found no revision): "
              f"{outcome.title}", 1)
    assert row.check_run is not None
    client = clients.installation_client(github, read_token_file(token_file))
    return report_step.post(
        client, repo, revision, row.check_run, outcome,
        check_run_id=prepared.check_run_id if prepared is not None else None, check_run_when=check_run_when,
    )


@cli.command(name="check-config")
@click.argument(
    "files",
    metavar="FILE...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, readable=True),
)
@click.option("--org", default=None, help="The config must configure exactly this org (any case).")
@min_admins_option(
    PERIBOLOS_MIN_ADMINS,
    f"As peribolos' --min-admins (it never runs with fewer than {PERIBOLOS_MIN_ADMINS}): fewer admins is a "
    "problem.",
)
@required_admins_option("As peribolos' --required-admins (repeatable): each must be listed under admins.")
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


@cli.command(name="bootstrap")
@log_options
@step
@installation_option
@click.option("--org", required=True, help="The installation's organisation (its login).")
@repo_option
@click.option(
    "--path", "config_path", default="peribolos.yaml", show_default=True, help="The config file's path."
)
@click.option("--create-repo", is_flag=True, help="Create --repo (private) when it does not exist.")
@click.option(
    "--allow-public-repo",
    is_flag=True,
    help="Propose the export in a public --repo too (it shows concealed members and secret teams).",
)
@click.option("--fix-repos", is_flag=True, help="As peribolos': export the repositories' settings.")
@click.option("--fix-collaborators", is_flag=True, help="As peribolos': export direct collaborators.")
@click.option("--ignore-secret-teams", is_flag=True, help="As peribolos': leave secret teams out.")
@min_admins_option(PERIBOLOS_MIN_ADMINS, "As peribolos': fewer owners get a note in the pull request.")
@required_admins_option("As peribolos' (repeatable).")
@click.option("--docs-url", default="", help="Where the org admins' guide is published (linked from the PR).")
@app_options
@kube_options
def bootstrap(
    installation_id: int,
    org: str,
    repo: str,
    config_path: str,
    create_repo: bool,
    allow_public_repo: bool,
    fix_repos: bool,
    fix_collaborators: bool,
    ignore_secret_teams: bool,
    min_admins: int,
    required_admins: tuple[str, ...],
    docs_url: str,
    app: AppSettings,
    kube: KubeSettings,
) -> None:
    """When --repo has no --path on its default branch, export the org as it is on GitHub in peribolos'
    format and open a pull request adding it (merging it changes nothing). Never twice: the file, or any
    pull request from the branch peribolos/bootstrap, means nothing to do. Each job gets its own narrow
    token (org members read; contents and pull requests write on --repo only).
    """
    check_installation_id(installation_id)
    request = bootstrap_step.Request(
        installation_id,
        org,
        repo,
        config_path,
        create_repo=create_repo,
        allow_public_repo=allow_public_repo,
        export=bootstrap_step.ExportOptions(fix_repos, fix_collaborators, ignore_secret_teams),
        min_admins=min_admins,
        required_admins=required_admins,
        docs_url=docs_url,
    )
    outcome = bootstrap_step.bootstrap(
        _minter(app, kube), lambda token: clients.installation_client(app.github, token), request
    )
    level = logging.WARNING if outcome.action in bootstrap_step.NEEDS_ATTENTION else logging.INFO
    log.log(
        level,
        f"bootstrap: {outcome.message}",
        extra={"installation_id": installation_id, "org": org, "repo": repo, **outcome.log_fields},
    )


def main() -> None:
    cli()
