"""``peribolos-interceptor``: check the flags, load the webhook secrets, hand off to the server."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from peribolos_core import logs
from peribolos_core.actions import ACTIONS, CHECK_RUN
from peribolos_core.errors import ConfigError
from peribolos_core.settings import parse_allowed_orgs
from tekton.interceptor.decision import Config
from tekton.interceptor.server import serve
from tekton.interceptor.service import Interceptor, Settings

log = logging.getLogger("peribolos.interceptor")
WARNING_INTERVAL = 10.0
"""Seconds between two warnings of the same kind; the next one says how many were held back."""
MIN_SECRET_LENGTH = 16
"""Shortest webhook secret accepted: GitHub asks for a random, high-entropy string; a short one can be
guessed from one signed delivery offline."""


def check_secrets(secrets: tuple[bytes, ...], source: str) -> None:
    """Refuse secrets under :data:`MIN_SECRET_LENGTH` characters, naming the line, never the value."""
    for number, secret in enumerate(secrets, start=1):
        length = len(secret.decode("utf-8"))
        if length < MIN_SECRET_LENGTH:
            raise click.UsageError(
                f"webhook secret {number} of {source} is {length} characters long; use at least "
                f"{MIN_SECRET_LENGTH} random ones (e.g. `openssl rand -hex 32`) in the GitHub App's settings "
                "and in the secret, as GitHub recommends"
            )


def read_secrets(text: str) -> tuple[bytes, ...]:
    """One secret a line (surrounding whitespace and empty lines ignored), as UTF-8 bytes."""
    return tuple(line.strip().encode("utf-8") for line in text.splitlines() if line.strip())


def parse_actions(value: str) -> frozenset[str]:
    """``--actions``: a comma-separated list of the action table's names (at least one)."""
    names = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(names - set(ACTIONS.names))
    if unknown or not names:
        raise click.BadParameter(
            f"must be a comma-separated list of {', '.join(ACTIONS.names)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            param_hint="--actions",
        )
    return names


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="peribolos-as-a-service")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")  # noqa: S104
@click.option(
    "--webhook-secret-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="WEBHOOK_SECRET_FILE",
    help="File with the GitHub App's webhook secret; several secrets, one a line, for rotation. "
    "Without it, the WEBHOOK_SECRET environment variable is read (same format).",
)
@click.option("--config-repo", default=".github", show_default=True, help="Repo in each org with the config.")
@click.option("--config-path", default="peribolos.yaml", show_default=True, help="Config file in that repo.")
@click.option("--allowed-orgs", default="", envvar="ALLOWED_ORGS", help="Org logins, comma-separated.")
@click.option(
    "--insecure-skip-signature",
    is_flag=True,
    help="Accept unsigned webhooks. Tests only: anyone who reaches the EventListener could trigger syncs.",
)
@click.option(
    "--app-id",
    type=click.IntRange(min=1),
    envvar="GITHUB_APP_ID",
    help="GitHub App id: a rerequested check run counts only if this App created it. Required when a "
    "served action has a check run (sync, dry-run).",
)
@click.option(
    "--actions",
    "served",
    default=",".join(ACTIONS.names),
    show_default=True,
    help="The actions this install wires, comma-separated; events meaning another are not acted on.",
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "text"]),
    default="json",
    envvar="LOG_FORMAT",
    show_default=True,
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    envvar="LOG_LEVEL",
    show_default=True,
)
def main(
    port: int,
    host: str,
    webhook_secret_file: Path | None,
    config_repo: str,
    config_path: str,
    allowed_orgs: str,
    insecure_skip_signature: bool,
    app_id: int | None,
    served: str,
    log_format: str,
    log_level: str,
) -> None:
    """Tekton ClusterInterceptor for Peribolos as a Service: verify each GitHub webhook, decide what it
    means (install, uninstall, sync, dry-run, or nothing) and hand the decision to the trigger."""
    logs.configure(level=log_level, fmt=log_format)
    # Every rejected request writes a warning: an attack's flood becomes one line per 10 s per reason.
    logs.throttle_warnings("peribolos.interceptor", "uvicorn.error", "asyncio", interval=WARNING_INTERVAL)
    if webhook_secret_file is not None:
        try:
            secrets = read_secrets(webhook_secret_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(
                f"cannot read {webhook_secret_file}: {type(exc).__name__}", param_hint="--webhook-secret-file"
            ) from exc
        source = str(webhook_secret_file)
    else:
        secrets = read_secrets(os.environ.get("WEBHOOK_SECRET", ""))
        source = "WEBHOOK_SECRET"
    if secrets and not insecure_skip_signature:
        check_secrets(secrets, source)  # names the line, never the value
    for secret in secrets:
        logs.register_secret(secret.decode("utf-8"))
    if not config_repo.strip() or not config_path.strip():
        raise click.BadParameter("must not be empty", param_hint="--config-repo/--config-path")
    if insecure_skip_signature:
        secrets = ()
        log.warning(
            "SIGNATURE CHECKS ARE OFF (--insecure-skip-signature): any request that reaches this interceptor "
            "can trigger org syncs. Use it only in tests; in production mount the webhook secret and drop "
            "the flag."
        )
    elif not secrets:
        raise click.UsageError(
            f"no webhook secret: {source} is empty or unset. Give --webhook-secret-file (the GitHub App's "
            "webhook secret, one a line) or WEBHOOK_SECRET; --insecure-skip-signature is for tests only."
        )
    actions = parse_actions(served)
    with_check_runs = [row.name for row in ACTIONS if row.name in actions and CHECK_RUN in row.event_types]
    if with_check_runs and app_id is None:
        raise click.UsageError(
            f"--app-id / GITHUB_APP_ID is required: {', '.join(with_check_runs)} "
            f"{'is' if len(with_check_runs) == 1 else 'are'} re-run by a rerequested check run, which counts "
            "only when this App made it (the App Secret's app-id key)"
        )
    config = Config(
        config_repo=config_repo.strip(),
        config_path=config_path.strip().lstrip("/"),
        allowed_orgs=parse_allowed_orgs(allowed_orgs),
        app_id=app_id,
        served=actions,
    )
    settings = Settings(secrets=secrets, insecure_skip_signature=insecure_skip_signature, config=config)
    log.info(
        "interceptor starting",
        extra={
            "host": host,
            "port": port,
            "secrets": len(secrets),
            "config_repo": config.config_repo,
            "config_path": config.config_path,
            "allowed_orgs": sorted(config.allowed_orgs or []),
            "app_id": app_id,
            "actions": sorted(actions),
        },
    )
    try:
        serve(Interceptor(settings), host, port)
    except ConfigError as exc:
        log.error(str(exc))
        raise click.UsageError(str(exc)) from exc
