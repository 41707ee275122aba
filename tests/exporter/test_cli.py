"""The exporter as its Deployment runs it: the console script on the real kube-apiserver, as the rendered
ServiceAccount (its Role: TaskRuns, Jobs and two named ConfigMaps, no Secret), scraped over HTTP."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from generator.render import render_objects
from generator.values import load_values
from peribolos_core.config_maps import ConfigMaps
from peribolos_core.mint_budget import KubeMintBudget
from peribolos_core.run_status import RunStatus, RunStatusStore

SCRIPT = Path(sys.executable).parent / "peribolos-exporter"
BUDGET, STATUS = "peribolos-mint-budget", "peribolos-refresher-status"


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def installed(kube_apiserver: Any, namespace: str) -> Path:
    """The rendered exporter identity and the two ConfigMaps in ``namespace``; the SA's kubeconfig."""
    rendered = render_objects(load_values([], [f"namespace={namespace}"]))
    wanted = [o for o in rendered["exporter"] if o["kind"] in ("ServiceAccount", "Role", "RoleBinding")]
    wanted += [o for o in rendered["budget"] + rendered["refresher"] if o["kind"] == "ConfigMap"]
    kube_apiserver.apply(wanted, field_manager="test")
    return kube_apiserver.service_account_kubeconfig(namespace, "peribolos-exporter")


