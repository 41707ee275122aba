"""Small named ConfigMaps of one namespace, read and written as raw JSON with optimistic concurrency.

Two objects of the service live in ConfigMaps of the main namespace: the App-wide mint budget's window
(:mod:`peribolos_core.mint_budget`) and the refresher's last-run figures (:mod:`peribolos_core.run_status`).
Writes carry the ``resourceVersion`` that was read, so a concurrent writer makes the write fail with
:class:`~peribolos_core.errors.KubeConflict` instead of being overwritten; the callers re-read and retry.
Errors are the project's own (:func:`peribolos_core.kube.kube_errors`); the objects hold no secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client

from .errors import KubeNotFound
from .kube import CountedCalls
from .token_secret import LABEL_COMPONENT, LABEL_MANAGED_BY, MANAGED_BY


def config_map(name: str, data: Mapping[str, str], component: str) -> dict[str, Any]:
    """The body creating one of the service's ConfigMaps where the install did not render it (pure)."""
    metadata = {"name": name, "labels": {LABEL_MANAGED_BY: MANAGED_BY, LABEL_COMPONENT: component}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": dict(data)}


def with_data(obj: Mapping[str, Any], data: Mapping[str, str]) -> dict[str, Any]:
    """The body replacing ``obj`` (as read) with ``data``: its name, labels, annotations and
    ``resourceVersion`` kept, so the rendered object's labels survive our writes (pure)."""
    kept = {k: v for k, v in (obj.get("metadata") or {}).items()
            if k in ("name", "namespace", "labels", "annotations", "resourceVersion")}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": kept, "data": dict(data)}


def data_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """The string data of a ConfigMap as read (an empty ConfigMap has no ``data`` at all)."""
    data = obj.get("data") or {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, Mapping) else {}


class ConfigMaps(CountedCalls):
    """Get, create and replace ConfigMaps of one namespace through a ``CoreV1Api``; thread-safe."""

    def __init__(self, core_v1: client.CoreV1Api, namespace: str) -> None:
        super().__init__()
        self.api = core_v1
        self.namespace = namespace

    def get(self, name: str) -> dict[str, Any] | None:
        """The ConfigMap, or None when there is none."""
        try:
            return self._call(f"read ConfigMap {self.namespace}/{name}", self.api.read_namespaced_config_map,
                              name, self.namespace)
        except KubeNotFound:
            return None

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create it; KubeConflict when it exists already (someone else was first)."""
        name = body["metadata"]["name"]
        return self._call(f"create ConfigMap {self.namespace}/{name}", self.api.create_namespaced_config_map,
                          self.namespace, body)

    def replace(self, body: dict[str, Any]) -> dict[str, Any]:
        """Replace the version ``body`` names; KubeConflict when it changed since, KubeNotFound when gone."""
        name = body["metadata"]["name"]
        return self._call(f"replace ConfigMap {self.namespace}/{name}",
                          self.api.replace_namespaced_config_map, name, self.namespace, body)

    def __repr__(self) -> str:
        return f"ConfigMaps(namespace={self.namespace!r})"
