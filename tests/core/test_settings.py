"""One rule per setting: each check as a table, the settings objects, and the module staying light."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from peribolos_core.errors import ConfigError
from peribolos_core.settings import (
    MIN_VALID_RANGE,
    AppSettings,
    GitHubSettings,
    KubeSettings,
    check_app_id,
    check_installation_id,
    check_max_retries,
    check_min_valid,
    check_namespace,
    min_valid_ok,
    org_allowed,
    parse_allowed_orgs,
)

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (timedelta(minutes=1), True),
        (timedelta(minutes=45), True),
        (timedelta(minutes=59), True),
        (timedelta(seconds=59), False),
        (timedelta(minutes=59, seconds=1), False),
        (timedelta(hours=1), False),
        (timedelta(0), False),
    ],
    ids=["1m", "45m", "59m", "59s", "59m1s", "1h", "zero"],
)
def test_min_valid(value: timedelta, ok: bool) -> None:
    assert min_valid_ok(value) is ok
    if ok:
        assert check_min_valid(value) == value
    else:
        with pytest.raises(ConfigError, match=r"^--refresher-flag must be between 1m and 59m \(installation"):
            check_min_valid(value, "--refresher-flag")


def test_min_valid_bounds_are_inside_a_tokens_life() -> None:
    low, high = MIN_VALID_RANGE
    assert timedelta(0) < low < high < timedelta(hours=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), ("42", 42), ("0042", 42), (2**53, 2**53)],
    ids=["int", "text", "leading-zeros", "large"],
)
def test_installation_id_accepted(value: int | str, expected: int) -> None:
    assert check_installation_id(value) == expected


@pytest.mark.parametrize(
    "value",
    [0, -3, "0", "-3", "", "12a", " 12", "1" * 30, True, 1.5, None],
    ids=["zero", "negative", "zero-text", "negative-text", "empty", "letters", "space", "too-long", "bool",
         "float", "none"],
)
def test_installation_id_refused(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^--installation-id must be a positive integer, got"):
        check_installation_id(value)  # type: ignore[arg-type]


APP_IDS = [("12345", True), (" 12345 ", True), ("Iv1.0123456789abcdef", True), ("Iv23liAbC", True),
           ("", False), ("12 34", False), ("abc", False), ("Iv", False), ("12345;rm", False)]
NAMESPACES = [("peribolos", True), ("a", True), ("team-1", True), ("a" * 63, True), ("", False),
              ("Upper", False), ("under_score", False), ("-x", False), ("x-", False), ("a" * 64, False),
              ("a.b", False)]
RETRIES = [(0, True), (10, True), (-1, False), (11, False)]
CHECKS = [
    *[(check_app_id, v, ok, "--app-id / GITHUB_APP_ID must be the App's numeric id") for v, ok in APP_IDS],
    *[(check_namespace, v, ok, "is not a valid namespace name") for v, ok in NAMESPACES],
    *[(check_max_retries, v, ok, "--github-max-retries must be between 0 and 10") for v, ok in RETRIES],
]


@pytest.mark.parametrize(
    ("check", "value", "ok", "message"),
    CHECKS,
    ids=[f"{check.__name__}-{value!r}" if len(repr(value)) < 24 else f"{check.__name__}-{len(value)}-chars"
         for check, value, _, _ in CHECKS],
)
def test_check(check, value, ok: bool, message: str) -> None:
    """Each rule accepts what it should (giving the clean value) and names the flag when it refuses."""
    if ok:
        assert check(value) == (value.strip() if isinstance(value, str) else value)
    else:
        with pytest.raises(ConfigError, match=message):
            check(value)


@pytest.mark.parametrize(
    ("text", "orgs"),
    [("", None), (None, None), (" , ", None), ("Octo-Org", {"octo-org"}), ("a, B ,,c", {"a", "b", "c"})],
    ids=["empty", "unset", "only-commas", "one", "several-any-case"],
)
def test_parse_allowed_orgs(text: str | None, orgs: set[str] | None) -> None:
    assert parse_allowed_orgs(text) == (frozenset(orgs) if orgs is not None else None)


@pytest.mark.parametrize(
    ("login", "allowed", "ok"),
    [("Octo-Org", None, True), ("Octo-Org", frozenset({"octo-org"}), True),
     ("Other", frozenset({"octo-org"}), False)],
    ids=["all", "listed-any-case", "not-listed"],
)
def test_org_allowed(login: str, allowed: frozenset[str] | None, ok: bool) -> None:
    assert org_allowed(login, allowed) is ok


def test_settings_objects_check_their_values(tmp_path: Path) -> None:
    app = AppSettings(" 4242 ", "/keys/app.pem")  # type: ignore[arg-type]
    assert (app.app_id, app.private_key_file, app.github) == ("4242", Path("/keys/app.pem"), GitHubSettings())
    with pytest.raises(ConfigError, match="--private-key-file / GITHUB_APP_PRIVATE_KEY_FILE is required"):
        AppSettings("4242", "")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="--github-max-retries"):
        GitHubSettings(max_retries=11)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}")
    assert KubeSettings("ns", str(kubeconfig)).kubeconfig == str(kubeconfig)
    with pytest.raises(ConfigError, match=r"--kubeconfig / KUBECONFIG .* does not exist"):
        KubeSettings("ns", str(tmp_path / "missing"))


@pytest.mark.parametrize(
    ("token_namespace", "expected"),
    [("", "peribolos"), ("peribolos-tokens", "peribolos-tokens"), ("No_Way", None)],
    ids=["default-the-pods-own", "apart", "invalid"],
)
def test_the_token_namespace_is_a_setting_of_its_own(token_namespace: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ConfigError, match="--token-namespace / TOKEN_NAMESPACE 'No_Way' is not a valid"):
            KubeSettings("peribolos", None, token_namespace)
    else:
        settings = KubeSettings("peribolos", None, token_namespace)
        assert (settings.namespace, settings.token_namespace) == ("peribolos", expected)


@pytest.mark.parametrize(
    "module",
    ["peribolos_core.settings", "peribolos_core.token_secret", "peribolos_core.actions",
     "tekton.interceptor.decision"],
)
def test_the_pure_rules_load_neither_requests_nor_kubernetes(module: str) -> None:
    """The interceptor imports these: no HTTP or Kubernetes client comes with them (STYLE.md, point 1)."""
    code = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}} & {{'requests', " \
           "'kubernetes', 'urllib3'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
