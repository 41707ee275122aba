"""``peribolos-maintain`` as its CronJobs run it: exit codes 0 / 1 / 2, JSON lines on stderr, the
environment the rendered CronJobs set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fixtures import APP_ID, write_key
from tests.helpers import free_port, json_lines
from tests.maintenance.conftest import run_cli, taskrun_names
from tests.not_kube import ANSWERS, dead_kubeconfig, not_a_kube_apiserver

DRIFT_BAD = {
    "missing-app-id": ([], {"GITHUB_APP_ID": ""}, "--app-id"),
    "missing-key-file": ([], {"GITHUB_APP_PRIVATE_KEY_FILE": "/nonexistent/key.pem"}, "/nonexistent/key.pem"),
    "too-fast": (["--taskruns-per-minute", "9"], {}, "--taskruns-per-minute"),
    "bare-number-duration": (["--max-run-time", "45"], {}, "--max-run-time"),
    "bad-namespace": ([], {"POD_NAMESPACE": "Not_A_Namespace"}, "is not a valid namespace name"),
    "absolute-config-path": (["--config-path", "/etc/passwd"], {}, "--config-path"),
    "kube-unreachable": ([], {}, "cannot reach the Kubernetes API"),
}
PRUNE_BAD = {
    "negative-count": (["--keep-failed", "-1"], "--keep-failed"),
    "age-without-unit": (["--max-success-age", "7"], "--max-success-age"),
    "no-deletions": (["--max-deletions", "0"], "--max-deletions"),
    "kube-unreachable": ([], "cannot reach the Kubernetes API"),
}


@pytest.fixture
def base_env(app_key_file: Path, tmp_path: Path) -> dict[str, str]:
    """Settings that reach nothing: every test names what it means to reach."""
    return {"GITHUB_APP_ID": APP_ID, "GITHUB_APP_PRIVATE_KEY_FILE": str(app_key_file),
            "GITHUB_API_URL": f"http://127.0.0.1:{free_port()}", "POD_NAMESPACE": "default",
            "KUBECONFIG": str(dead_kubeconfig(tmp_path / "dead.kubeconfig"))}


@pytest.fixture
def drift_env(github, app_key_file, kube_apiserver, namespace, installed) -> dict[str, str]:
    """As the rendered CronJob's pod: its ServiceAccount, the Job's name as RUN_ID."""
    kubeconfig = kube_apiserver.service_account_kubeconfig(namespace, "peribolos-drift-repair")
    return {"GITHUB_APP_ID": APP_ID, "GITHUB_APP_PRIVATE_KEY_FILE": str(app_key_file),
            "GITHUB_API_URL": github.api_url, "KUBECONFIG": str(kubeconfig), "POD_NAMESPACE": namespace,
            "RUN_ID": "peribolos-drift-repair-29000000"}


def _check_exit_2(result: Any, expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "env", "expected"), DRIFT_BAD.values(), ids=DRIFT_BAD.keys())
def test_drift_repair_bad_configuration_exits_2(args, env, expected, base_env) -> None:
    values = {k: v for k, v in (base_env | env).items() if v}
    _check_exit_2(run_cli("drift-repair", *args, env=values), expected)


@pytest.mark.parametrize(("args", "expected"), PRUNE_BAD.values(), ids=PRUNE_BAD.keys())
def test_prune_bad_configuration_exits_2(args, expected, base_env) -> None:
    _check_exit_2(run_cli("prune", *args, env=base_env), expected)


@pytest.mark.parametrize("answer", sorted(ANSWERS), ids=sorted(ANSWERS))
def test_a_kubeconfig_naming_no_apiserver_exits_2_with_one_line(answer, base_env, tmp_path) -> None:
    body, content_type = ANSWERS[answer]
    with not_a_kube_apiserver(tmp_path, body, content_type) as kubeconfig:
        result = run_cli("prune", env=base_env | {"KUBECONFIG": str(kubeconfig)})
    _check_exit_2(result, "not a Kubernetes object")
    last = result.stderr.splitlines()[-1]
    assert last.startswith("peribolos-maintain prune: cannot reach the Kubernetes API")


def test_github_refusing_the_key_exits_2_and_creates_nothing(drift_env, github, other_key, tmp_path,
                                                             admin_tekton) -> None:
    github.add_installation(1, "octo-org")
    wrong = write_key(other_key, tmp_path / "wrong.pem")
    result = run_cli("drift-repair", env=drift_env | {"GITHUB_APP_PRIVATE_KEY_FILE": str(wrong)})
    _check_exit_2(result, "GitHub refused the App's JWT")
    assert taskrun_names(admin_tekton) == set()


def test_without_the_sync_template_drift_repair_exits_2(base_env, github, kube_apiserver, namespace) -> None:
    env = base_env | {"GITHUB_API_URL": github.api_url, "KUBECONFIG": str(kube_apiserver.kubeconfig),
                      "POD_NAMESPACE": namespace}
    _check_exit_2(run_cli("drift-repair", env=env), "TriggerTemplate peribolos-sync not found")


def test_drift_repair_exits_0_with_a_line_per_taskrun_and_a_summary(drift_env, github, admin_tekton) -> None:
    github.add_installation(1, "octo-org")
    github.add_installation(2, "Acme")
    result = run_cli("drift-repair", "--taskruns-per-minute", "8", "--allowed-orgs", "OCTO-ORG,acme",
                     env=drift_env)
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stderr)
    assert len(lines) == len(result.stderr.splitlines()), "every stderr line is JSON"
    created = [x for x in lines if x.get("event") == "created"]
    assert {(x["installation_id"], x["org"], x["trigger"]) for x in created} == {
        (1, "octo-org", "drift-repair"), (2, "Acme", "drift-repair")}
    assert {x["taskrun"] for x in created} == taskrun_names(admin_tekton)
    (summary,) = [x for x in lines if x.get("event") == "summary"]
    assert summary["counts"]["created"] == 2 and summary["installations"] == 2
    runs = list(admin_tekton.taskruns("peribolos.dev/trigger=drift-repair"))
    assert {r["metadata"]["annotations"]["peribolos.dev/drift-run"] for r in runs} == {
        "peribolos-drift-repair-29000000"}

    again = run_cli("drift-repair", env=drift_env)  # the Job retried: nothing twice
    assert again.returncode == 0, again.stderr
    (summary,) = [x for x in json_lines(again.stderr) if x.get("event") == "summary"]
    assert (summary["counts"]["created"], summary["counts"]["made-by-this-run"]) == (0, 2)


def test_without_a_run_id_each_manual_run_is_its_own(drift_env, github, admin_tekton) -> None:
    github.add_installation(1, "octo-org")
    env = {k: v for k, v in drift_env.items() if k != "RUN_ID"}
    assert run_cli("drift-repair", env=env).returncode == 0
    (run,) = admin_tekton.taskruns("peribolos.dev/trigger=drift-repair")
    assert run["metadata"]["annotations"]["peribolos.dev/drift-run"].startswith("manual-")


def test_prune_exits_0_and_says_what_it_deleted(kube_apiserver, namespace, installed, make_taskrun,
                                                admin_tekton) -> None:
    now = datetime.now(UTC)
    names = [make_taskrun(finished=now - i * timedelta(hours=1))["metadata"]["name"] for i in range(3)]
    kubeconfig = kube_apiserver.service_account_kubeconfig(namespace, "peribolos-prune")
    env = {"KUBECONFIG": str(kubeconfig), "POD_NAMESPACE": namespace}
    result = run_cli("prune", "--keep-successful", "1", env=env)
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stderr)
    deleted = [x for x in lines if x.get("event") == "deleted"]
    assert {x["taskrun"] for x in deleted} == set(names[1:])
    assert {(x["reason"], x["outcome"], x["action"], x["org"]) for x in deleted} == {
        ("count", "succeeded", "sync", "1")}
    (summary,) = [x for x in lines if x.get("event") == "summary"]
    assert summary["counts"]["deleted"] == 2 and summary["counts"]["kept"] == 1
    assert taskrun_names(admin_tekton) == {names[0]}
