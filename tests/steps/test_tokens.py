"""install, uninstall and ensure-token: the fake GitHub and a real kube-apiserver (tests/conftest.py)."""

import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from peribolos_core.github import InstallationToken
from peribolos_core.token_store import TokenStore
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub, Fault
from tests.not_kube import ANSWERS, not_a_kube_apiserver
from tests.steps.conftest import log_lines, run_step


@pytest.fixture
def kube_args(kube_apiserver: Any, namespace: str) -> list[str]:
    return ["--kubeconfig", str(kube_apiserver.kubeconfig), "--namespace", namespace]


@pytest.fixture
def store(core_v1: Any, namespace: str) -> TokenStore:
    return TokenStore(core_v1, namespace)


def test_install_creates_then_updates(
    fake_github: FakeGitHub, app_args: list[str], kube_args: list[str], store: TokenStore
) -> None:
    first = run_step("install", "--installation-id", "2", *app_args, *kube_args)
    assert first.exit_code == 0, first.stderr
    stored = store.get(2)
    assert (stored.org, stored.account_type, stored.suspended) == ("Acme", "Organization", False)
    assert fake_github.token_is_valid(stored.token)
    (line,) = log_lines(first)
    assert line["msg"] == "installation token stored"
    assert (line["action"], line["org"], line["secret"]) == ("created", "Acme", "peribolos-token-2")
    second = run_step("install", "--installation-id", "2", *app_args, *kube_args)
    assert log_lines(second)[0]["action"] == "updated"
    assert store.get(2).token != stored.token
    for result in (first, second):
        assert stored.token not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("setup", "message", "marked"),
    [
        (lambda gh: None, "HTTP 404", False),
        (lambda gh: gh.add_installation(99, "frozen-org", suspended=True), "is suspended", True),
    ],
    ids=["unknown-installation", "suspended"],
)
def test_install_failures_exit_1(
    fake_github: FakeGitHub,
    app_args: list[str],
    kube_args: list[str],
    store: TokenStore,
    setup,
    message: str,
    marked: bool,
) -> None:
    store.put(
        99,
        InstallationToken("ghs_old" + "x" * 40, datetime(2030, 1, 1, tzinfo=UTC)),
        "frozen-org",
        "Organization",
    )
    setup(fake_github)
    result = run_step("install", "--installation-id", "99", *app_args, *kube_args)
    assert result.exit_code == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith("peribolos-step install: error: ") and message in last
    assert store.get(99).suspended is marked
    assert fake_github.mint_count == 0


def test_uninstall(
    fake_github: FakeGitHub, app_args: list[str], kube_args: list[str], store: TokenStore
) -> None:
    assert run_step("install", "--installation-id", "1", *app_args, *kube_args).exit_code == 0
    gone = run_step("uninstall", "--installation-id", "1", *kube_args)
    assert gone.exit_code == 0, gone.stderr
    assert store.get(1) is None
    assert log_lines(gone)[0]["existed"] is True
    again = run_step("uninstall", "--installation-id", "1", *kube_args)
    assert again.exit_code == 0
    assert log_lines(again)[0]["msg"] == "installation token Secret was already gone"


def test_ensure_token_creates_reuses_and_writes_the_file(
    fake_github: FakeGitHub, app_args: list[str], kube_args: list[str], store: TokenStore, tmp_path: Path
) -> None:
    token_file = tmp_path / "run" / "token"
    args = ["ensure-token", "--installation-id", "1", "--min-valid", "45m", "--token-file", token_file]
    created = run_step(*args, *app_args, *kube_args)
    assert created.exit_code == 0, created.stderr
    stored = store.get(1)
    assert stored.org == "octo-org"
    assert token_file.read_text() == stored.token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert log_lines(created)[0]["action"] == "created"
    reused = run_step(*args, *app_args, *kube_args)
    assert reused.exit_code == 0
    assert log_lines(reused)[0]["action"] == "reused"
    assert fake_github.mint_count == 1, "a token valid for 45 more minutes is not minted again"
    assert token_file.read_text() == stored.token
    assert stored.token not in created.stderr + reused.stderr


