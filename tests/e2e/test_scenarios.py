"""End to end on the real engine: signed GitHub webhooks -> Triggers sink -> our interceptor -> TaskRuns.

Each test POSTs a real (re-targeted) GitHub payload to the EventListener sink exactly as GitHub would,
waits for what the sink creates in the real API server, and, for install/uninstall, runs the Task's step
command with that TaskRun's params against the API server and the fake GitHub.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from peribolos_core.token_secret import parse_secret, secret_name
from tests.e2e import payloads
from tests.e2e.conftest import (
    INSTALLATION_ID,
    ORG,
    OTHER_ORG,
)
from tests.e2e.conftest import (
    OTHER_ORG_INSTALLATION_ID as OTHER_INSTALLATION_ID,
)
from tests.e2e.harness import (
    list_taskruns,
    post_webhook,
    run_cronjob,
    run_task_step,
    step_exit_code_path,
    taskrun_params,
    wait_for_taskruns,
)
from tests.e2e.refresh import budget_window, last_run, make_due
from tests.e2e.stack import Stack
from tests.fakes.fixtures import APP_ID

pytestmark = pytest.mark.e2e

CONFIG = b"orgs:\n  octo-org:\n    admins: [alice, bob]\n    members: [carol]\n"
"""The peribolos.yaml the fake GitHub serves at the pushed or PR head SHA."""


def _delivered(stack: Stack, event: str, payload: dict[str, Any], **kw: Any) -> str:
    """POST one webhook; the sink accepts every well-formed POST with 202 before interceptors run."""
    delivery = str(uuid.uuid4())
    status, answer = post_webhook(stack.sink.url, event, payload, stack.webhook_secret, delivery, **kw)
    assert status == 202, (status, answer)
    return delivery


def _by_delivery(delivery: str) -> Any:
    return lambda tr: tr["metadata"].get("annotations", {}).get("peribolos.dev/delivery-id") == delivery


def _taskrun_for(stack: Stack, delivery: str, task: str, timeout: float = 20) -> dict[str, Any]:
    """The TaskRun of Task ``task`` made for ``delivery`` (that exactly one is made per event is
    :func:`test_one_event_makes_exactly_one_taskrun`'s concern)."""

    def wanted(taskrun: dict[str, Any]) -> bool:
        return _by_delivery(delivery)(taskrun) and taskrun["spec"]["taskRef"]["name"] == task

    runs = wait_for_taskruns(stack.plane, stack.namespace, wanted, timeout=timeout, processes=stack.processes)
    assert len(runs) == 1, [r["metadata"]["name"] for r in runs]
    assert runs[0]["spec"]["taskRef"] == {"kind": "Task", "name": task}
    return runs[0]


def _read_secret(stack: Stack, installation_id: int) -> Any:
    core = client.CoreV1Api(stack.plane.api_client())
    try:
        return core.read_namespaced_secret(secret_name(installation_id), stack.namespace)
    except client.exceptions.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _run_step_in(stack: Stack, taskrun: dict[str, Any], step: str, pod: Path) -> None:
    result = run_task_step(stack.plane, taskrun, step, pod)
    assert result.returncode == 0, f"{' '.join(result.argv)} exited {result.returncode}:\n{result.stderr}"


def _run_step(stack: Stack, taskrun: dict[str, Any], step: str, tmp_path: Path) -> None:
    result = run_task_step(stack.plane, taskrun, step, tmp_path / step)
    assert result.returncode == 0, f"{' '.join(result.argv)} exited {result.returncode}:\n{result.stderr}"


def test_install_then_uninstall(stack: Stack, tmp_path: Path) -> None:
    """installation.created -> peribolos-install TaskRun -> its step writes the Secret; the refresher
    re-mints it; installation.deleted -> peribolos-uninstall TaskRun -> its step deletes the Secret."""
    delivery = _delivered(stack, "installation", payloads.installation("created", INSTALLATION_ID, ORG))
    taskrun = _taskrun_for(stack, delivery, "peribolos-install")
    assert taskrun_params(taskrun) == {"installation_id": str(INSTALLATION_ID), "org": ORG}
    assert taskrun["spec"]["serviceAccountName"] == "peribolos-taskrun"
    assert taskrun["metadata"]["annotations"]["peribolos.dev/token-secret"] == secret_name(INSTALLATION_ID)

    mints = stack.github.mint_count
    _run_step(stack, taskrun, "install", tmp_path)
    secret = _read_secret(stack, INSTALLATION_ID)
    stored = parse_secret(stack.plane.api_client().sanitize_for_serialization(secret))
    assert (stored.installation_id, stored.org, stored.account_type) == (INSTALLATION_ID, ORG, "Organization")
    assert stack.github.mint_count == mints + 1
    assert stack.github.token_is_valid(stored.token)

    core = client.CoreV1Api(stack.plane.api_client())
    assert INSTALLATION_ID in make_due(core, stack.namespace)
    _refresh_tokens(stack, tmp_path)
    refreshed = parse_secret(
        stack.plane.api_client().sanitize_for_serialization(_read_secret(stack, INSTALLATION_ID))
    )
    assert refreshed.token != stored.token and stack.github.token_is_valid(refreshed.token)
    assert refreshed.expires_at >= stored.expires_at
    # Both mints (the install step's and the refresher's) took a slot of the one App-wide budget, and the
    # run left its figures for the exporter.
    assert len(budget_window(core, stack.namespace).slots) >= 2
    status = last_run(core, stack.namespace)
    assert status is not None and status.tokens_minted >= 1 and status.exit_code == 0

    delivery = _delivered(stack, "installation", payloads.installation("deleted", INSTALLATION_ID, ORG))
    taskrun = _taskrun_for(stack, delivery, "peribolos-uninstall")
    assert taskrun_params(taskrun) == {"installation_id": str(INSTALLATION_ID), "org": ORG}
    _run_step(stack, taskrun, "uninstall", tmp_path)
    assert _read_secret(stack, INSTALLATION_ID) is None


def _refresh_tokens(stack: Stack, tmp_path: Path) -> None:
    """Run the rendered CronJob's container once, as its Job's Pod would (its env, the App key volume,
    the refresher ServiceAccount's identity and RBAC)."""
    result = run_cronjob(stack.plane, stack.namespace, "peribolos-token-refresher", tmp_path / "refresher")
    assert result.returncode == 0, f"{' '.join(result.argv)} exited {result.returncode}:\n{result.stderr}"


def test_push_to_config_repo_default_branch_makes_a_sync_taskrun(stack: Stack, tmp_path: Path) -> None:
    """push -> peribolos-sync TaskRun; its ensure-token and fetch-config steps, run with its params and
    sharing the Task's emptyDir volumes, leave the token and the config at the pushed SHA for peribolos."""
    payload = payloads.push(INSTALLATION_ID, ORG, after=payloads.sha(str(uuid.uuid4())))
    taskrun = _taskrun_for(stack, _delivered(stack, "push", payload), "peribolos-sync")
    assert taskrun_params(taskrun) == {
        "installation_id": str(INSTALLATION_ID),
        "org": ORG,
        "repo": f"{ORG}/.github",
        "revision": payload["after"],
        "ref": "refs/heads/main",
        "config_path": "peribolos.yaml",
    }
    assert taskrun["metadata"]["annotations"]["peribolos.dev/token-secret"] == secret_name(INSTALLATION_ID)
    assert taskrun["metadata"]["labels"]["peribolos.dev/action"] == "sync"

    stack.github.add_file(f"{ORG}/.github", payload["after"], "peribolos.yaml", CONFIG)
    pod = tmp_path / "pod"  # one folder: the steps share the Task's volumes, as in one Pod
    for step in ("ensure-token", "fetch-config"):
        _run_step_in(stack, taskrun, step, pod)
    token_file = pod / "volumes" / "token" / "token"
    assert stack.github.token_is_valid(token_file.read_text().strip())
    assert token_file.stat().st_mode & 0o077 == 0
    assert (pod / "volumes" / "config" / "peribolos.yaml").read_bytes() == CONFIG
    assert _read_secret(stack, INSTALLATION_ID) is not None  # ensure-token stored what it minted


@pytest.mark.parametrize(
    ("peribolos_exit_code", "conclusion"),
    [pytest.param(0, "success", id="dry-run-passes"), pytest.param(1, "failure", id="dry-run-fails")],
)
def test_pull_request_makes_a_dry_run_taskrun(
    stack: Stack, tmp_path: Path, peribolos_exit_code: int, conclusion: str
) -> None:
    """pull_request -> peribolos-dry-run TaskRun at the head SHA; its steps around peribolos (which cannot
    run here: its exit code is written where Tekton's entrypoint would) report the check run on the PR."""
    head = payloads.sha(str(uuid.uuid4()))
    payload = payloads.pull_request(INSTALLATION_ID, ORG, head_sha=head)
    taskrun = _taskrun_for(stack, _delivered(stack, "pull_request", payload), "peribolos-dry-run")
    params = taskrun_params(taskrun)
    assert params["revision"] == head
    assert params["repo"] == f"{ORG}/.github"
    assert params["ref"] == f"refs/pull/{payload['number']}/head"

    stack.github.add_file(f"{ORG}/.github", head, "peribolos.yaml", CONFIG)
    pod = tmp_path / "pod"
    for step in ("ensure-token", "fetch-config"):
        _run_step_in(stack, taskrun, step, pod)
    step_exit_code_path(pod, "peribolos").write_text(str(peribolos_exit_code))
    _run_step_in(stack, taskrun, "report", pod)
    (check_run,) = [c for c in stack.github.check_runs if c.get("head_sha") == head]
    assert (check_run["name"], check_run["conclusion"]) == ("peribolos/dry-run", conclusion)


BAD_SIGNATURE = "sha256=" + "0" * 64


@pytest.mark.parametrize(
    ("event", "make", "signature"),
    [
        pytest.param(
            "push", lambda: payloads.push(INSTALLATION_ID, ORG, repo="website"), None, id="push-other-repo"
        ),
        pytest.param(
            "push",
            lambda: payloads.push(INSTALLATION_ID, ORG, ref="refs/heads/feature"),
            None,
            id="push-other-branch",
        ),
        pytest.param(
            "push",
            lambda: payloads.push(INSTALLATION_ID, ORG, modified=("README.md",)),
            None,
            id="push-not-touching-config",
        ),
        pytest.param("push", lambda: payloads.push(INSTALLATION_ID, ORG), BAD_SIGNATURE, id="bad-signature"),
        pytest.param("push", lambda: payloads.push(INSTALLATION_ID, ORG), "", id="no-signature"),
        pytest.param("ping", payloads.ping, None, id="ping"),
        pytest.param(
            "pull_request",
            lambda: payloads.pull_request(INSTALLATION_ID, ORG, base="develop"),
            None,
            id="pull-request-to-other-branch",
        ),
        pytest.param(
            "check_run",
            lambda: payloads.check_run_rerequested(INSTALLATION_ID, ORG, name="peribolos/sync", app_id=999),
            None,
            id="check-run-of-another-app",
        ),
    ],
)
def test_events_peribolos_ignores_make_no_taskrun(
    stack: Stack, event: str, make: Any, signature: str | None
) -> None:
    """The sink still answers 202; no TaskRun appears. A marker event sent right after is processed
    (so the ignored one had its chance), then nothing carries the ignored delivery id."""
    ignored = _delivered(stack, event, make(), signature=signature)
    marker = _delivered(
        stack, "push", payloads.push(INSTALLATION_ID, ORG, after=payloads.sha(str(uuid.uuid4())))
    )
    _taskrun_for(stack, marker, "peribolos-sync")
    time.sleep(0.5)  # the sink handles events concurrently: give the ignored one the same time again
    made = [
        r["metadata"]["name"] for r in list_taskruns(stack.plane, stack.namespace) if _by_delivery(ignored)(r)
    ]
    assert made == []


@pytest.mark.parametrize(
    ("event", "make", "task"),
    [
        pytest.param(
            "installation",
            lambda: payloads.installation("created", OTHER_INSTALLATION_ID, OTHER_ORG),
            "peribolos-install",
            id="installation-created",
        ),
        pytest.param(
            "installation",
            lambda: payloads.installation("deleted", OTHER_INSTALLATION_ID, OTHER_ORG),
            "peribolos-uninstall",
            id="installation-deleted",
        ),
        pytest.param(
            "push",
            lambda: payloads.push(INSTALLATION_ID, ORG, after=payloads.sha("one")),
            "peribolos-sync",
            id="push",
        ),
        pytest.param(
            "pull_request",
            lambda: payloads.pull_request(INSTALLATION_ID, ORG),
            "peribolos-dry-run",
            id="pull-request",
        ),
        *[
            pytest.param(
                "installation",
                lambda action=action: payloads.installation(action, OTHER_INSTALLATION_ID, OTHER_ORG),
                task,
                id=f"installation-{action}",
            )
            for action, task in (
                ("suspend", "peribolos-uninstall"),
                ("unsuspend", "peribolos-install"),
                ("new_permissions_accepted", "peribolos-install"),
            )
        ],
        pytest.param(
            "installation_repositories",
            lambda: payloads.installation_repositories("added", OTHER_INSTALLATION_ID, OTHER_ORG),
            "peribolos-install",
            id="repositories-added-re-mints",
        ),
        pytest.param(
            "check_run",
            lambda: payloads.check_run_rerequested(
                INSTALLATION_ID, ORG, name="peribolos/sync", app_id=int(APP_ID)
            ),
            "peribolos-sync",
            id="check-run-sync-rerequested",
        ),
        pytest.param(
            "check_run",
            lambda: payloads.check_run_rerequested(
                INSTALLATION_ID, ORG, name="peribolos/dry-run", app_id=int(APP_ID), pull=7
            ),
            "peribolos-dry-run",
            id="check-run-dry-run-rerequested",
        ),
    ],
)
def test_one_event_makes_exactly_one_taskrun(stack: Stack, event: str, make: Any, task: str) -> None:
    """Every Trigger of the EventListener calls the interceptor; only the one whose action matches may fire
    (a push that also made an uninstall TaskRun would delete the org's token)."""
    delivery = _delivered(stack, event, make())
    _taskrun_for(stack, delivery, task)
    time.sleep(1.0)  # the other Triggers of the same event run concurrently with the one awaited
    made = sorted(
        r["spec"]["taskRef"]["name"]
        for r in list_taskruns(stack.plane, stack.namespace)
        if _by_delivery(delivery)(r)
    )
    assert made == [task]


EL_USER = "system:serviceaccount:peribolos:peribolos-eventlistener"
EL_GROUPS = ["system:serviceaccounts", "system:serviceaccounts:peribolos", "system:authenticated"]


@pytest.mark.parametrize(
    ("verb", "group", "resource", "namespace", "allowed"),
    [
        *[
            pytest.param(verb, "triggers.tekton.dev", res, "peribolos", True, id=f"{verb}-{res}")
            for res in ("eventlisteners", "triggers", "triggerbindings", "triggertemplates", "interceptors")
            for verb in ("get", "list", "watch")
        ],
        *[
            pytest.param(verb, "triggers.tekton.dev", res, None, True, id=f"{verb}-{res}-cluster")
            for res in ("clusterinterceptors", "clustertriggerbindings")
            for verb in ("get", "list", "watch")
        ],
        pytest.param("create", "tekton.dev", "taskruns", "peribolos", True, id="create-taskruns"),
        pytest.param("create", "", "events", "peribolos", True, id="create-events"),
        pytest.param("list", "", "configmaps", "peribolos", True, id="list-configmaps"),
        pytest.param("get", "", "secrets", "peribolos", False, id="no-secrets"),
        pytest.param("list", "", "secrets", "peribolos", False, id="no-secret-list"),
        pytest.param("create", "tekton.dev", "taskruns", "default", False, id="no-taskruns-elsewhere"),
        pytest.param("delete", "tekton.dev", "taskruns", "peribolos", False, id="no-taskrun-delete"),
        pytest.param("update", "tekton.dev", "tasks", "peribolos", False, id="no-task-update"),
        pytest.param("create", "tekton.dev", "pipelineruns", "peribolos", False, id="no-pipelineruns"),
        pytest.param("create", "", "pods", "peribolos", False, id="no-pods"),
        pytest.param("impersonate", "", "serviceaccounts", "peribolos", False, id="no-impersonation"),
        pytest.param(
            "update", "triggers.tekton.dev", "eventlisteners", "peribolos", False, id="no-el-update"
        ),
        pytest.param("create", "rbac.authorization.k8s.io", "rolebindings", "peribolos", False, id="no-rbac"),
    ],
)
def test_eventlistener_service_account_rbac(
    stack: Stack, verb: str, group: str, resource: str, namespace: str | None, allowed: bool
) -> None:
    """What the rendered RBAC grants the sink's ServiceAccount, asked of the real RBAC authorizer."""
    review = client.AuthorizationV1Api(stack.plane.api_client()).create_subject_access_review(
        client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user=EL_USER,
                groups=EL_GROUPS,
                resource_attributes=client.V1ResourceAttributes(
                    verb=verb, group=group, resource=resource, namespace=namespace
                ),
            )
        )
    )
    assert review.status.allowed is allowed, review.status.reason
