"""The one wrapper around the official ``kubernetes`` client: loading config, and mapping its errors.

Everything else in the project catches :class:`~peribolos_core.errors.KubeError` subclasses, never the
client's ``ApiException`` or urllib3's errors. Error messages are built from the status code and the API's
``Status.message``; the raw exception (which carries response headers and body) is only chained.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from .errors import (
    ConfigError,
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeGone,
    KubeNotFound,
    KubeUnavailable,
)

IN_CLUSTER_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
REQUEST_TIMEOUT = (5.0, 30.0)
"""(connect, read) seconds for every API call: a stuck API server fails the step instead of hanging it."""
RETRIES = 3
"""urllib3 retries of a connection error (and of a read error on a GET, PUT or DELETE), at once, then 0.5 s
and 1 s later: a kube-apiserver restarting or a connection reset costs a moment, not the step."""

# The client logs whole response bodies (Secret data included) at debug level: never let that through.
logging.getLogger("kubernetes").setLevel(logging.WARNING)


class _QuietRetries(logging.Filter):
    """Drops urllib3's "Retrying (...)" warning, written once per retry before the error line that says it
    all (issue 14). The GitHub transport retries on its own with urllib3 retries off, so only the
    Kubernetes client's retries wrote these."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Retrying (")


logging.getLogger("urllib3.connectionpool").addFilter(_QuietRetries())


def load_core_v1(kubeconfig: str | None = None) -> client.CoreV1Api:
    """A CoreV1Api on :func:`load_api_client`."""
    return client.CoreV1Api(load_api_client(kubeconfig))


def load_custom_objects(kubeconfig: str | None = None) -> client.CustomObjectsApi:
    """A CustomObjectsApi (Tekton's TaskRuns, Triggers' TriggerTemplates) on :func:`load_api_client`."""
    return client.CustomObjectsApi(load_api_client(kubeconfig))


def load_api_client(kubeconfig: str | None = None) -> client.ApiClient:
    """An ApiClient: from ``kubeconfig`` when given, else in-cluster, else the default kubeconfig
    (``$KUBECONFIG`` or ``~/.kube/config``). ConfigError when none works."""
    configuration = client.Configuration()
    try:
        if kubeconfig:
            config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        else:
            try:
                config.load_incluster_config(client_configuration=configuration)
            except ConfigException:
                config.load_kube_config(client_configuration=configuration)
    except (ConfigException, OSError, TypeError, ValueError, yaml.YAMLError) as exc:
        where = (
            f"kubeconfig {kubeconfig}" if kubeconfig else "in-cluster config or ~/.kube/config / $KUBECONFIG"
        )
        raise ConfigError(
            f"cannot load Kubernetes credentials from {where} ({type(exc).__name__}): run in a Pod with a "
            "ServiceAccount, or pass --kubeconfig / KUBECONFIG"
        ) from exc
    configuration.debug = False
    configuration.retries = urllib3.Retry(total=RETRIES, backoff_factor=0.25, redirect=False)
    return client.ApiClient(configuration)


POD_LOG_LIMIT = 16 * 1024 * 1024
"""Bytes of a container's log read at most (peribolos prints a few hundred bytes a change)."""


def read_container_log(
    core_v1: client.CoreV1Api, namespace: str, pod: str, container: str, limit_bytes: int = POD_LOG_LIMIT
) -> str:
    """What ``container`` of ``pod`` printed (``kubectl logs``), at most ``limit_bytes``, as text."""
    with kube_errors(f"read the log of {namespace}/{pod} container {container}"):
        response = core_v1.read_namespaced_pod_log(
            pod, namespace, container=container, limit_bytes=limit_bytes,
            _request_timeout=REQUEST_TIMEOUT, _preload_content=False,
        )
        try:
            data = response.data
        finally:
            response.release_conn()
    return data.decode("utf-8", errors="replace")


def default_namespace(
    env: dict[str, str] | None = None, namespace_file: str = IN_CLUSTER_NAMESPACE_FILE
) -> str:
    """``POD_NAMESPACE``, else the in-cluster ServiceAccount's namespace, else ``default``."""
    env = os.environ if env is None else env
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    try:
        with open(namespace_file, encoding="utf-8") as handle:
            return handle.read().strip() or "default"
    except OSError:
        return "default"