class Exporter:
    def __init__(self, proc: subprocess.Popen, port: int, lines: list[dict[str, Any]]) -> None:
        self.proc, self.url, self.lines = proc, f"http://127.0.0.1:{port}", lines

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = requests.get(self.url + "/metrics", timeout=10).text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(text) for s in f.samples}

    def wait_for(self, key: tuple[str, tuple[tuple[str, str], ...]], value: float, timeout: float = 20
                 ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.metrics().get(key) == value:
                return
            time.sleep(0.1)
        raise AssertionError(f"{key} never became {value}: {self.metrics().get(key)}")


@contextlib.contextmanager
def running(kubeconfig: Path, namespace: str) -> Iterator[Exporter]:
    """The console script with the rendered env's settings, on a free port, once it is ready."""
    lines: list[dict[str, Any]] = []
    proc = subprocess.Popen(
        [str(SCRIPT), "--host", "127.0.0.1", "--port", "0", "--namespace", namespace, "--kubeconfig",
         str(kubeconfig), "--mint-budget", BUDGET, "--refresher-status", STATUS],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    started = threading.Event()

    def read() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            if line.startswith("{"):
                lines.append(json.loads(line))
                started.set() if lines[-1].get("event") == "started" else None

    threading.Thread(target=read, daemon=True).start()
    assert started.wait(20), f"no start line: {lines}"
    found = Exporter(proc, lines[-1]["port"], lines)
    deadline = time.monotonic() + 20
    while requests.get(found.url + "/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "never ready"
        time.sleep(0.1)
    try:
        yield found
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


@pytest.fixture
def exporter(installed: Path, namespace: str) -> Iterator[Exporter]:
    with running(installed, namespace) as found:
        yield found


def _taskrun(custom: Any, namespace: str, name: str, action: str) -> None:
    body = {"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/component": "taskrun",
                                                  "peribolos.dev/action": action}},
            "spec": {"taskRef": {"name": f"peribolos-{action}"}}}
    custom.create_namespaced_custom_object("tekton.dev", "v1", namespace, "taskruns", body)


def _finish(custom: Any, namespace: str, name: str, status: str, reason: str) -> None:
    now = time.time()
    body = {"status": {"podName": f"{name}-pod", "startTime": _iso(now - 30), "completionTime": _iso(now),
                       "conditions": [{"type": "Succeeded", "status": status, "reason": reason}]}}
    custom.patch_namespaced_custom_object_status("tekton.dev", "v1", namespace, "taskruns", name, body)


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def test_taskruns_are_counted_as_they_finish_and_kept_ones_shown_by_state(
    kube_apiserver: Any, namespace: str, installed: Path
) -> None:
    custom = client.CustomObjectsApi(kube_apiserver.api_client())
    _taskrun(custom, namespace, "before-start", "sync")
    time.sleep(1.1)  # completion times have a second's resolution
    _finish(custom, namespace, "before-start", "False", "Failed")
    time.sleep(1.1)
    # Started after that run finished: it is shown, not counted (a restart would count it again).
    with running(installed, namespace) as found:
        failed_sync = key("peribolos_taskruns_completed_total", action="sync", outcome="failed")
        assert found.metrics()[failed_sync] == 0
        assert found.metrics()[key("peribolos_taskruns", action="sync", state="failed")] == 1

        _taskrun(custom, namespace, "push-1", "sync")
        found.wait_for(key("peribolos_taskruns", action="sync", state="pending"), 1)
        _finish(custom, namespace, "push-1", "False", "Failed")
        found.wait_for(failed_sync, 1)
        _taskrun(custom, namespace, "pr-1", "dry-run")
        _finish(custom, namespace, "pr-1", "True", "Succeeded")
        found.wait_for(key("peribolos_taskruns_completed_total", action="dry-run", outcome="succeeded"), 1)
        custom.delete_namespaced_custom_object("tekton.dev", "v1", namespace, "taskruns", "push-1")
        found.wait_for(key("peribolos_taskruns", action="sync", state="failed"), 1)
        assert found.metrics()[failed_sync] == 1  # a counter: deleting the run takes nothing back
        duration = key("peribolos_taskrun_duration_seconds_sum", action="sync", outcome="failed")
        assert 29 <= found.metrics()[duration] <= 31


def test_the_refreshers_run_jobs_and_the_budget_come_from_their_objects(
    kube_apiserver: Any, core_v1: Any, namespace: str, exporter: Exporter
) -> None:
    now = time.time()
    maps = ConfigMaps(core_v1, namespace)
    RunStatusStore(maps, STATUS).write(RunStatus(
        finished_at=now, duration_s=12.0, exit_code=0, counts={"refreshed": 7, "deferred": 1},
        tokens_minted=7, mint_requests=7, installations=9, below_margin=0, margin_s=900.0, interval_s=600.0,
        earliest_expiry=now + 1800.0))
    budget = KubeMintBudget(maps, BUDGET, 150)
    for _ in range(3):
        budget.acquire(time.time())
    batch = client.BatchV1Api(kube_apiserver.api_client())
    body = {"metadata": {"name": "refresh-1", "labels": {"app.kubernetes.io/component": "refresher"}},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "r", "image": "x"}]}}}}
    batch.create_namespaced_job(namespace, body)
    conditions = [{"type": kind, "status": "True", "lastTransitionTime": _iso(now), "reason": "BackoffLimit"}
                  for kind in ("FailureTarget", "Failed")]
    batch.patch_namespaced_job_status("refresh-1", namespace, {"status": {"conditions": conditions,
                                                                          "startTime": _iso(now - 5)}})

    found = exporter.metrics()
    assert found[key("peribolos_refresher_last_run_installations", result="refreshed")] == 7
    assert found[key("peribolos_refresher_last_run_installations", result="deferred")] == 1
    assert 1795 <= found[key("peribolos_refresher_oldest_token_age_seconds")] <= 1810
    assert found[key("peribolos_mint_budget_used")] == 3
    assert found[key("peribolos_refresher_last_job_succeeded")] == 0
    assert found[key("peribolos_refresher_jobs", state="failed")] == 1
    assert not any(k[0] == "peribolos_exporter_read_errors_total" and v for k, v in found.items())

    exporter.proc.send_signal(signal.SIGTERM)
    assert exporter.proc.wait(10) == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--namespace", "Not_A_Namespace"], "is not a valid namespace name"),
    (["--namespace", "ns", "--refresher-status", "Bad Name"], "--refresher-status / REFRESHER_STATUS"),
    (["--namespace", "ns", "--kubeconfig", "/no/such/kubeconfig"], "cannot load Kubernetes credentials"),
], ids=["bad-namespace", "bad-status-name", "no-kubeconfig"])
def test_bad_configuration_exits_2_with_one_line(args, message) -> None:
    done = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
