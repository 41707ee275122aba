"""The product on the real cluster: signed webhooks to the EventListener's Service, TaskRuns that Tekton's
controller turns into Pods, our image's steps and peribolos' image run by Tekton's entrypoint on the node.

Every scenario starts from a webhook GitHub would send and ends at what GitHub (the fake) or the cluster
shows: a token Secret, an org converged, a check run, a Job the controller manager made from the CronJob.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from kubernetes import client

from peribolos_core.token_secret import parse_secret, secret_name
from tests.e2e import payloads
from tests.e2e.conftest import INSTALLATION_ID, ORG
from tests.e2e.pods import by_delivery, step_log, wait_finished, wait_taskruns
from tests.e2e.refresh import make_due
from tests.fakes.github import FakeGitHub
from tests.infra.cluster import Cluster
from tests.infra.product import Product

pytestmark = pytest.mark.e2e

CONFIG = "orgs:\n  octo-org:\n    admins: [alice, bob]\n    members: [carol]\n"


def _deliver(product: Product, event: str, payload: dict[str, Any]) -> str:
    delivery, response = product.send_webhook(event, payload)
    assert response.status_code == 202, response.text
    return delivery


def _run_of(product: Product, delivery: str, task: str, timeout: float = 60) -> Any:
    (taskrun,) = wait_taskruns(product.cluster, product.namespace, by_delivery(delivery), timeout=timeout)
    assert taskrun["spec"]["taskRef"]["name"] == task
    return wait_finished(product.cluster, product.namespace, taskrun["metadata"]["name"], timeout=180)


def _token_secret(product: Product) -> dict[str, Any] | None:
    core = client.CoreV1Api(product.cluster.api_client())
    try:
        obj = core.read_namespaced_secret(secret_name(INSTALLATION_ID), product.token_namespace)
    except client.exceptions.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return core.api_client.sanitize_for_serialization(obj)


def _installed(product: Product) -> dict[str, Any]:
    secret = _token_secret(product)
    if secret is None:
        finished = _run_of(
            product,
            _deliver(product, "installation", payloads.installation("created", INSTALLATION_ID, ORG)),
            "peribolos-install",
        )
        assert finished.succeeded, finished.reason
        secret = _token_secret(product)
    assert secret is not None
    return secret


def test_install_then_uninstall_run_in_real_pods(product: Product, cluster_github: FakeGitHub) -> None:
    created = payloads.installation("created", INSTALLATION_ID, ORG)
    finished = _run_of(product, _deliver(product, "installation", created), "peribolos-install")
    assert finished.succeeded, (
        finished.reason,
        step_log(product.cluster, product.namespace, finished, "install"),
    )
    assert finished.exit_codes == {"install": 0, "bootstrap": 0}
    stored = parse_secret(_token_secret(product))
    assert stored.installation_id == INSTALLATION_ID and stored.org == ORG
    assert cluster_github.token_is_valid(stored.token)
    log = step_log(product.cluster, product.namespace, finished, "install")
    assert "installation token stored" in log and stored.token not in log

    deleted = payloads.installation("deleted", INSTALLATION_ID, ORG)
    finished = _run_of(product, _deliver(product, "installation", deleted), "peribolos-uninstall")
    assert finished.succeeded, finished.reason
    assert _token_secret(product) is None
    _installed(product)  # the other scenarios need it


def test_a_push_of_the_config_converges_the_org(product: Product, cluster_github: FakeGitHub) -> None:
    _installed(product)
    cluster_github.add_org(ORG, admins=["alice", "bob"], members=[])
    push = cluster_github.push_commit(f"{ORG}/.github", {"peribolos.yaml": CONFIG})
    payload = payloads.push(INSTALLATION_ID, ORG, after=push.after)
    payload.update(push.webhook_fields())
    finished = _run_of(product, _deliver(product, "push", payload), "peribolos-sync")
    assert finished.succeeded, (finished.reason, finished.exit_codes)
    org = cluster_github.orgs[ORG.lower()]
    assert "carol" in org.members | set(org.invitations), "peribolos did not add carol"
    runs = [r for r in cluster_github.check_runs if r["head_sha"] == push.after]
    assert [(r["name"], r["status"], r["conclusion"]) for r in runs] == [
        ("peribolos/sync", "completed", "success")
    ]


def test_a_pull_request_gets_a_dry_run_check_and_changes_nothing(
    product: Product, cluster_github: FakeGitHub
) -> None:
    _installed(product)
    cluster_github.add_org(ORG, admins=["alice", "bob"], members=["carol"])
    change = CONFIG.replace("members: [carol]", "members: [carol, dave]")
    head = cluster_github.push_commit(f"{ORG}/.github", {"peribolos.yaml": change}, branch="add-dave")
    payload = payloads.pull_request(INSTALLATION_ID, ORG, head_sha=head.after)
    writes_before = len(
        [r for r in cluster_github.requests if r.method in ("PUT", "PATCH", "DELETE") and "/orgs/" in r.path]
    )
    finished = _run_of(product, _deliver(product, "pull_request", payload), "peribolos-dry-run")
    assert finished.exit_codes["peribolos"] == 0, finished.exit_codes
    runs = [r for r in cluster_github.check_runs if r["head_sha"] == head.after]
    assert [(r["name"], r["status"]) for r in runs] == [("peribolos/dry-run", "completed")]
    writes_after = len(
        [r for r in cluster_github.requests if r.method in ("PUT", "PATCH", "DELETE") and "/orgs/" in r.path]
    )
    assert writes_after == writes_before
    assert "dave" not in cluster_github.orgs[ORG.lower()].members


def test_the_refresher_runs_as_a_job_made_from_its_cronjob(product: Product) -> None:
    before = parse_secret(_installed(product))
    cluster = product.cluster
    assert INSTALLATION_ID in make_due(client.CoreV1Api(cluster.api_client()), product.token_namespace)
    name = f"refresh-{int(time.time())}"
    cluster.kubectl(
        "-n", product.namespace, "create", "job", name, "--from=cronjob/peribolos-token-refresher"
    )
    cluster.kubectl(
        "-n",
        product.namespace,
        "wait",
        "--for=condition=Complete",
        f"job/{name}",
        "--timeout=180s",
        timeout=200,
    )
    after = parse_secret(_token_secret(product))
    # Due now (make_due): the run re-mints it at once.
    assert after.expires_at >= before.expires_at and after.token != before.token
    pods = json.loads(
        cluster.kubectl("-n", product.namespace, "get", "pods", "-l", f"job-name={name}", "-o", "json").stdout
    )["items"]
    (pod,) = pods
    logs = cluster.kubectl("-n", product.namespace, "logs", pod["metadata"]["name"]).stdout
    summary = [json.loads(line) for line in logs.splitlines() if '"summary"' in line or "refresh run" in line]
    assert summary, logs[-2000:]
    assert after.token not in logs


def test_the_interceptor_is_ready_behind_its_service(product: Product, cluster: Cluster) -> None:
    import requests

    service = json.loads(
        cluster.kubectl(
            "-n", product.namespace, "get", "service", "peribolos-interceptor", "-o", "json"
        ).stdout
    )
    url = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"
    assert requests.get(url + "/readyz", timeout=5).status_code == 200
    slices = json.loads(
        cluster.kubectl(
            "-n",
            product.namespace,
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=peribolos-interceptor",
            "-o",
            "json",
        ).stdout
    )
    ready = [e for s in slices["items"] for e in s.get("endpoints") or [] if e["conditions"].get("ready")]
    assert len(ready) == 2  # interceptor.replicas


def test_the_namespace_pod_security_level_is_enforced_by_the_real_admission(
    product: Product, cluster: Cluster
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged-probe"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "peribolos.local/busybox:1.35.0",
                    "securityContext": {"privileged": True},
                }
            ]
        },
    }
    result = cluster.kubectl(
        "-n", product.namespace, "apply", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False
    )
    assert result.returncode != 0
    assert "violates PodSecurity" in result.stderr, result.stderr


def _org_writes(github: FakeGitHub) -> int:
    return len(
        [r for r in github.requests if r.method in ("POST", "PUT", "PATCH", "DELETE") and "/orgs/" in r.path]
    )


def test_a_push_of_the_config_the_org_already_has_writes_nothing(
    product: Product, cluster_github: FakeGitHub
) -> None:
    _installed(product)
    cluster_github.add_org(ORG, admins=["alice", "bob"], members=["carol"])
    push = cluster_github.push_commit(f"{ORG}/.github", {"peribolos.yaml": CONFIG + "# same people\n"})
    payload = payloads.push(INSTALLATION_ID, ORG, after=push.after)
    payload.update(push.webhook_fields())
    before = _org_writes(cluster_github)
    finished = _run_of(product, _deliver(product, "push", payload), "peribolos-sync")
    assert finished.succeeded, (finished.reason, finished.exit_codes)
    assert _org_writes(cluster_github) == before
