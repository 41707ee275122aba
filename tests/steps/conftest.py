"""Fixtures for the step command tests: the fake GitHub, App keys, and a helper that runs ``peribolos-step``
in-process (click's CliRunner) with stdout and stderr apart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric import rsa

from peribolos_core.github import GitHubApp
from tekton.steps.cli import cli
from tests.fakes.fixtures import *  # noqa: F403
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub
from tests.helpers import json_lines

SHA = "0123456789abcdef0123456789abcdef01234567"


def run_step(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``peribolos-step ARGS`` in-process; ``result.stderr`` holds the log lines and the error line."""
    return CliRunner().invoke(cli, [str(a) for a in args], env=env or {}, catch_exceptions=False)


def log_lines(result: Result) -> list[dict[str, Any]]:
    """The JSON log lines the command wrote to stderr."""
    return json_lines(result.stderr)


@pytest.fixture
def step() -> Callable[..., Result]:
    return run_step


@pytest.fixture
def app_args(fake_github: FakeGitHub, app_key_file: Path) -> list[str]:
    """Flags that point a command at the fake GitHub as the test App."""
    return [
        "--app-id",
        APP_ID,
        "--private-key-file",
        str(app_key_file),
        "--github-api-url",
        fake_github.api_url,
    ]


@pytest.fixture
def token_file(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey, tmp_path: Path) -> Path:
    """A file with a fresh token of installation 1 (``octo-org``), as ensure-token would leave it."""
    token = GitHubApp(APP_ID, app_key, api_url=fake_github.api_url).mint_token(1)
    path = tmp_path / "token"
    path.write_text(token.token + "\n")
    fake_github.clear_requests()
    return path
