"""Following a webhook on the real cluster: its TaskRun, the Pod Tekton made of it, each step's outcome."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.infra.cluster import Cluster, ClusterError

DELIVERY_ANNOTATION = "peribolos.dev/delivery-id"


def taskruns(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    from kubernetes import client

    custom = client.CustomObjectsApi(cluster.api_client())
    return custom.list_namespaced_custom_object("tekton.dev", "v1", namespace, "taskruns")["items"]


def by_delivery(delivery: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda tr: (tr["metadata"].get("annotations") or {}).get(DELIVERY_ANNOTATION) == delivery


def wait_taskruns(
    cluster: Cluster,
    namespace: str,
    predicate: Callable[[Mapping[str, Any]], bool],
    count: int = 1,
    timeout: float = 30,
    settle: float = 0.0,
) -> list[dict[str, Any]]:
    """The TaskRuns matching ``predicate`` once there are ``count``; waits ``settle`` more seconds and
    checks no other one came (the sink works asynchronously: an extra TaskRun can only show up later)."""
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = [tr for tr in taskruns(cluster, namespace) if predicate(tr)]
        if len(found) >= count:
            break
        time.sleep(0.2)
    if len(found) < count:
        raise AssertionError(f"{len(found)} TaskRun(s) after {timeout:.0f}s, wanted {count}")
    if settle:
        time.sleep(settle)
        found = [tr for tr in taskruns(cluster, namespace) if predicate(tr)]
    return found


@dataclass(frozen=True)
class Finished:
    """A TaskRun that ran to the end: its object, whether it succeeded, each step's exit code."""

    taskrun: dict[str, Any]
    succeeded: bool
    reason: str
    exit_codes: dict[str, int]

    @property
    def name(self) -> str:
        return self.taskrun["metadata"]["name"]

    @property
    def pod(self) -> str:
        return self.taskrun["status"].get("podName", "")


def wait_finished(cluster: Cluster, namespace: str, name: str, timeout: float = 120) -> Finished:
    """Wait for TaskRun ``name`` to finish (Succeeded True or False) on the real node."""
    from kubernetes import client

    custom = client.CustomObjectsApi(cluster.api_client())
    deadline = time.monotonic() + timeout
    taskrun: dict[str, Any] = {}
    while time.monotonic() < deadline:
        taskrun = custom.get_namespaced_custom_object("tekton.dev", "v1", namespace, "taskruns", name)
        conditions = (taskrun.get("status") or {}).get("conditions") or []
        done = [
            c for c in conditions if c.get("type") == "Succeeded" and c.get("status") in ("True", "False")
        ]
        if done:
            steps = taskrun["status"].get("steps") or []
            codes = {s["name"]: s.get("terminated", {}).get("exitCode", -1) for s in steps}
            return Finished(taskrun, done[0]["status"] == "True", done[0].get("reason", ""), codes)
        time.sleep(0.3)
    pods = cluster.kubectl("-n", namespace, "get", "pods", "-o", "wide", check=False).stdout
    raise ClusterError(
        f"TaskRun {namespace}/{name} not finished after {timeout:.0f}s: "
        f"{(taskrun.get('status') or {}).get('conditions')}\n{pods}"
    )


def step_log(cluster: Cluster, namespace: str, finished: Finished, step: str) -> str:
    """What the step's container printed (through the API server and the kubelet, as ``kubectl logs``)."""
    return cluster.kubectl("-n", namespace, "logs", finished.pod, "-c", f"step-{step}").stdout


def pod(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    from kubernetes import client

    api = client.CoreV1Api(cluster.api_client())
    return api.api_client.sanitize_for_serialization(api.read_namespaced_pod(name, namespace))