def _status_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or exc.reason or "no message")[:300]


def error_for_api_exception(exc: ApiException, what: str) -> KubeError:
    """The KubeError an ApiException means (pure)."""
    status = exc.status or None
    text = f"{what}: HTTP {status}: {_status_message(exc)}"
    if status == 404:
        return KubeNotFound(status, text)
    if status == 409:
        return KubeConflict(status, text)
    if status == 410:
        return KubeGone(status, text)
    if status in (401, 403):
        return KubeForbidden(status, f"{text}; check the ServiceAccount's Role (see the rendered RBAC)")
    if status is None or status == 429 or status >= 500:
        return KubeUnavailable(status, text)
    return KubeError(status, text)


@contextmanager
def kube_errors(what: str = "Kubernetes API call") -> Iterator[None]:
    """Run a client call, turning its exceptions into KubeError subclasses that name ``what``."""
    try:
        yield
    except ApiException as exc:
        raise error_for_api_exception(exc, what) from exc
    except urllib3.exceptions.MaxRetryError as exc:
        reason = f": {type(exc.reason).__name__}" if exc.reason is not None else ""
        tries = f"{RETRIES + 1} tries"
        raise KubeUnavailable(
            None, f"{what}: cannot reach the Kubernetes API ({type(exc).__name__}{reason}, {tries})"
        ) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise KubeUnavailable(
            None, f"{what}: cannot reach the Kubernetes API ({type(exc).__name__})"
        ) from exc


_serializer: client.ApiClient | None = None


def to_dict(obj: Any) -> dict[str, Any]:
    """A client model or a plain dict, as a plain dict with the API's camelCase keys."""
    global _serializer
    if isinstance(obj, dict):
        return obj
    if _serializer is None:
        _serializer = client.ApiClient(client.Configuration())
    return _serializer.sanitize_for_serialization(obj)


def json_body(response: Any, what: str) -> dict[str, Any]:
    """The body of a ``_preload_content=False`` answer as a dict. Skipping the client's model classes makes
    reading 10,000 Secrets several times faster (they would be built, then turned back into dicts).

    An answer that is not a Kubernetes object (an HTML page from a proxy, a truncated body: no JSON object
    with a ``kind``) is a KubeError that says so, for writes too: a write the server did not understand
    must not pass for done."""
    if not isinstance(response, urllib3.BaseHTTPResponse):
        return to_dict(response)  # already decoded (a model or a dict)
    try:
        data = response.data
    finally:
        response.release_conn()
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise _not_json(response, what) from exc
    if not isinstance(body, dict) or "kind" not in body:
        raise _not_json(response, what)
    return body


def _not_json(response: urllib3.BaseHTTPResponse, what: str) -> KubeError:
    content_type = (response.headers.get("content-type") or "no content type").split(";")[0].strip()
    return KubeError(
        response.status,
        f"{what}: the server answered HTTP {response.status} with {content_type[:60]}, not a Kubernetes "
        "object: check that the kubeconfig's server (or the in-cluster address) is the kube-apiserver",
    )


class CountedCalls:
    """Base of the wrappers that read and write one namespace's objects as raw JSON: each API call counted
    (thread-safe), bounded by :data:`REQUEST_TIMEOUT`, its errors KubeError naming ``what``, its answer a
    dict (:func:`json_body`)."""

    def __init__(self) -> None:
        self._count_lock = threading.Lock()
        self.request_count = 0
        """Kubernetes API calls made (for benchmarks)."""

    def _call(self, what: str, method: Callable[..., Any], *args: Any) -> dict[str, Any]:
        """One API call, counted, bounded in time, errors as KubeError naming ``what``; its JSON answer."""
        with self._count_lock:
            self.request_count += 1
        with kube_errors(what):
            response = method(*args, _request_timeout=REQUEST_TIMEOUT, _preload_content=False)
            return json_body(response, what)