@pytest.mark.parametrize(
    ("left", "suspended", "action"),
    [
        (timedelta(minutes=50), False, "reused"),
        (timedelta(minutes=44), False, "updated"),
        (timedelta(minutes=-10), False, "updated"),
        (timedelta(minutes=50), True, "updated"),
    ],
    ids=["enough-left", "too-little-left", "expired", "marked-suspended"],
)
def test_ensure_token_mints_only_when_needed(
    fake_github: FakeGitHub,
    app_args: list[str],
    kube_args: list[str],
    store: TokenStore,
    left: timedelta,
    suspended: bool,
    action: str,
) -> None:
    old = InstallationToken("ghs_stored" + "s" * 40, datetime.now(UTC) + left)
    store.put(1, old, "octo-org", "Organization")
    if suspended:
        store.mark_suspended(1)
    result = run_step("ensure-token", "--installation-id", "1", "--min-valid", "45m", *app_args, *kube_args)
    assert result.exit_code == 0, result.stderr
    assert log_lines(result)[0]["action"] == action
    now_stored = store.get(1)
    assert (now_stored.token == old.token) is (action == "reused")
    assert now_stored.suspended is False or action == "reused"
    assert fake_github.mint_count == (0 if action == "reused" else 1)
    assert [r.path for r in fake_github.requests if r.method == "GET"] == [], "org came from the Secret"


def test_ensure_token_suspended_on_github(
    fake_github: FakeGitHub, app_args: list[str], kube_args: list[str], store: TokenStore
) -> None:
    store.put(1, InstallationToken("ghs_stored" + "s" * 40, datetime.now(UTC)), "octo-org", "Organization")
    fake_github.set_suspended(1)
    result = run_step("ensure-token", "--installation-id", "1", *app_args, *kube_args)
    assert result.exit_code == 1
    assert "This installation has been suspended" in result.stderr.splitlines()[-1]
    assert store.get(1).suspended


def test_ensure_token_rate_limited_waits(
    fake_github: FakeGitHub, app_args: list[str], kube_args: list[str], store: TokenStore
) -> None:
    fake_github.inject(Fault.too_many_requests(retry_after=1), path="access_tokens")
    result = run_step("ensure-token", "--installation-id", "1", *app_args, *kube_args)
    assert result.exit_code == 0, result.stderr
    assert [r.status for r in fake_github.requests_to("POST", "access_tokens")] == [429, 201]
    assert any(line["msg"] == "GitHub request failed, retrying" for line in log_lines(result))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.__setitem__(1, ""), "--app-id / GITHUB_APP_ID must be"),
        (lambda a: a.__setitem__(3, "/nonexistent/key.pem"), "/nonexistent/key.pem does not exist"),
        (lambda a: a.__setitem__(1, "31337"), "HTTP 401"),
        (lambda a: a.extend(["--min-valid", "2h"]), "--min-valid must be between 1m and 59m"),
        (lambda a: a.extend(["--min-valid", "99999999999999999999d"]), "longer than 999999999d"),
        (lambda a: a.extend(["--min-valid", "soon"]), "invalid duration 'soon'"),
        (lambda a: a.extend(["--namespace", "Not_A_Namespace"]), "is not a valid namespace name"),
        (
            lambda a: a.extend(["--kubeconfig", "/nonexistent/kubeconfig"]),
            "/nonexistent/kubeconfig does not exist",
        ),
    ],
    ids=[
        "no-app-id",
        "no-key-file",
        "wrong-app-id",
        "min-valid-too-long",
        "min-valid-overflowing",
        "min-valid-garbage",
        "bad-namespace",
        "no-kubeconfig",
    ],
)
def test_bad_configuration_exits_2(
    fake_github: FakeGitHub, app_args: list[str], kube_args: list[str], change, message: str
) -> None:
    args = list(app_args) + list(kube_args)
    change(args)
    result = run_step("ensure-token", "--installation-id", "1", *args)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert fake_github.mint_count == 0


def test_least_privilege_role_is_enough(
    kube_apiserver: Any, core_v1: Any, namespace: str, fake_github: FakeGitHub, app_args: list[str]
) -> None:
    """What the Tasks' ServiceAccount needs: get/create/update/patch/delete on Secrets (no list, no watch)."""
    rbac = client.RbacAuthorizationV1Api(kube_apiserver.api_client())
    core_v1.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata={"name": "taskrun"})
    )
    rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "taskrun"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "verbs": ["get", "create", "update", "patch", "delete"],
                }
            ],
        },
    )
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "taskrun"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "taskrun"},
            "subjects": [{"kind": "ServiceAccount", "name": "taskrun", "namespace": namespace}],
        },
    )
    kube_args = [
        "--kubeconfig",
        str(kube_apiserver.service_account_kubeconfig(namespace, "taskrun")),
        "--namespace",
        namespace,
    ]
    for args in (["install"], ["ensure-token", "--min-valid", "45m"], ["uninstall"]):
        extra = app_args if args[0] != "uninstall" else []
        result = run_step(*args, "--installation-id", "1", *extra, *kube_args)
        assert result.exit_code == 0, result.stderr
    denied = run_step(
        "install",
        "--installation-id",
        "1",
        *app_args,
        "--kubeconfig",
        str(kube_apiserver.service_account_kubeconfig(namespace, "taskrun")),
        "--namespace",
        "default",
    )
    assert denied.exit_code == 1
    assert "HTTP 403" in denied.stderr.splitlines()[-1]


