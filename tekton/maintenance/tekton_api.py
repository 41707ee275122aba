"""The Tekton objects ``peribolos-maintain`` reads and writes, through the Kubernetes API: a TriggerTemplate
(get), TaskRuns (list page by page, create, delete).

The one place this package talks to Kubernetes: every call is bounded in time
(:data:`peribolos_core.kube.REQUEST_TIMEOUT`), counted, and its errors are the project's
:class:`~peribolos_core.errors.KubeError` subclasses naming the object. Listings go page by page
(``limit`` / ``continue``), so a namespace of 100,000 TaskRuns is never held in memory at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kubernetes import client

from peribolos_core.errors import KubeConflict, KubeError, KubeNotFound
from peribolos_core.kube import REQUEST_TIMEOUT, kube_errors, load_custom_objects

TASKRUNS = ("tekton.dev", "v1", "taskruns")
TRIGGER_TEMPLATES = ("triggers.tekton.dev", "v1beta1", "triggertemplates")
PAGE_SIZE = 500
"""TaskRuns a list call returns at most (the API server's ``limit``)."""
MAX_PAGES = 10_000
"""A listing stops with an error after this many pages (5 million TaskRuns): never an endless loop."""


class TektonObjects:
    """TaskRuns and TriggerTemplates of one namespace."""

    def __init__(self, api: client.CustomObjectsApi, namespace: str, *, page_size: int = PAGE_SIZE) -> None:
        self.api = api
        self.namespace = namespace
        self.page_size = page_size
        self.request_count = 0
        """Kubernetes API calls made (for the summary line)."""

    @classmethod
    def connect(cls, kubeconfig: str | None, namespace: str) -> TektonObjects:
        """Through ``kubeconfig`` (None: in-cluster); ConfigError when no credentials load."""
        return cls(load_custom_objects(kubeconfig), namespace)

    def _call(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.request_count += 1
        with kube_errors(what):
            answer = method(*args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
        if not isinstance(answer, Mapping) or "kind" not in answer:
            raise KubeError(None, f"{what}: the server's answer is not a Kubernetes object: check that the "
                                  "kubeconfig's server (or the in-cluster address) is the kube-apiserver")
        return dict(answer)

    def trigger_template(self, name: str) -> dict[str, Any]:
        """The TriggerTemplate ``name``; KubeNotFound when the namespace has none of that name."""
        return self._call(f"get TriggerTemplate {self.namespace}/{name}",
                          self.api.get_namespaced_custom_object, *TRIGGER_TEMPLATES[:2], self.namespace,
                          TRIGGER_TEMPLATES[2], name)

    def taskruns(self, label_selector: str) -> Iterator[dict[str, Any]]:
        """Every TaskRun matching ``label_selector``, one page of :attr:`page_size` at a time."""
        what = f"list TaskRuns in {self.namespace} ({label_selector})"
        token: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            kwargs: dict[str, Any] = {"label_selector": label_selector, "limit": self.page_size}
            if token:
                kwargs["_continue"] = token
            page = self._call(what, self.api.list_namespaced_custom_object, *TASKRUNS[:2], self.namespace,
                              TASKRUNS[2], **kwargs)
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue") or None
            if token is None:
                return
            if token in seen:
                raise KubeError(None, f"{what}: the server handed back a continue token it gave before")
            seen.add(token)
        raise KubeError(None, f"{what}: more than {MAX_PAGES} pages of {self.page_size}")

    def create_taskrun(self, taskrun: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Create ``taskrun`` (``dry_run``: the API server checks it, admission included, and stores
        nothing). KubeConflict when one of its name exists."""
        metadata = taskrun.get("metadata") or {}
        name = metadata.get("name") or f"{metadata.get('generateName', '')}…"
        extra = {"dry_run": "All"} if dry_run else {}
        return self._call(f"create TaskRun {self.namespace}/{name}", self.api.create_namespaced_custom_object,
                          *TASKRUNS[:2], self.namespace, TASKRUNS[2], dict(taskrun), **extra)

    def delete_taskrun(self, name: str, uid: str) -> bool:
        """Delete TaskRun ``name`` if it is still the object ``uid`` (not one made since under the same
        name); its Pod goes with it (background cascade: the Pod's owner reference). False when it is gone
        already or is another object now."""
        options = client.V1DeleteOptions(propagation_policy="Background",
                                          preconditions=client.V1Preconditions(uid=uid))
        try:
            self._call(f"delete TaskRun {self.namespace}/{name}", self.api.delete_namespaced_custom_object,
                       *TASKRUNS[:2], self.namespace, TASKRUNS[2], name, body=options)
        except (KubeNotFound, KubeConflict):
            return False
        return True

    def __repr__(self) -> str:
        return f"TektonObjects(namespace={self.namespace!r})"
