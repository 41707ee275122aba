"""End to end on the real cluster: how long a push takes to become a TaskRun, a finished sync, a check run.

Starts the test cluster (kubelet, containerd, Tekton Pipelines and Triggers from their release config), the
fake GitHub on the node's address and the product installed as docs/operations.md says; installs the App
on one org; then, ``BENCH_E2E_PUSHES`` times (default 12; the first 2 warm caches up and are not counted),
pushes a change of ``peribolos.yaml`` to the fake and sends its signed webhook to the EventListener's
Service, and records from the start of the POST:

- the TaskRun created (seen by a LIST of TaskRuns, polled every 20 ms),
- the TaskRun Succeeded (its Pod ran prepare/fetch-config/peribolos/report on the node),
- the check run completed on the pushed commit (as GitHub shows it).

Then ``BENCH_E2E_BURST`` (default 30) pushes at once: how fast the sink creates their TaskRuns (each is
deleted as soon as it is seen: the burst measures the sink, not 30 Pods on 2 cores). Everything runs inside
the network namespace of ``make bench``; the loops are bounded in count and time.

    python -m tests.bench e2e                      (inside tests/infra/isolated-net.sh, as make bench does)
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e import payloads
from tests.e2e.pods import by_delivery, taskruns, wait_finished
from tests.fakes.github import FakeGitHub
from tests.infra.cluster import NODE_IP, start_cluster
from tests.infra.product import Product, install_with_fake_github

APP_ID = "4242"
ORG = "bench-org"
INSTALLATION_ID = 77
PUSHES = int(os.environ.get("BENCH_E2E_PUSHES", "12"))
WARMUP = 2
BURST = int(os.environ.get("BENCH_E2E_BURST", "30"))
WAIT = 180.0


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _until(check: Any, timeout: float, interval: float = 0.02) -> float | None:
    """perf_counter() when ``check()`` first holds, or None after ``timeout``."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if check():
            return time.perf_counter()
        time.sleep(interval)
    return None


def _taskrun_of(product: Product, delivery: str) -> dict[str, Any] | None:
    found = [r for r in taskruns(product.cluster, product.namespace) if by_delivery(delivery)(r)]
    return found[0] if found else None


def one_push(product: Product, github: FakeGitHub, i: int) -> dict[str, float] | None:
    config = f"orgs:\n  {ORG}:\n    admins: [alice, bob]\n    members: [m{i}]\n"
    push = github.push_commit(f"{ORG}/.github", {"peribolos.yaml": config})
    payload = payloads.push(INSTALLATION_ID, ORG, after=push.after)
    payload.update(push.webhook_fields())
    start = time.perf_counter()
    delivery, response = product.send_webhook("push", payload)
    if response.status_code != 202:
        return None
    created = _until(lambda: _taskrun_of(product, delivery) is not None, 60)
    if created is None:
        return None
    run = _taskrun_of(product, delivery)
    assert run is not None
    finished = wait_finished(product.cluster, product.namespace, run["metadata"]["name"], timeout=WAIT)
    succeeded = time.perf_counter()

    def completed() -> bool:
        return any(r["head_sha"] == push.after and r["status"] == "completed" for r in github.check_runs)

    checked = _until(completed, 30)
    if not finished.succeeded or checked is None:
        return None
    return {"created": created - start, "succeeded": succeeded - start, "check_run": checked - start}


def burst(product: Product, count: int) -> dict[str, Any]:
    from kubernetes import client

    custom = client.CustomObjectsApi(product.cluster.api_client())
    deliveries = [str(uuid.uuid4()) for _ in range(count)]
    starts: dict[str, float] = {}
    gate = threading.Barrier(count)

    def send(delivery: str) -> None:
        payload = payloads.push(INSTALLATION_ID, ORG, after=payloads.sha(f"burst-{delivery}"))
        gate.wait()
        starts[delivery] = time.perf_counter()
        product.send_webhook("push", payload, delivery_id=delivery, timeout=30)

    threads = [threading.Thread(target=send, args=(d,)) for d in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    seen: dict[str, float] = {}
    deadline = time.perf_counter() + 60
    while len(seen) < count and time.perf_counter() < deadline:
        now = time.perf_counter()
        for run in taskruns(product.cluster, product.namespace):
            delivery = (run["metadata"].get("annotations") or {}).get("peribolos.dev/delivery-id")
            if delivery in starts and delivery not in seen:
                seen[delivery] = now
                custom.delete_namespaced_custom_object(
                    "tekton.dev", "v1", product.namespace, "taskruns", run["metadata"]["name"]
                )
        time.sleep(0.02)
    latencies = [seen[d] - starts[d] for d in seen]
    first = min(starts.values())
    return {
        "count": count,
        "latencies": latencies,
        "lost": count - len(seen),
        "span": (max(seen.values()) - first) if seen else 0.0,
    }


def run(workdir: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    cluster = start_cluster(workdir / "cluster")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    github = FakeGitHub(APP_ID, key.public_key(), host=NODE_IP).start()
    try:
        github.add_installation(INSTALLATION_ID, ORG)
        github.add_repo(f"{ORG}/.github")
        github.add_org(ORG, admins=["alice", "bob"])
        product = install_with_fake_github(cluster, workdir / "product", github, app_id=APP_ID, app_key=key)
        startup = time.perf_counter() - t0
        delivery, _ = product.send_webhook(
            "installation", payloads.installation("created", INSTALLATION_ID, ORG)
        )
        installed = _until(lambda: _taskrun_of(product, delivery) is not None, 60)
        run_ = _taskrun_of(product, delivery)
        if installed is None or run_ is None:
            raise RuntimeError("the installation webhook made no TaskRun")
        wait_finished(cluster, product.namespace, run_["metadata"]["name"], timeout=WAIT)
        results, lost = [], 0
        for i in range(PUSHES):
            result = one_push(product, github, i)
            if i < WARMUP:
                continue
            if result is None:
                lost += 1
            else:
                results.append(result)
        return {
            "startup_s": startup,
            "phases": cluster.startup_seconds,
            "results": results,
            "lost": lost,
            "burst": burst(product, BURST),
        }
    finally:
        github.stop()
        cluster.stop()


def report(result: dict[str, Any]) -> bool:
    print(f"-- cluster and product up in {result['startup_s']:.0f} s: {result['phases']}")
    rows = result["results"]
    if not rows:
        print(f"   no push completed (lost {result['lost']})")
        return False
    print(f"   {len(rows)} sequential pushes (after {WARMUP} warm-up), lost {result['lost']}:")
    for key, label in (
        ("created", "push -> TaskRun created"),
        ("succeeded", "push -> sync TaskRun Succeeded"),
        ("check_run", "push -> check run completed"),
    ):
        values = [r[key] for r in rows]
        print(
            f"   {label:<34} p50 {percentile(values, 50):6.2f} s  p95 {percentile(values, 95):6.2f} s"
            f"  max {max(values):6.2f} s  mean {statistics.fmean(values):6.2f} s"
        )
    b = result["burst"]
    if b["latencies"]:
        print(
            f"   burst of {b['count']} pushes at once: last TaskRun after {b['span']:.2f} s"
            f" ({len(b['latencies']) / max(b['span'], 1e-9):.1f} TaskRuns/s), per event p50"
            f" {percentile(b['latencies'], 50) * 1000:.0f} ms"
            f"  p95 {percentile(b['latencies'], 95) * 1000:.0f} ms,"
            f" lost {b['lost']}"
        )
    return result["lost"] == 0 and b["lost"] == 0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        return 0 if report(run(Path(tmp))) else 1
