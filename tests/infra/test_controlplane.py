"""The control plane fixture is real: CRD schemas validate, RBAC denies, tools are checked before use."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, dynamic
from kubernetes.client.exceptions import ApiException

from tests.infra import controlplane
from tests.infra.controlplane import ControlPlane, ControlPlaneError, find_tools


def _taskrun(name: str, params: Any) -> dict[str, Any]:
    return {
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": {"name": name},
        "spec": {"taskRef": {"name": "peribolos-install", "kind": "Task"}, "params": params},
    }


@pytest.mark.parametrize(
    ("params", "accepted"),
    [
        pytest.param([{"name": "installation_id", "value": "42"}], True, id="valid-taskrun"),
        pytest.param({"installation_id": "42"}, False, id="params-not-a-list-rejected-by-crd-schema"),
    ],
)
def test_tekton_crd_schema_is_enforced(
    kube_apiserver: ControlPlane, namespace: str, params: Any, accepted: bool
) -> None:
    api = dynamic.DynamicClient(kube_apiserver.api_client())
    taskruns = api.resources.get(api_version="tekton.dev/v1", kind="TaskRun")
    body = _taskrun("schema-check", params)
    if accepted:
        created = taskruns.create(body=body, namespace=namespace)
        assert created.spec.params[0].value == "42"
    else:
        with pytest.raises(ApiException) as info:
            taskruns.create(body=body, namespace=namespace)
        assert info.value.status == 422


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"),
    [
        pytest.param("list", "secrets", False, id="no-binding-no-secrets"),
        pytest.param("create", "configmaps", True, id="bound-role-allows-configmaps"),
        pytest.param("delete", "configmaps", False, id="bound-role-is-verb-exact"),
    ],
)
def test_service_account_is_subject_to_rbac(
    kube_apiserver: ControlPlane, core_v1: Any, namespace: str, verb: str, resource: str, allowed: bool
) -> None:
    core_v1.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata={"name": "probe"}))
    rbac = client.RbacAuthorizationV1Api(kube_apiserver.api_client())
    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata={"name": "probe"},
            rules=[client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["create"])],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata={"name": "probe"},
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="probe"),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name="probe", namespace=namespace)],
        ),
    )
    sa_kubeconfig = kube_apiserver.service_account_kubeconfig(namespace, "probe")
    as_sa = client.CoreV1Api(kube_apiserver.api_client(sa_kubeconfig))
    calls = {
        ("list", "secrets"): lambda: as_sa.list_namespaced_secret(namespace),
        ("create", "configmaps"): lambda: as_sa.create_namespaced_config_map(
            namespace, client.V1ConfigMap(metadata={"name": "made-by-probe"})
        ),
        ("delete", "configmaps"): lambda: as_sa.delete_namespaced_config_map("made-by-probe", namespace),
    }
    if allowed:
        calls[(verb, resource)]()
    else:
        with pytest.raises(ApiException) as info:
            calls[(verb, resource)]()
        assert info.value.status == 403


def _fake_tools(root: Path, key: str) -> None:
    (root / "bin").mkdir(parents=True)
    for name in controlplane.MODULE_BINARIES["kube"]:
        path = root / "bin" / name
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    (root / "kube.key").write_text(key)


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        pytest.param("empty", "e2e tools missing", id="nothing-built"),
        pytest.param("stale", "built from another tests/infra/tools/kube/go.mod", id="go-mod-changed"),
        pytest.param("current", None, id="up-to-date"),
    ],
)
def test_find_tools_says_what_to_run(tmp_path: Path, layout: str, message: str | None) -> None:
    if layout != "empty":
        old = hashlib.sha256(b"old go.mod").hexdigest()
        _fake_tools(tmp_path, controlplane.module_key("kube") if layout == "current" else old)
    if message is None:
        assert find_tools(tmp_path, modules=["kube"]).bin("etcd") == tmp_path / "bin" / "etcd"
    else:
        with pytest.raises(ControlPlaneError, match="make e2e-tools") as info:
            find_tools(tmp_path, modules=["kube"])
        assert message in str(info.value)
