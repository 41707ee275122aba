"""Shared fixtures: a real Kubernetes API server (etcd + kube-apiserver built by ``make e2e-tools``).

- ``kube_apiserver`` (session): a :class:`tests.infra.controlplane.ControlPlane` with ``.url``,
  ``.kubeconfig``
  (admin, group system:masters), ``.ca``, ``.api_client()``, ``.apply(docs)`` (server-side apply),
  ``.service_account_kubeconfig(ns, name)`` (a TokenRequest token: real RBAC), ``.log_dir``.
  The Tekton Pipelines and Triggers CRDs are installed and Established. RBAC is the only authorizer.
- ``core_v1`` (session): a ``CoreV1Api`` of the admin.
- ``namespace`` (function): a fresh namespace name, deleted afterwards (it stays Terminating: no
  controller manager runs, and nothing needs it gone).

Every test that uses ``kube_apiserver`` (directly or through these fixtures) is marked ``e2e``
automatically, so ``make unit`` (``-m 'not e2e'``) never starts it. When the tools are missing the
fixture FAILS with what to run (``make e2e-tools``); it never skips.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.infra.controlplane import ControlPlane, ControlPlaneError, find_tools, start_control_plane

_PLANE_FIXTURES = {"kube_apiserver", "core_v1", "namespace", "cluster", "product", "cluster_github"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _PLANE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """On a failure of a test that used the control plane, say where its logs are."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _PLANE_FIXTURES & set(getattr(item, "fixturenames", ())):
        for attribute, title in (
            ("_peribolos_plane", "control plane logs"),
            ("_peribolos_cluster", "cluster logs"),
        ):
            plane = getattr(item.session, attribute, None)
            if plane is not None:
                report.sections.append((title, plane.describe()))


@pytest.fixture(scope="session")
def kube_apiserver(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    try:
        tools = find_tools()
    except ControlPlaneError as exc:
        pytest.fail(str(exc), pytrace=False)
    # E2E_WORKDIR pins the folder (certificates, etcd data, logs) for debugging; pytest keeps tmp dirs anyway.
    workdir = Path(os.environ.get("E2E_WORKDIR") or tmp_path_factory.mktemp("controlplane"))
    try:
        plane = start_control_plane(workdir, tools)
    except ControlPlaneError as exc:
        pytest.fail(f"control plane did not start (logs in {workdir / 'logs'}): {exc}", pytrace=False)
    request.session._peribolos_plane = plane  # type: ignore[attr-defined]
    print(f"\ncontrol plane at {plane.url}, logs in {plane.log_dir}, start-up {plane.startup_seconds}")
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def core_v1(kube_apiserver: ControlPlane) -> Any:
    from kubernetes import client

    return client.CoreV1Api(kube_apiserver.api_client())


@pytest.fixture
def namespace(core_v1: Any) -> Iterator[str]:
    from kubernetes import client

    name = f"e2e-{uuid.uuid4().hex[:10]}"
    core_v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core_v1.delete_namespace(name)
