"""The Kubernetes wrapper's pure parts: error mapping, namespace resolution, config loading failures, and
the client's retries against a port nobody listens on. (Calls against a real kube-apiserver are in
test_token_store.py.)"""

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from peribolos_core.errors import (
    ConfigError,
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeNotFound,
    KubeUnavailable,
)
from peribolos_core.kube import (
    RETRIES,
    default_namespace,
    error_for_api_exception,
    kube_errors,
    load_core_v1,
    to_dict,
)
from peribolos_core.token_secret import build_secret, parse_secret
from tests.not_kube import dead_kubeconfig


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


def test_unreachable_apiserver_is_one_error_not_a_warning_per_retry(tmp_path: Path, caplog) -> None:
    """Issue 14: urllib3 wrote three "Retrying (...)" warnings before each Kubernetes error line."""
    caplog.set_level(logging.DEBUG, logger="urllib3")
    api = load_core_v1(str(dead_kubeconfig(tmp_path / "kubeconfig")))
    with pytest.raises(KubeUnavailable) as info, kube_errors("list Secrets in ns"):
        api.list_namespaced_secret("ns", _request_timeout=(1, 1))
    assert str(info.value) == (
        f"list Secrets in ns: cannot reach the Kubernetes API (MaxRetryError: NewConnectionError, "
        f"{RETRIES + 1} tries)"
    )
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert RETRIES > 0, "connection errors are still retried, only quietly"


def test_to_dict_turns_a_client_model_into_what_the_schema_parses() -> None:
    body = build_secret(6, "ghs_" + "A" * 40, datetime(2030, 1, 1, tzinfo=UTC), "Octo", "Organization",
                        resource_version="12")
    model = client.V1Secret(
        metadata=client.V1ObjectMeta(
            name=body["metadata"]["name"],
            labels=body["metadata"]["labels"],
            annotations=body["metadata"]["annotations"],
            resource_version="12",
        ),
        data=body["data"],
        type="Opaque",
    )
    assert parse_secret(to_dict(model)) == parse_secret(body)
