"""Fixtures of the maintenance tests: the strict fake GitHub, the rendered objects applied to a namespace of
the real kube-apiserver, TaskRuns with a status, and the console script."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from kubernetes import client

from generator.render import render_objects
from generator.values import load_values
from peribolos_core.github import GitHubApp
from peribolos_core.http import new_session
from tekton.maintenance.tekton_api import TASKRUNS, TektonObjects
from tests.fakes.fixtures import *  # noqa: F403 (the fixtures app_key, app_key_file, other_key)
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub

RENDERED_KINDS = {"TriggerTemplate", "Task", "ServiceAccount", "Role", "RoleBinding"}
SCRIPT = Path(sys.executable).parent / "peribolos-maintain"


@pytest.fixture
def github(app_key: rsa.RSAPrivateKey) -> Iterator[FakeGitHub]:
    """A started fake GitHub with no installation; each test adds its own."""
    with FakeGitHub(APP_ID, app_key.public_key()) as gh:
        yield gh
        assert not gh.handler_errors, gh.handler_errors


def app_for(github: FakeGitHub, key: rsa.RSAPrivateKey) -> GitHubApp:
    return GitHubApp(APP_ID, key, api_url=github.api_url, session=new_session(4), timeout=2.0,
                     sleep=lambda s: None)


def rendered(namespace: str, *sets: str) -> list[dict[str, Any]]:
    """The namespaced objects a user's render holds (drift repair on), for ``namespace``."""
    values = load_values([], [f"namespace={namespace}", "createNamespace=false",
                              "driftRepair.schedule=0 3 * * *", *sets])
    return [o for group in render_objects(values).values() for o in group if o["kind"] in RENDERED_KINDS]


@pytest.fixture
def installed(kube_apiserver: Any, namespace: str) -> list[dict[str, Any]]:
    """The rendered Tasks, TriggerTemplates, ServiceAccounts, Roles and RoleBindings, applied."""
    objects = rendered(namespace)
    # createNamespace=false: the token namespace (the render's default, <namespace>-tokens) made by hand.
    tokens = {o["metadata"]["namespace"] for o in objects} - {namespace}
    kube_apiserver.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in tokens])
    kube_apiserver.apply(objects)
    return objects


@pytest.fixture
def admin_tekton(kube_apiserver: Any, namespace: str) -> TektonObjects:
    return TektonObjects(client.CustomObjectsApi(kube_apiserver.api_client()), namespace)


def as_account(kube_apiserver: Any, namespace: str, account: str) -> TektonObjects:
    """The Tekton objects as ServiceAccount ``account`` sees them: its real RBAC."""
    kubeconfig = kube_apiserver.service_account_kubeconfig(namespace, account)
    return TektonObjects(client.CustomObjectsApi(kube_apiserver.api_client(kubeconfig)), namespace)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def make_taskrun(kube_apiserver: Any, namespace: str) -> Callable[..., dict[str, Any]]:
    """``make_taskrun(action=, installation=, outcome='True'|'False'|None, finished=datetime, labels=,
    annotations=)``: a TaskRun as the TriggerTemplates make them, with the status Tekton would write."""
    api = client.CustomObjectsApi(kube_apiserver.api_client())

    def make(*, action: str = "sync", installation: str | None = "1", outcome: str | None = "True",
             finished: datetime | None = None, labels: Mapping[str, str] | None = None,
             annotations: Mapping[str, str] | None = None, part_of: bool = True) -> dict[str, Any]:
        all_labels = {"peribolos.dev/action": action, **(labels or {})}
        if installation is not None:
            all_labels["peribolos.dev/installation-id"] = installation
        if part_of:
            all_labels["app.kubernetes.io/part-of"] = "peribolos-as-a-service"
        body = {
            "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "metadata": {"name": f"peribolos-{action}-{uuid.uuid4().hex[:8]}", "labels": all_labels,
                         "annotations": dict(annotations or {})},
            "spec": {"taskRef": {"kind": "Task", "name": f"peribolos-{action}"}},
        }
        made = api.create_namespaced_custom_object(*TASKRUNS[:2], namespace, TASKRUNS[2], body)
        if outcome is not None:
            when = stamp(finished or datetime.now(UTC))
            made["status"] = {
                "conditions": [{"type": "Succeeded", "status": outcome, "reason": "Done",
                                "lastTransitionTime": when}],
                "startTime": when, "completionTime": when, "podName": f"{made['metadata']['name']}-pod",
            }
            made = api.replace_namespaced_custom_object_status(
                *TASKRUNS[:2], namespace, TASKRUNS[2], made["metadata"]["name"], made)
        return made

    return make


def taskrun_names(tekton: TektonObjects, selector: str = "peribolos.dev/action") -> set[str]:
    return {t["metadata"]["name"] for t in tekton.taskruns(selector)}


def run_cli(*args: str, env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``peribolos-maintain ARGS`` with this process's environment minus its GitHub/Kubernetes settings."""
    assert SCRIPT.exists(), f"{SCRIPT} missing: run `make venv` (pip install -e .)"
    ours = ("GITHUB_", "POD_", "KUBECONFIG", "LOG_", "RUN_ID", "ALLOWED_ORGS")
    full = {k: v for k, v in os.environ.items() if not k.startswith(ours)} | dict(env)
    return subprocess.run([str(SCRIPT), *args], env=full, capture_output=True, text=True, timeout=timeout,
                          check=False)
