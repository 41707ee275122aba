"""Flag handling of ``peribolos-interceptor`` that stops before the server starts."""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tekton.interceptor.cli import main, read_secrets


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main() configures the root logger onto CliRunner's stream, which is closed after invoke()."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    throttled = [logging.getLogger(name) for name in ("peribolos.interceptor", "uvicorn.error", "asyncio")]
    filters = [logger.filters[:] for logger in throttled]
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for logger, kept in zip(throttled, filters, strict=True):
        logger.filters[:] = kept  # main() throttles their warnings


@pytest.mark.parametrize(
    ("text", "secrets"),
    [
        ("s3cret\n", (b"s3cret",)),
        ("old-secret\r\nnew-secret\r\n", (b"old-secret", b"new-secret")),
        ("\n  spaced out  \n\n", (b"spaced out",)),
        ("clé-été\n", ("clé-été".encode(),)),
        ("\n \n", ()),
    ],
    ids=["one", "rotation-crlf", "whitespace", "utf8", "empty"],
)
def test_read_secrets_one_a_line(text: str, secrets: tuple[bytes, ...]) -> None:
    assert read_secrets(text) == secrets


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no webhook secret"),
        (["--webhook-secret-file", "/nonexistent/secret"], "does not exist"),
        (["--webhook-secret-file", "{binary}"], "cannot read"),
        (["--webhook-secret-file", "{secret}", "--config-repo", " "], "must not be empty"),
        (["--webhook-secret-file", "{secret}", "--app-id", "0"], "--app-id"),
        (["--webhook-secret-file", "{secret}", "--port", "70000"], "--port"),
        (["--webhook-secret-file", "{short}"], "webhook secret 2 of {short} is 1 characters long"),
        (["--webhook-secret-file", "{fifteen}"], "is 15 characters long; use at least 16"),
        (["--webhook-secret-file", "{secret}"], "--app-id / GITHUB_APP_ID is required: sync, dry-run are "
         "re-run by a rerequested check run, which counts only when this App made it"),
        (["--webhook-secret-file", "{secret}", "--actions", "install,bogus", "--app-id", "2"],
         "must be a comma-separated list of install, uninstall, sync, dry-run; unknown: bogus"),
    ],
    ids=[
        "no-secret",
        "missing-file",
        "not-utf8",
        "empty-repo",
        "app-id-zero",
        "port-range",
        "one-character-secret",
        "fifteen-characters",
        "check-runs-served-without-app-id",
        "unknown-action",
    ],
)
def test_bad_configuration_exits_2_before_serving(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "secret").write_text("a-webhook-secret\n")
    (tmp_path / "short").write_text("a-long-enough-webhook-secret\nx\n")
    (tmp_path / "fifteen").write_text("éééééééééééééé1\n")  # 15 characters, 29 bytes
    files = {name: tmp_path / name for name in ("binary", "secret", "short", "fifteen")}
    args = [a.format(**files) for a in args]
    result = CliRunner().invoke(main, args, env={"WEBHOOK_SECRET": "", "GITHUB_APP_ID": ""})
    assert result.exit_code == 2, result.output
    assert " ".join(message.format(**files).split()) in " ".join(result.output.split())
    assert "a-long-enough-webhook-secret" not in result.output


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    version = importlib.metadata.version("peribolos-as-a-service")
    assert result.output.split(", version ")[1].strip() == version


def test_an_install_without_check_runs_needs_no_app_id(interceptor_process: Any) -> None:
    """Only install and uninstall wired: no rerequest to judge, so no App id is needed to start."""
    running = interceptor_process("--actions", "install,uninstall", secrets=["a-webhook-secret"])
    assert running.proc.poll() is None
