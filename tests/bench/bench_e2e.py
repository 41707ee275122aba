"""Webhook -> TaskRun-created latency through the real Tekton Triggers sink.

Starts the same stack as the end-to-end tests (etcd + kube-apiserver with the Tekton CRDs, the rendered
manifests, ``peribolos-interceptor`` and the EventListener sink as local processes, the fake GitHub), then
POSTs signed push events (each a sync) one after another and measures, for each, the time from the start
of the POST to the moment a watch on TaskRuns sees the TaskRun carrying that delivery id. Prints p50, p90,
p99 and max over ``BENCH_E2E_EVENTS`` events (default 200), plus the sink's own 202 answer time; then
``BENCH_E2E_BURST`` (default 50) pushes at once, and how fast their TaskRuns appear.
Only 127.0.0.1 is contacted; the run is bounded (each event waits at most 30 s).

    python -m tests.bench e2e
    BENCH_E2E_EVENTS=50 python -m tests.bench e2e
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e import payloads
from tests.e2e.harness import post_webhook
from tests.e2e.stack import Stack, start_stack
from tests.fakes.github import FakeGitHub
from tests.infra.controlplane import start_control_plane

APP_ID = "4242"
ORG = "bench-org"
INSTALLATION_ID = 77
WAIT_PER_EVENT = 30.0
BURST = int(os.environ.get("BENCH_E2E_BURST", "50"))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class TaskRunWatcher:
    """Records when each TaskRun (by its delivery-id annotation) is first seen on a watch."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self._conn: http.client.HTTPSConnection | None = None

    def _run(self) -> None:
        # A raw watch over http.client hands each event line over as soon as it arrives.
        plane = self.stack.plane
        path = f"/apis/tekton.dev/v1/namespaces/{self.stack.namespace}/taskruns?watch=1&timeoutSeconds=600"
        while not self._stop.is_set():
            conn = http.client.HTTPSConnection("127.0.0.1", plane.port, context=plane.admin_ssl, timeout=600)
            self._conn = conn
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                for line in iter(resp.readline, b""):
                    now = time.perf_counter()
                    event = json.loads(line)
                    if "object" not in event or event.get("kind") == "Status":
                        break  # e.g. 429 "storage is (re)initializing": watch again
                    annotations = event["object"]["metadata"].get("annotations") or {}
                    delivery = annotations.get("peribolos.dev/delivery-id")
                    if event["type"] == "ADDED" and delivery:
                        with self.cond:
                            self.seen.setdefault(delivery, now)
                            self.cond.notify_all()
                    if self._stop.is_set():
                        return
            except (OSError, AttributeError, ValueError):  # closed by stop()
                if self._stop.is_set():
                    return
            finally:
                conn.close()
            time.sleep(0.1)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        sock = self._conn.sock if self._conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # unblocks the reader; closing under it would deadlock
        self.thread.join(5)

    def wait_for(self, delivery: str, timeout: float) -> float | None:
        with self.cond:
            self.cond.wait_for(lambda: delivery in self.seen, timeout)
            return self.seen.get(delivery)


def poll_created(stack: Stack, delivery: str, timeout: float) -> float | None:
    """When a LIST first shows the TaskRun for ``delivery`` (polled every 5 ms, label-selected)."""
    plane = stack.plane
    conn = http.client.HTTPSConnection("127.0.0.1", plane.port, context=plane.admin_ssl, timeout=10)
    path = (
        f"/apis/tekton.dev/v1/namespaces/{stack.namespace}/taskruns"
        "?labelSelector=peribolos.dev%2Faction%3Dsync"
    )
    deadline = time.perf_counter() + timeout
    try:
        while time.perf_counter() < deadline:
            conn.request("GET", path)
            body = conn.getresponse().read()
            now = time.perf_counter()
            for item in json.loads(body).get("items", []):  # a 429 Status while the cache warms
                if (item["metadata"].get("annotations") or {}).get("peribolos.dev/delivery-id") == delivery:
                    return now
            time.sleep(0.005)
    finally:
        conn.close()
    return None


def burst_run(stack: Stack, watcher: TaskRunWatcher, count: int) -> dict[str, Any]:
    """``count`` pushes POSTed at once from ``count`` threads (a wave of orgs pushing together): how long
    until the last TaskRun appears on the watch, and the per-event latencies."""
    deliveries = [str(uuid.uuid4()) for _ in range(count)]
    starts: dict[str, float] = {}
    gate = threading.Barrier(count)

    def send(delivery: str) -> None:
        payload = payloads.push(INSTALLATION_ID, ORG, after=payloads.sha(f"burst-{delivery}"))
        gate.wait()
        starts[delivery] = time.perf_counter()
        post_webhook(stack.sink.url, "push", payload, stack.webhook_secret, delivery)

    threads = [threading.Thread(target=send, args=(d,)) for d in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_PER_EVENT)
    seen = {d: watcher.wait_for(d, WAIT_PER_EVENT) for d in deliveries}
    latencies = [seen[d] - starts[d] for d in deliveries if seen[d] is not None]
    first = min(starts.values())
    last = max((t for t in seen.values() if t is not None), default=first)
    return {"count": count, "latencies": latencies, "lost": count - len(latencies), "span": last - first}


