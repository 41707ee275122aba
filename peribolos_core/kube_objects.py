"""Objects of one kind in one namespace, listed and watched as raw JSON (the exporter's TaskRuns and Jobs).

List-then-watch, as every Kubernetes controller does: the list gives the objects and the collection's
``resourceVersion``, the watch streams every change after it. A watch that starts from a version the
server has compacted ends with :class:`~peribolos_core.errors.KubeGone` (410): list again. Each call has a
deadline (the watch ends by itself after ``timeout_seconds``); errors are the project's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubernetes import client, watch

from .kube import REQUEST_TIMEOUT, json_body, kube_errors


class NamespacedObjects:
    """``group/version`` ``plural`` objects of ``namespace`` matching ``label_selector`` (any API group's,
    through the custom-objects client: ``tekton.dev/v1`` taskruns, ``batch/v1`` jobs)."""

    def __init__(self, api_client: client.ApiClient, namespace: str, group: str, version: str, plural: str,
                 label_selector: str = "") -> None:
        self.api = client.CustomObjectsApi(api_client)
        self.namespace = namespace
        self.group, self.version, self.plural = group, version, plural
        self.label_selector = label_selector
        self.request_count = 0

    @property
    def what(self) -> str:
        return f"{self.plural}.{self.group} in {self.namespace}"

    def list(self) -> tuple[list[dict[str, Any]], str]:
        """The objects and the list's resourceVersion (to watch from)."""
        self.request_count += 1
        with kube_errors(f"list {self.what}"):
            response = self.api.list_namespaced_custom_object(
                self.group, self.version, self.namespace, self.plural, label_selector=self.label_selector,
                _request_timeout=REQUEST_TIMEOUT, _preload_content=False,
            )
            body = json_body(response, f"list {self.what}")
        items = [i for i in body.get("items") or [] if isinstance(i, dict)]
        return items, str((body.get("metadata") or {}).get("resourceVersion", ""))

    def watch(self, resource_version: str, timeout_seconds: int = 300
              ) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(type, object)`` for each change after ``resource_version`` (ADDED, MODIFIED, DELETED, BOOKMARK)
        until the server ends the watch (``timeout_seconds``). KubeGone when the version is too old."""
        self.request_count += 1
        stream = watch.Watch().stream(
            self.api.list_namespaced_custom_object, self.group, self.version, self.namespace, self.plural,
            label_selector=self.label_selector, resource_version=resource_version,
            timeout_seconds=timeout_seconds, allow_watch_bookmarks=True,
            _request_timeout=(REQUEST_TIMEOUT[0], timeout_seconds + REQUEST_TIMEOUT[1]),
        )
        with kube_errors(f"watch {self.what}"):
            for event in stream:
                raw = event.get("raw_object")
                if isinstance(raw, dict):
                    yield str(event.get("type")), raw

    def __repr__(self) -> str:
        return f"NamespacedObjects({self.what}, selector={self.label_selector!r})"
