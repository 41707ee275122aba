"""The real peribolos (built by build.sh from sigs.k8s.io/prow at the pinned commit) run as the rendered
sync and dry-run Tasks' ``peribolos`` step against the fake GitHub's org endpoints.

Each test makes the TaskRun from a signed webhook, runs its prepare and fetch-config steps (peribolos' scoped
token and the config it reads), then the ``peribolos`` step with the Task's own args: the rendered
``--github-endpoint`` (the fake), ``--github-token-path``, ``--require-self=false`` and the ``--fix-*``
flags, plus ``--confirm`` in the sync Task only.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import payloads
from tests.e2e.conftest import INSTALLATION_ID, ORG
from tests.e2e.harness import post_webhook, run_task_step, step_exit_code_path, wait_for_taskruns
from tests.e2e.stack import Stack
from tests.fakes.github import FakeTeam, RecordedRequest
from tests.infra.controlplane import find_tools

pytestmark = pytest.mark.e2e

WRITES = ("POST", "PUT", "PATCH", "DELETE")
IN_SYNC = (
    b"orgs:\n"
    b"  octo-org:\n"
    b"    admins: [alice, bob]\n"
    b"    members: [carol]\n"
    b"    teams:\n"
    b"      reviewers:\n"
    b"        privacy: closed\n"
    b"        maintainers: [alice]\n"
    b"        members: [carol]\n"
)
"""The org exactly as :func:`_org_state` sets it up."""
ADDS_DAVE = IN_SYNC.replace(b"members: [carol]\n    teams", b"members: [carol, dave]\n    teams")


@pytest.fixture(scope="module")
def peribolos_bin() -> Path:
    """The peribolos build.sh built; a clear error (run `make e2e-tools`) when it is missing or stale."""
    return find_tools(modules=("peribolos",)).bin("peribolos")


def _org_state(stack: Stack) -> None:
    stack.github.add_org(
        ORG,
        admins=["alice", "bob"],
        members=["carol"],
        teams=[FakeTeam(7, "reviewers", "reviewers", maintainers={"alice"}, members={"carol"})],
    )


def _taskrun(stack: Stack, event: str, payload: dict[str, Any], task: str) -> dict[str, Any]:
    delivery = str(uuid.uuid4())
    status, answer = post_webhook(stack.sink.url, event, payload, stack.webhook_secret, delivery)
    assert status == 202, (status, answer)

    def wanted(taskrun: dict[str, Any]) -> bool:
        annotations = taskrun["metadata"].get("annotations", {})
        return (
            annotations.get("peribolos.dev/delivery-id") == delivery
            and taskrun["spec"]["taskRef"]["name"] == task
        )

    (taskrun,) = wait_for_taskruns(stack.plane, stack.namespace, wanted, processes=stack.processes)
    return taskrun


def _run_peribolos(
    stack: Stack, taskrun: dict[str, Any], pod: Path, binary: Path
) -> tuple[int, str, list[RecordedRequest], list[str]]:
    """prepare, fetch-config, then peribolos; its exit code, stderr, requests to GitHub and argv."""
    for step in ("prepare", "fetch-config"):
        result = run_task_step(stack.plane, taskrun, step, pod)
        assert result.returncode == 0, f"{' '.join(result.argv)} exited {result.returncode}:\n{result.stderr}"
    started = time.time()
    result = run_task_step(
        stack.plane, taskrun, "peribolos", pod, executables={"/ko-app/peribolos": binary}, timeout=120
    )
    requests = [r for r in stack.github.requests if r.timestamp >= started]
    # As Tekton's entrypoint would: its exit code for report, which completes the check run and releases
    # the org's Lease (the next sync of the org would wait for it otherwise).
    step_exit_code_path(pod, "peribolos").write_text(str(result.returncode))
    report = run_task_step(stack.plane, taskrun, "report", pod)
    assert report.returncode == (0 if result.returncode == 0 else 1), report.stderr
    return result.returncode, result.stderr, requests, result.argv


@pytest.mark.parametrize(
    ("task", "config", "expected_writes"),
    [
        pytest.param("peribolos-sync", IN_SYNC, [], id="sync-in-sync-writes-nothing"),
        pytest.param(
            "peribolos-sync",
            ADDS_DAVE,
            [("PUT", f"/orgs/{ORG}/memberships/dave", {"role": "member"})],
            id="sync-adds-member",
        ),
        pytest.param("peribolos-dry-run", ADDS_DAVE, [], id="dry-run-adds-member-writes-nothing"),
    ],
)
def test_peribolos_step_against_fake_github(
    stack: Stack,
    tmp_path: Path,
    peribolos_bin: Path,
    task: str,
    config: bytes,
    expected_writes: list[tuple[str, str, Any]],
) -> None:
    _org_state(stack)
    branch = None if task == "peribolos-sync" else f"pr-{uuid.uuid4()}"
    revision = stack.github.push_commit(f"{ORG}/.github", {"peribolos.yaml": config}, branch=branch).after
    if task == "peribolos-sync":
        taskrun = _taskrun(stack, "push", payloads.push(INSTALLATION_ID, ORG, after=revision), task)
    else:
        taskrun = _taskrun(
            stack, "pull_request", payloads.pull_request(INSTALLATION_ID, ORG, head_sha=revision), task
        )

    code, stderr, requests, argv = _run_peribolos(stack, taskrun, tmp_path / "pod", peribolos_bin)

    assert code == 0, f"{' '.join(argv)} exited {code}:\n{stderr}"
    assert ("--confirm" in argv) == (task == "peribolos-sync")
    assert requests, "peribolos made no request to the fake GitHub (--github-endpoint not rendered?)"
    failed = [(r.method, r.path, r.status) for r in requests if not 200 <= r.status < 300]
    assert not failed, f"requests the fake refused:\n{failed}\n{stderr}"
    assert {r.auth_scheme for r in requests} <= {"token", "Bearer"}
    writes = [(r.method, r.path, r.body) for r in requests if r.method in WRITES]
    assert writes == expected_writes
    assert ("GET", f"/orgs/{ORG}/members") in {(r.method, r.path) for r in requests}
    assert "/user" not in {r.path for r in requests}  # an installation token cannot read /user
    # Both runs with dave in the config decide to add him; only the sync Task's writes it.
    assert ("UpdateOrgMembership(octo-org, dave, false)" in stderr) == (config == ADDS_DAVE), stderr
    if expected_writes:
        assert stack.github.orgs[ORG].invitations == {"dave": "direct_member"}
