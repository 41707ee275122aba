"""The Kubernetes wrapper's pure parts: error mapping, namespace resolution, config loading failures.
(Calls against a real kube-apiserver are in test_token_store.py.)"""

import json
from pathlib import Path

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from peribolos_core.errors import (
    ConfigError,
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeNotFound,
    KubeUnavailable,
)
from peribolos_core.kube import default_namespace, error_for_api_exception, kube_errors, load_core_v1


def api_exception(status: int, message: str | None) -> ApiException:
    exc = ApiException(status=status, reason="Reason")
    exc.body = json.dumps({"kind": "Status", "message": message}) if message is not None else "not json"
    exc.headers = {"Authorization": "Bearer sekrit-header-value"}
    return exc


@pytest.mark.parametrize(
    ("status", "kind", "temporary"),
    [
        (404, KubeNotFound, False),
        (409, KubeConflict, True),
        (401, KubeForbidden, False),
        (403, KubeForbidden, False),
        (422, KubeError, False),
        (429, KubeUnavailable, True),
        (500, KubeUnavailable, True),
        (503, KubeUnavailable, True),
    ],
    ids=["404", "409", "401", "403", "422", "429", "500", "503"],
)
def test_error_mapping(status: int, kind: type, temporary: bool) -> None:
    error = error_for_api_exception(api_exception(status, 'secrets "x" is forbidden'), "read Secret ns/x")
    assert type(error) is kind
    assert error.status_code == status
    assert error.temporary is temporary
    assert str(error).startswith(f'read Secret ns/x: HTTP {status}: secrets "x" is forbidden')
    assert "sekrit" not in str(error) and "sekrit" not in repr(error)


def test_error_without_status_body_uses_reason() -> None:
    assert "Reason" in str(error_for_api_exception(api_exception(500, None), "x"))


@pytest.mark.parametrize(
    ("raised", "kind"),
    [
        (api_exception(409, "conflict"), KubeConflict),
        (urllib3.exceptions.MaxRetryError(None, "/x"), KubeUnavailable),
        (ConnectionRefusedError(), KubeUnavailable),
    ],
    ids=["api-exception", "urllib3", "os-error"],
)
def test_kube_errors_context_manager(raised: Exception, kind: type) -> None:
    with pytest.raises(kind) as info, kube_errors("list Secrets"):
        raise raised
    assert info.value.__cause__ is raised
    assert str(info.value).startswith("list Secrets")


@pytest.mark.parametrize(
    ("env", "file_content", "expected"),
    [
        ({"POD_NAMESPACE": "from-env"}, "from-file", "from-env"),
        ({}, "from-file\n", "from-file"),
        ({}, None, "default"),
        ({"POD_NAMESPACE": ""}, "", "default"),
    ],
    ids=["env-wins", "in-cluster-file", "nothing", "empty-both"],
)
def test_default_namespace(tmp_path: Path, env: dict, file_content: str | None, expected: str) -> None:
    path = tmp_path / "namespace"
    if file_content is not None:
        path.write_text(file_content)
    assert default_namespace(env, str(path)) == expected


@pytest.mark.parametrize(
    "content",
    [None, "not: [valid", "apiVersion: v1\nkind: Config\n"],
    ids=["missing", "not-yaml", "no-context"],
)
def test_load_core_v1_bad_kubeconfig_is_config_error(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "kubeconfig"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match="--kubeconfig"):
        load_core_v1(str(path))
