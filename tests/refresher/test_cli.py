"""The console script as the CronJob runs it: exit codes 0 / 1 / 2, JSON lines on stderr, --dry-run."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from kubernetes import client

from peribolos_core.config_maps import ConfigMaps
from peribolos_core.mint_budget import KubeMintBudget
from peribolos_core.run_status import RunStatusStore
from tests.fakes.fixtures import APP_ID, write_key
from tests.helpers import free_port, json_lines
from tests.not_kube import ANSWERS, dead_kubeconfig, not_a_kube_apiserver
from tests.refresher.conftest import run_cli

BAD_CONFIG = {
    "missing-app-id": ([], {"GITHUB_APP_ID": ""}, "--app-id"),
    "missing-key-file": ([], {"GITHUB_APP_PRIVATE_KEY_FILE": "/nonexistent/key.pem"}, "/nonexistent/key.pem"),
    "concurrency-over-100": (["--concurrency", "101"], {}, "--concurrency"),
    "bare-number-duration": (["--margin", "15"], {}, "--margin"),
    "margin-a-whole-hour": (["--margin", "1h"], {}, "--margin"),
    "interval-over-30-minutes": (["--interval", "31m"], {}, "--interval must be between 1m and 30m"),
    "budget-name-not-a-name": ([], {"MINT_BUDGET": "Not A Name"}, "is not a valid ConfigMap name"),
    "kube-unreachable": ([], {"KUBECONFIG": "DEAD"}, "cannot list the token Secrets"),
    # Issue 14: these printed a traceback, or were accepted as long as they were not empty.
    "max-run-time-overflowing": (["--max-run-time", "9" * 23 + "d"], {}, "longer than 999999999d"),
    "margin-overflowing": (["--margin", "99999999999999999999d"], {}, "longer than 999999999d"),
    "bad-namespace": ([], {"POD_NAMESPACE": "Not_A_Namespace"}, "is not a valid namespace name"),
    "bad-app-id": ([], {"GITHUB_APP_ID": "12 34"}, "--app-id / GITHUB_APP_ID must be the App's numeric id"),
}


@pytest.mark.parametrize(("args", "env", "expected"), BAD_CONFIG.values(), ids=BAD_CONFIG.keys())
def test_bad_configuration_exits_2_with_a_clear_message(args, env, expected, app_key_file, tmp_path) -> None:
    values = {"GITHUB_APP_ID": APP_ID, "GITHUB_APP_PRIVATE_KEY_FILE": str(app_key_file),
              "GITHUB_API_URL": f"http://127.0.0.1:{free_port()}", "POD_NAMESPACE": "default",
              "KUBECONFIG": str(dead_kubeconfig(tmp_path / "dead.kubeconfig"))}
    values |= {k: (str(dead_kubeconfig(tmp_path / "k")) if v == "DEAD" else v) for k, v in env.items()}
    result = run_cli(*args, env={k: v for k, v in values.items() if v})
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_github_refusing_the_key_exits_2(cli_env, other_key, tmp_path) -> None:
    wrong = write_key(other_key, tmp_path / "wrong.pem")
    result = run_cli(env=cli_env | {"GITHUB_APP_PRIVATE_KEY_FILE": str(wrong)})
    assert result.returncode == 2
    assert "GitHub refused the App's JWT" in result.stderr and "BadCredentials" in result.stderr


def test_github_unreachable_exits_2_after_retries(cli_env) -> None:
    result = run_cli(env=cli_env | {"GITHUB_API_URL": f"http://127.0.0.1:{free_port()}"})
    assert result.returncode == 2
    assert "cannot list the App's installations" in result.stderr and "connection failed" in result.stderr


def test_success_exits_0_with_a_json_line_per_change_and_a_summary(cli_env, github, store, seed) -> None:
    github.add_installation(1, "org-one")
    github.add_installation(2, "org-two")
    seed(2, timedelta(minutes=5))
    result = run_cli("--concurrency", "2", env=cli_env)
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stderr)
    assert len(lines) == len(result.stderr.splitlines()), "every stderr line is JSON"
    assert {(x["event"], x["installation_id"]) for x in lines if x.get("event") in ("created", "refreshed")} \
        == {("created", 1), ("refreshed", 2)}
    [summary] = [x for x in lines if x.get("event") == "summary"]
    counts = summary["counts"]
    assert (counts["created"], counts["refreshed"], counts["failed"]) == (1, 1, 0)
    assert summary["tokens_minted"] == summary["mint_requests"] == 2
    assert {s.installation_id for s in store.list()} == {1, 2}


def test_dry_run_shows_what_would_change_and_changes_nothing(cli_env, github, store) -> None:
    github.add_installation(1, "org-one")
    result = run_cli("--dry-run", "--log-format", "text", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "would create: no Secret" in result.stderr
    assert store.list() == [] and github.mint_count == 0


def test_any_failure_exits_1_and_the_others_are_done(cli_env, github, seed, core_v1, kube_apiserver,
                                                     namespace) -> None:
    """Real RBAC: a ServiceAccount that may update Secrets but not create them."""
    github.add_installation(1, "org-one")   # no Secret: create is forbidden -> failed
    github.add_installation(2, "org-two")
    seed(2, timedelta(minutes=5))           # refresh (replace) is allowed
    core_v1.create_namespaced_service_account(namespace, client.V1ServiceAccount(
        metadata=client.V1ObjectMeta(name="refresher")))
    rbac = client.RbacAuthorizationV1Api(kube_apiserver.api_client())
    rbac.create_namespaced_role(namespace, client.V1Role(
        metadata=client.V1ObjectMeta(name="no-create"),
        rules=[client.V1PolicyRule(api_groups=[""], resources=["secrets"],
                                   verbs=["get", "list", "update", "patch", "delete"])]))
    rbac.create_namespaced_role_binding(namespace, client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="no-create"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="no-create"),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name="refresher", namespace=namespace)]))
    kubeconfig = kube_apiserver.service_account_kubeconfig(namespace, "refresher")

    result = run_cli(env=cli_env | {"KUBECONFIG": str(kubeconfig)})

    assert result.returncode == 1, result.stderr
    lines = json_lines(result.stderr)
    [failure] = [x for x in lines if x.get("event") == "failed"]
    assert failure["installation_id"] == 1 and failure["error_type"] == "KubeForbidden"
    [summary] = [x for x in lines if x.get("event") == "summary"]
    assert (summary["counts"]["refreshed"], summary["counts"]["failed"]) == (1, 1)


@pytest.mark.parametrize("answer", sorted(ANSWERS), ids=sorted(ANSWERS))
def test_a_server_that_is_no_apiserver_exits_2_with_one_line(answer, cli_env, tmp_path) -> None:
    """Issue 14: a kubeconfig naming a proxy answering 200 with HTML printed a JSONDecodeError traceback.
    The listing fails, so nothing could start: exit 2."""
    body, content_type = ANSWERS[answer]
    with not_a_kube_apiserver(tmp_path, body, content_type) as kubeconfig:
        result = run_cli(env=cli_env | {"KUBECONFIG": str(kubeconfig)})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("peribolos-refresh-tokens: cannot list the token Secrets")
    assert "not a Kubernetes object" in result.stderr


def test_allowed_orgs_from_the_environment(cli_env, github, store) -> None:
    github.add_installation(1, "Org-One")
    github.add_installation(2, "org-two")
    result = run_cli(env=cli_env | {"ALLOWED_ORGS": " ORG-one ,"})
    assert result.returncode == 0, result.stderr
    assert {s.installation_id for s in store.list()} == {1}


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("peribolos-refresh-tokens, version ")


def test_the_old_min_valid_flag_is_ignored_with_a_warning(cli_env, github, store, seed) -> None:
    """A CronJob rendered before --margin (an image bumped without re-rendering) still runs."""
    github.add_installation(1, "org-one")
    seed(1, timedelta(minutes=5))
    result = run_cli("--min-valid", "45m", "--max-run-time", "1200s", env=cli_env)
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stderr)
    assert any(x.get("event") == "ignored-flag" and x.get("flag") == "--min-valid" for x in lines)
    assert [x["counts"]["refreshed"] for x in lines if x.get("event") == "summary"] == [1]


def test_the_runs_figures_go_to_the_status_config_map(cli_env, github, seed, core_v1, namespace) -> None:
    github.add_installation(1, "org-one")
    github.add_installation(2, "org-two")
    seed(2, timedelta(minutes=5))
    budget = {"MINT_BUDGET": "peribolos-mint-budget", "MINT_BUDGET_NAMESPACE": namespace}
    result = run_cli(env=cli_env | budget | {"REFRESHER_STATUS": "peribolos-refresher-status"})
    assert result.returncode == 0, result.stderr
    status = RunStatusStore(ConfigMaps(core_v1, namespace), "peribolos-refresher-status").read()
    assert status is not None
    assert (status.counts["created"], status.counts["refreshed"], status.tokens_minted, status.exit_code) == (
        1, 1, 2, 0)
    assert status.earliest_expiry > time.time() + 55 * 60 and status.margin_s == 900
    window = KubeMintBudget(ConfigMaps(core_v1, namespace), "peribolos-mint-budget", 150).window_now()
    assert len(window.slots) == 2  # both mints took a slot of the App-wide budget
