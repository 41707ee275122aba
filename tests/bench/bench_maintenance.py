"""peribolos-maintain figures: the pure plans at fleet size, and a prune run on the real kube-apiserver.

- ``plan_prune`` over 100,000 finished runs (6,000 orgs x 2 actions, a history of up to 15 each);
- ``drift_taskrun`` from the rendered sync TriggerTemplate, 10,000 times (a run over 10,000 orgs);
- a prune of a namespace of ``BENCH_PRUNE_TASKRUNS`` (default 2,000) TaskRuns on etcd + kube-apiserver:
  listing in pages of 500, planning, deleting, with the Python heap's peak.

Printed, never asserted. ``python -m tests.bench maintenance``.
"""

from __future__ import annotations

import os
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubernetes import client

from generator.render import render_objects
from generator.values import load_values
from peribolos_core.github import Installation
from tekton.maintenance.prune import Outcome, Policy, Pruner, Run, plan_prune
from tekton.maintenance.tekton_api import TASKRUNS, TektonObjects
from tekton.maintenance.template import drift_taskrun
from tests.infra.controlplane import start_control_plane

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def _timed(function: Any) -> tuple[Any, float, float]:
    """(result, seconds, peak MiB of the Python heap)."""
    tracemalloc.start()
    start = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, peak


def _fleet_runs() -> list[Run]:
    runs = []
    for org in range(6000):
        for action in ("sync", "dry-run"):
            for i in range(3 + (org * 7 + len(action)) % 13):
                outcome = Outcome.FAILED if i % 5 == 4 else Outcome.SUCCEEDED
                runs.append(Run(f"{action}-{org}-{i}", f"u{org}-{i}", str(org), action, outcome,
                                NOW - timedelta(hours=i * 11)))
    return runs


def _seed(api: client.CustomObjectsApi, namespace: str, count: int, orgs: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        body = {"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
                "metadata": {"name": f"peribolos-sync-{uuid.uuid4().hex[:12]}", "labels": {
                    "app.kubernetes.io/part-of": "peribolos-as-a-service", "peribolos.dev/action": "sync",
                    "peribolos.dev/installation-id": str(1 + i % orgs)}},
                "spec": {"taskRef": {"kind": "Task", "name": "peribolos-sync"}}}
        made = api.create_namespaced_custom_object(*TASKRUNS[:2], namespace, TASKRUNS[2], body)
        when = (datetime.now(UTC) - timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        made["status"] = {"conditions": [{"type": "Succeeded", "status": "True", "lastTransitionTime": when}],
                          "completionTime": when, "podName": f"{made['metadata']['name']}-pod"}
        api.replace_namespaced_custom_object_status(*TASKRUNS[:2], namespace, TASKRUNS[2],
                                                    made["metadata"]["name"], made)
    return time.perf_counter() - start


def main() -> int:
    runs = _fleet_runs()
    plan, seconds, peak = _timed(lambda: plan_prune(runs, NOW, Policy()))
    print(f"plan_prune: {len(runs):,} finished runs of 6,000 orgs -> {len(plan):,} deletions in "
          f"{seconds * 1000:.0f} ms, heap peak {peak:.1f} MiB")

    values = load_values([], ["driftRepair.schedule=0 3 * * *"])
    (template,) = [o for o in render_objects(values)["triggers"]
                   if o["kind"] == "TriggerTemplate" and o["metadata"]["name"] == "peribolos-sync"]
    orgs = [Installation(i, f"org{i}", "Organization", False) for i in range(1, 10_001)]
    _, seconds, peak = _timed(lambda: [drift_taskrun(template, org, run_id="bench", config_repo=".github",
                                                     config_path="peribolos.yaml") for org in orgs])
    print(f"drift_taskrun: 10,000 TaskRuns from the rendered template in {seconds * 1000:.0f} ms "
          f"({seconds / 10_000 * 1e6:.0f} us each), heap peak {peak:.1f} MiB")

    count = int(os.environ.get("BENCH_PRUNE_TASKRUNS", "2000"))
    with tempfile.TemporaryDirectory(prefix="bench-maintenance-") as tmp:
        plane = start_control_plane(Path(tmp) / "plane")
        try:
            api = client.CustomObjectsApi(plane.api_client())
            core = client.CoreV1Api(plane.api_client())
            namespace = f"bench-{uuid.uuid4().hex[:8]}"
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
            seeded = _seed(api, namespace, count, orgs=count // 20)
            print(f"seeded {count:,} finished TaskRuns ({count // 20} orgs x 20) in {seeded:.1f} s")
            tekton = TektonObjects(api, namespace)
            summary, seconds, peak = _timed(lambda: Pruner(tekton, Policy()).run())
            rate = summary.counts["deleted"] / seconds
            print(f"prune run: {summary.taskruns:,} listed, {summary.counts['deleted']:,} deleted, "
                  f"{summary.counts['kept']:,} kept in {seconds:.1f} s ({summary.kube_requests:,} API calls, "
                  f"{rate:.0f} deletions/s), heap peak {peak:.1f} MiB")
            again, seconds, _ = _timed(lambda: Pruner(tekton, Policy()).run())
            print(f"prune run again (nothing to do): {again.taskruns:,} listed in {seconds * 1000:.0f} ms")
        finally:
            plane.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
