"""The shared option groups: flags and environment variables become one settings object per group, bad
values are ConfigError inside the command, logging is configured first, and --version reads the package."""

from __future__ import annotations

import functools
import logging
from importlib.metadata import version
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from peribolos_core.errors import (
    BadCredentials,
    ConfigError,
    GitHubRequestError,
    GitHubUnavailable,
    KubeForbidden,
    PeribolosError,
)
from peribolos_core.logs import JSONFormatter, TextFormatter
from peribolos_core.options import (
    app_listing_hint,
    app_options,
    github_options,
    kube_options,
    log_options,
    version_option,
)
from peribolos_core.settings import AppSettings, GitHubSettings, KubeSettings, MintBudgetSettings


def _config_errors_exit_2(func: Any) -> Any:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"config: {exc}", err=True)
            raise SystemExit(2) from exc

    return wrapper


SEEN: dict[str, Any] = {}


@click.command()
@version_option
@log_options
@_config_errors_exit_2
@app_options
@kube_options
def program(app: AppSettings, kube: KubeSettings) -> None:
    SEEN.update(app=app, kube=kube, handler=logging.getLogger().handlers[0].formatter)


@click.command()
@github_options
def fetcher(github: GitHubSettings) -> None:
    SEEN.update(github=github)


def invoke(command: click.Command, args: list[str], env: dict[str, str] | None = None) -> Any:
    SEEN.clear()
    blank = {"POD_NAMESPACE": "", "KUBECONFIG": "", "TOKEN_NAMESPACE": "", "MINT_BUDGET": "",
             "MINT_BUDGET_NAMESPACE": "", "MINT_BUDGET_PER_MINUTE": ""}
    return CliRunner().invoke(command, args, env={**blank, **(env or {})})


def test_flags_become_settings(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}")
    result = invoke(program, ["--app-id", "12", "--private-key-file", "/k.pem", "--github-api-url",
                              "https://ghe.example/api/v3", "--github-max-retries", "2", "--namespace", "ns",
                              "--kubeconfig", str(kubeconfig), "--log-format", "text"])
    assert result.exit_code == 0, result.output
    assert SEEN["app"] == AppSettings("12", Path("/k.pem"), GitHubSettings("https://ghe.example/api/v3", 2))
    assert SEEN["kube"] == KubeSettings("ns", str(kubeconfig))
    assert isinstance(SEEN["handler"], TextFormatter), "logging is configured before the command runs"


def test_environment_variables_become_settings() -> None:
    env = {"GITHUB_APP_ID": "Iv1.abc", "GITHUB_APP_PRIVATE_KEY_FILE": "/k.pem", "GITHUB_API_URL": "http://x",
           "GITHUB_MAX_RETRIES": "0", "POD_NAMESPACE": "from-env", "LOG_FORMAT": "json"}
    result = invoke(program, [], env)
    assert result.exit_code == 0, result.output
    assert SEEN["app"] == AppSettings("Iv1.abc", Path("/k.pem"), GitHubSettings("http://x", 0))
    assert SEEN["kube"].namespace == "from-env" and SEEN["kube"].kubeconfig is None
    assert SEEN["kube"].token_namespace == "from-env", "by default the token Secrets are in the pod's own"
    assert isinstance(SEEN["handler"], JSONFormatter)


def test_the_token_namespace_has_its_own_flag_and_variable() -> None:
    """POD_NAMESPACE keeps meaning the pod's own namespace; the token Secrets' is TOKEN_NAMESPACE."""
    env = {"GITHUB_APP_ID": "12", "GITHUB_APP_PRIVATE_KEY_FILE": "/k.pem", "POD_NAMESPACE": "peribolos",
           "TOKEN_NAMESPACE": "peribolos-tokens"}
    assert invoke(program, [], env).exit_code == 0
    assert (SEEN["kube"].namespace, SEEN["kube"].token_namespace) == ("peribolos", "peribolos-tokens")
    assert invoke(program, ["--token-namespace", "elsewhere"], env).exit_code == 0
    assert SEEN["kube"].token_namespace == "elsewhere"


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, MintBudgetSettings(150, "", None)),
        (["--mint-budget", "peribolos-mint-budget", "--mint-budget-namespace", "main",
          "--mint-budget-per-minute", "120"], {}, MintBudgetSettings(120, "peribolos-mint-budget", "main")),
        ([], {"MINT_BUDGET": "b", "MINT_BUDGET_NAMESPACE": "ns", "MINT_BUDGET_PER_MINUTE": "10"},
         MintBudgetSettings(10, "b", "ns")),
    ],
    ids=["default-no-shared-budget", "flags", "environment"],
)
def test_the_app_carries_its_mint_budget(args, env, expected) -> None:
    result = invoke(program, ["--app-id", "12", "--private-key-file", "/k.pem", *args], env)
    assert result.exit_code == 0, result.output
    assert SEEN["app"].mint_budget == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--private-key-file", "/k.pem"], "--app-id / GITHUB_APP_ID must be"),
        (["--app-id", "12"], "--private-key-file / GITHUB_APP_PRIVATE_KEY_FILE is required"),
        (["--app-id", "12", "--private-key-file", "/k.pem", "--namespace", "No_Way"], "valid namespace name"),
        (["--app-id", "12", "--private-key-file", "/k.pem", "--namespace", "ns", "--kubeconfig", "/nope"],
         "/nope does not exist"),
        (["--app-id", "12", "--private-key-file", "/k.pem", "--mint-budget", "Not_A_Name"],
         "--mint-budget / MINT_BUDGET 'Not_A_Name' is not a valid ConfigMap name"),
        (["--app-id", "12", "--private-key-file", "/k.pem", "--mint-budget", "b", "--mint-budget-namespace",
          "No_Way"], "--mint-budget-namespace / MINT_BUDGET_NAMESPACE 'No_Way' is not a valid namespace"),
    ],
    ids=["no-app-id", "no-key", "bad-namespace", "no-kubeconfig", "bad-budget-name", "bad-budget-namespace"],
)
def test_bad_settings_are_config_errors_inside_the_command(args: list[str], message: str) -> None:
    result = invoke(program, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("config: ") and message in result.stderr


def test_github_group_alone() -> None:
    assert invoke(fetcher, []).exit_code == 0
    assert SEEN["github"] == GitHubSettings()
    bad = invoke(fetcher, ["--github-max-retries", "11"])
    assert bad.exit_code == 2 and "--github-max-retries" in bad.output


@click.command()
@version_option
def other_program() -> None:
    """A second program with the option: each prints its own name."""


def test_version_comes_from_the_package_and_names_each_program() -> None:
    result = invoke(program, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"program, version {version('peribolos-as-a-service')}\n"
    assert invoke(other_program, ["--version"]).output.startswith("other-program, version ")


@pytest.mark.parametrize(
    ("exc", "hint"),
    [
        (BadCredentials(401, "bad JWT"), "check --app-id, the private key"),
        (GitHubUnavailable(None, "unreachable"), "check --github-api-url"),
        (GitHubRequestError(404, "no such thing"), "check --github-api-url"),
        (KubeForbidden(403, "forbidden"), None),
        (ConfigError("bad flag"), None),
    ],
    ids=["jwt-refused", "github-unreachable", "github-refused", "kube-own-hint", "config-own-hint"],
)
def test_app_listing_hint_names_the_app_flags(exc: PeribolosError, hint: str | None) -> None:
    got = app_listing_hint(exc)
    assert got is None if hint is None else hint in (got or "")