def run(events: int, workdir: Path, sink_env: dict[str, str] | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    plane = start_control_plane(workdir / "plane")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    github = FakeGitHub(APP_ID, key.public_key()).start()
    github.add_installation(INSTALLATION_ID, ORG)
    try:
        stack = start_stack(plane, github, APP_ID, key, workdir / "stack", sink_env=sink_env)
        startup = time.perf_counter() - t0
        watcher = TaskRunWatcher(stack)
        watcher.start()
        time.sleep(1.0)  # let the watch establish before the first event
        latencies: list[float] = []
        watched: list[float] = []
        answers: list[float] = []
        lost = 0
        for i in range(events + 5):  # the first 5 warm connections and caches up; not counted
            delivery = str(uuid.uuid4())
            payload = payloads.push(INSTALLATION_ID, ORG, after=payloads.sha(f"bench-{i}-{delivery}"))
            start = time.perf_counter()
            status, _ = post_webhook(stack.sink.url, "push", payload, stack.webhook_secret, delivery)
            answered = time.perf_counter()
            created = poll_created(stack, delivery, WAIT_PER_EVENT) if status == 202 else None
            seen = watcher.wait_for(delivery, WAIT_PER_EVENT) if created is not None else None
            if i < 5:
                continue
            if created is None or seen is None:
                lost += 1
                continue
            latencies.append(created - start)
            watched.append(seen - start)
            answers.append(answered - start)
        burst = burst_run(stack, watcher, BURST)
        watcher.stop()
        stack.stop()
        return {
            "startup_s": startup,
            "latencies": latencies,
            "watched": watched,
            "answers": answers,
            "lost": lost,
            "burst": burst,
        }
    finally:
        github.stop()
        plane.stop()


CONFIGS = [
    ("as rendered (eventListener.kubeApiQPS 50, kubeApiBurst 100)", None),
    ("sink at client-go's defaults (QPS 5, burst 10)", {"KUBE_API_QPS": "5", "KUBE_API_BURST": "10"}),
]
"""The sink's Kubernetes client is rate-limited (knative reads KUBE_API_QPS/KUBE_API_BURST; 0 = client-go's
5/10): at one TaskRun create per event that limit, not the engine, sets the pace once the burst is spent."""


def report(name: str, result: dict[str, Any], events: int) -> bool:
    lat = [v * 1000 for v in result["latencies"]]
    ans = [v * 1000 for v in result["answers"]]
    watch = [v * 1000 for v in result["watched"]]
    print(
        f"-- {name}; stack start-up (etcd, apiserver, CRDs, manifests, interceptors, sink)"
        f" {result['startup_s']:.1f} s"
    )
    if not lat:
        print(f"   no TaskRun seen for any of {events} events (lost {result['lost']})")
        return False
    print(
        f"   webhook -> TaskRun created (seen by LIST), {len(lat)} sequential push events,"
        f" lost {result['lost']}: p50 {percentile(lat, 50):.1f} ms  p90 {percentile(lat, 90):.1f} ms"
        f"  p99 {percentile(lat, 99):.1f} ms  max {max(lat):.1f} ms  mean {statistics.fmean(lat):.1f} ms"
    )
    print(
        f"   webhook -> ADDED on a TaskRun watch: p50 {percentile(watch, 50):.1f} ms"
        f"  p99 {percentile(watch, 99):.1f} ms;  sink's 202: p50 {percentile(ans, 50):.1f} ms"
        f"  p99 {percentile(ans, 99):.1f} ms"
    )
    burst = result["burst"]
    blat = [v * 1000 for v in burst["latencies"]]
    if blat:
        print(
            f"   burst of {burst['count']} pushes at once: last TaskRun after {burst['span']:.2f} s"
            f" ({len(blat) / burst['span']:.1f} TaskRuns/s), per event p50 {percentile(blat, 50):.0f} ms"
            f"  p99 {percentile(blat, 99):.0f} ms, lost {burst['lost']}"
        )
    return result["lost"] == 0 and burst["lost"] == 0


def main() -> int:
    events = int(os.environ.get("BENCH_E2E_EVENTS", "200"))
    ok = True
    for name, sink_env in CONFIGS:
        with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
            ok &= report(name, run(events, Path(tmp), sink_env), events)
    return 0 if ok else 1
