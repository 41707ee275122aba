"""Metrics scraped from the real Pods (issue 13): the exporter Deployment counts a TaskRun Tekton ran, shows
the refresher Job's run and the App-wide mint budget; the interceptor's /metrics counts the decision.

The exporter is scraped through its Service, as Prometheus would (the test cluster enforces no
NetworkPolicy, so the rule admitting the scraper's namespace is checked in the render's tests).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e import payloads
from tests.e2e.conftest import INSTALLATION_ID, ORG
from tests.e2e.pods import by_delivery, wait_finished, wait_taskruns
from tests.e2e.refresh import budget_window, make_due
from tests.infra.cluster import Cluster
from tests.infra.product import Product

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _service_url(cluster: Cluster, namespace: str, name: str) -> str:
    spec = json.loads(cluster.kubectl("-n", namespace, "get", "service", name, "-o", "json").stdout)["spec"]
    return f"http://{spec['clusterIP']}:{spec['ports'][0]['port']}"


def _scrape(url: str) -> Samples:
    text = requests.get(url + "/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def _eventually(url: str, check: Any, timeout: float = 60) -> Samples:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = _scrape(url)
        except requests.ConnectionError:
            # A Deployment just Available: kube-proxy may not have its Service's endpoint yet (refused).
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
            continue
        if check(found) or time.monotonic() > deadline:
            return found
        time.sleep(1)


def test_metrics_of_what_runs_are_scraped_from_the_real_pods(product: Product, cluster: Cluster) -> None:
    namespace = product.namespace
    cluster.wait_available(namespace, ["peribolos-exporter"], timeout=180)
    exporter = _service_url(cluster, namespace, "peribolos-exporter")
    install = _key("peribolos_taskruns_completed_total", action="install", outcome="succeeded")
    before = _eventually(exporter, lambda s: install in s).get(install, 0)

    delivery, response = product.send_webhook("installation",
                                              payloads.installation("created", INSTALLATION_ID, ORG))
    assert response.status_code == 202
    (taskrun,) = wait_taskruns(cluster, namespace, by_delivery(delivery), timeout=60)
    finished = wait_finished(cluster, namespace, taskrun["metadata"]["name"], timeout=180)
    assert finished.succeeded, finished.reason

    # The refresher as its CronJob runs it, with the token made due so that it mints.
    assert INSTALLATION_ID in make_due(client.CoreV1Api(cluster.api_client()), product.token_namespace)
    job = f"metrics-{int(time.time())}"
    cluster.kubectl("-n", namespace, "create", "job", job, "--from=cronjob/peribolos-token-refresher")
    cluster.kubectl("-n", namespace, "wait", "--for=condition=Complete", f"job/{job}", "--timeout=180s",
                    timeout=200)

    found = _eventually(exporter, lambda s: s.get(install, 0) >= before + 1
                        and s.get(_key("peribolos_refresher_last_job_succeeded")) == 1)
    assert found[install] == before + 1
    assert found[_key("peribolos_taskrun_duration_seconds_count", action="install", outcome="succeeded")] >= 1
    assert found[_key("peribolos_refresher_last_job_succeeded")] == 1
    assert found[_key("peribolos_refresher_last_run_installations", result="refreshed")] >= 1
    assert found[_key("peribolos_refresher_last_run_exit_code")] == 0
    assert found[_key("peribolos_refresher_last_run_tokens_minted")] >= 1
    # A token the run just minted: about a minute old at most.
    assert found[_key("peribolos_refresher_oldest_token_age_seconds")] < 3600 - 900
    # The install step's and the refresher's mints went through the one App-wide budget (its slots stay
    # in the ConfigMap until a later mint forgets them).
    assert len(budget_window(client.CoreV1Api(cluster.api_client()), namespace).slots) >= 2
    assert found[_key("peribolos_mint_budget_per_minute")] == 150
    assert not any(k[0] == "peribolos_exporter_read_errors_total" and v for k, v in found.items())

    # Each interceptor replica counts its own decisions: scrape every Pod, as a PodMonitor would.
    listed = cluster.kubectl("-n", namespace, "get", "pods", "-l", "app.kubernetes.io/component=interceptor",
                             "-o", "json")
    pods = json.loads(listed.stdout)["items"]
    assert len(pods) == 2
    made = 0.0
    for pod in pods:
        for (name, labels), value in _scrape(f"http://{pod['status']['podIP']}:8080").items():
            if name == "peribolos_interceptor_decisions_total" and dict(labels).get("action") == "install":
                made += value
    assert made >= 1