def test_console_script_end_to_end(
    kube_apiserver: Any,
    namespace: str,
    fake_github: FakeGitHub,
    app_key_file: Path,
    store: TokenStore,
    tmp_path: Path,
) -> None:
    """The installed ``peribolos-step`` entry point, configured by environment variables only."""
    script = Path(sys.executable).parent / "peribolos-step"
    env = {
        "GITHUB_APP_ID": APP_ID,
        "GITHUB_APP_PRIVATE_KEY_FILE": str(app_key_file),
        "GITHUB_API_URL": fake_github.api_url,
        "KUBECONFIG": str(kube_apiserver.kubeconfig),
        "POD_NAMESPACE": namespace,
        "LOG_FORMAT": "text",
        "PATH": "/usr/bin:/bin",
    }
    token_file = tmp_path / "token"
    ok = subprocess.run(
        [script, "ensure-token", "--installation-id", "2", "--token-file", token_file],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert "installation token ready" in ok.stderr and "action=created" in ok.stderr
    assert token_file.read_text() == store.get(2).token
    assert token_file.read_text() not in ok.stderr
    bad = subprocess.run(
        [script, "ensure-token", "--installation-id", "2"],
        env={**env, "GITHUB_APP_ID": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[-1].startswith(
        "peribolos-step ensure-token: error: --app-id / GITHUB_APP_ID"
    )


def test_ensure_token_installation_gone_keeps_the_secret(
    fake_github: FakeGitHub, app_args: list[str], kube_args: list[str], store: TokenStore
) -> None:
    """Deleting is the refresher's call (it lists installations first); a step only reports the 404."""
    store.put(55, InstallationToken("ghs_stored" + "s" * 40, datetime.now(UTC)), "gone-org", "Organization")
    result = run_step("ensure-token", "--installation-id", "55", *app_args, *kube_args)
    assert result.exit_code == 1
    assert "POST /app/installations/55/access_tokens: HTTP 404" in result.stderr.splitlines()[-1]
    assert store.get(55) is not None


def test_unreachable_apiserver_exits_1(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: not-a-real-token}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    result = run_step("uninstall", "--installation-id", "3", "--kubeconfig", kubeconfig, "--namespace", "ns")
    assert result.exit_code == 1
    last = result.stderr.splitlines()[-1]
    assert "delete Secret ns/peribolos-token-3: cannot reach the Kubernetes API" in last
    assert "temporary" in last and "not-a-real-token" not in result.stderr


@pytest.mark.parametrize("answer", sorted(ANSWERS), ids=sorted(ANSWERS))
@pytest.mark.parametrize(
    "command",
    [["uninstall"], ["ensure-token", "--min-valid", "45m"], ["install"]],
    ids=["uninstall", "ensure-token", "install"],
)
def test_a_server_that_is_no_apiserver_exits_1_with_one_line(
    fake_github: FakeGitHub, app_args: list[str], tmp_path: Path, command: list[str], answer: str
) -> None:
    """Issue 14: a kubeconfig naming a proxy that answers 200 with HTML (or broken JSON) printed a
    JSONDecodeError traceback, and a delete against it passed for done."""
    body, content_type = ANSWERS[answer]
    extra = [] if command[0] == "uninstall" else app_args
    with not_a_kube_apiserver(tmp_path, body, content_type) as kubeconfig:
        result = run_step(*command, "--installation-id", "1", *extra, "--kubeconfig", kubeconfig,
                          "--namespace", "ns")
    assert result.exit_code == 1, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"peribolos-step {command[0]}: error: ") and "not a Kubernetes object" in last
    assert "Traceback" not in result.stderr and "not-a-real-token" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--namespace", "Bad_Namespace"], "is not a valid namespace name"),
        (["--installation-id", "0"], "--installation-id must be a positive integer"),
    ],
    ids=["namespace", "installation-id"],
)
def test_uninstall_checks_its_settings_first(tmp_path: Path, args: list[str], message: str) -> None:
    base = {"--installation-id": "3", "--namespace": "ns"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = run_step("uninstall", *[x for pair in base.items() for x in pair])
    assert result.exit_code == 2 and message in result.stderr.splitlines()[-1]


def test_version() -> None:
    result = run_step("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("peribolos-step, version ")
