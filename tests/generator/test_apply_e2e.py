"""The rendered manifests on a real kube-apiserver (with the Tekton CRDs): they apply, and the RBAC they
grant is evaluated by the API server's own authorizer: each actor can do its job and nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from generator.render import render_objects
from generator.values import load_values
from tests.infra.controlplane import ControlPlane, ControlPlaneError, find_tools, start_control_plane

from .conftest import VALUES_DIR


@pytest.fixture(scope="module")
def kube_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A control plane of this module's own: the renders applied here include cluster-scoped objects
    (the ClusterInterceptor ``peribolos``, ClusterRoles) that would rewire the shared one's EventListener
    tests, whatever order the tests run in."""
    try:
        plane = start_control_plane(tmp_path_factory.mktemp("generator-plane"), find_tools())
    except ControlPlaneError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield plane
    finally:
        plane.stop()

# Route is OpenShift's kind: no CRD for it here.
APPLY_CASES = ["defaults", "ghes-ingress", "external-interceptor", "dry-run-only", "pinned-scheduled"]


OPERATOR_GROUP = "monitoring.coreos.com/"
"""prometheus-operator's kinds (ServiceMonitor, PrometheusRule): no CRD for them here; test_render checks
what they select."""


def _objects(case: str, namespace: str) -> list[dict[str, Any]]:
    files = [] if case == "defaults" else [VALUES_DIR / f"{case}.yaml"]
    values = load_values(files, [f"namespace={namespace}"])
    return [obj for group in render_objects(values).values() for obj in group
            if not obj["apiVersion"].startswith(OPERATOR_GROUP)]


@pytest.mark.parametrize("case", APPLY_CASES)
def test_rendered_manifests_apply(kube_apiserver: Any, case: str) -> None:
    namespace = f"gen-{case}"
    objects = _objects(case, namespace)
    if not any(o["kind"] == "Namespace" for o in objects):  # createNamespace: false: the platform's
        token_namespace = next(o["metadata"]["namespace"] for o in objects if o["kind"] == "Role"
                               and o["metadata"]["name"] == "peribolos-refresher")
        kube_apiserver.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
                              for n in (namespace, token_namespace)])
    applied = kube_apiserver.apply(objects, field_manager="peribolos-generate-test")
    assert [(a["kind"], a["metadata"]["name"]) for a in applied] == [
        (o["kind"], o["metadata"]["name"]) for o in objects
    ]


def _allowed(
    kube_apiserver: Any,
    namespace: str,
    account: str,
    verb: str,
    group: str,
    resource: str,
    target_namespace: str | None,
) -> bool:
    from kubernetes import client

    api = client.AuthorizationV1Api(kube_apiserver.api_client())
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=f"system:serviceaccount:{namespace}:{account}",
            groups=["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
            resource_attributes=client.V1ResourceAttributes(
                verb=verb, group=group, resource=resource, namespace=target_namespace
            ),
        )
    )
    return bool(api.create_subject_access_review(review).status.allowed)


@pytest.fixture(scope="module")
def rbac_namespace(kube_apiserver: Any) -> str:
    """The defaults applied once into their own namespace."""
    namespace = "gen-rbac"
    kube_apiserver.apply(_objects("defaults", namespace), field_manager="peribolos-generate-test")
    return namespace


HERE = "<own namespace>"
TOKENS = "<token namespace>"
# (account, verb, API group, resource, namespace (HERE, TOKENS, other, or None = cluster), allowed)
ACCESS = [
    ("peribolos-eventlistener", "create", "tekton.dev", "taskruns", HERE, True),
    ("peribolos-eventlistener", "list", "triggers.tekton.dev", "triggertemplates", HERE, True),
    ("peribolos-eventlistener", "watch", "triggers.tekton.dev", "clusterinterceptors", None, True),
    ("peribolos-eventlistener", "delete", "tekton.dev", "taskruns", HERE, False),
    ("peribolos-eventlistener", "get", "", "secrets", HERE, False),
    ("peribolos-eventlistener", "create", "", "pods", HERE, False),
    ("peribolos-eventlistener", "create", "tekton.dev", "taskruns", "default", False),
    ("peribolos-install", "get", "", "secrets", TOKENS, True),
    ("peribolos-install", "patch", "", "secrets", TOKENS, True),
    ("peribolos-install", "get", "", "secrets", HERE, False),
    ("peribolos-install", "list", "", "secrets", TOKENS, False),
    ("peribolos-uninstall", "delete", "", "secrets", TOKENS, True),
    ("peribolos-uninstall", "delete", "", "secrets", HERE, False),
    ("peribolos-sync", "get", "", "secrets", HERE, False),
    ("peribolos-sync", "get", "", "secrets", TOKENS, False),
    ("peribolos-sync", "update", "coordination.k8s.io", "leases", HERE, True),
    ("peribolos-sync", "create", "tekton.dev", "taskruns", HERE, False),
    ("peribolos-refresher", "list", "", "secrets", TOKENS, True),
    ("peribolos-refresher", "patch", "", "secrets", TOKENS, True),
    ("peribolos-refresher", "list", "", "secrets", HERE, False),
    ("peribolos-refresher", "watch", "", "secrets", TOKENS, False),
    ("peribolos-refresher", "list", "", "secrets", None, False),
    ("peribolos-refresher", "list", "", "pods", HERE, False),
    ("peribolos-interceptor", "get", "", "secrets", HERE, False),
    ("peribolos-interceptor", "get", "", "configmaps", HERE, False),
    ("peribolos-exporter", "watch", "tekton.dev", "taskruns", HERE, True),
    ("peribolos-exporter", "list", "batch", "jobs", HERE, True),
    ("peribolos-exporter", "get", "", "secrets", HERE, False),
    ("peribolos-exporter", "list", "", "configmaps", HERE, False),
    ("peribolos-exporter", "create", "tekton.dev", "taskruns", HERE, False),
]
# (account, verb, ConfigMap name, allowed): the budget and the status are named objects.
CONFIG_MAP_ACCESS = [
    ("peribolos-install", "get", "peribolos-mint-budget", True),
    ("peribolos-sync", "update", "peribolos-mint-budget", True),
    ("peribolos-refresher", "update", "peribolos-mint-budget", True),
    ("peribolos-refresher", "update", "peribolos-refresher-status", True),
    ("peribolos-exporter", "get", "peribolos-mint-budget", True),
    ("peribolos-exporter", "get", "peribolos-refresher-status", True),
    ("peribolos-exporter", "update", "peribolos-mint-budget", False),
    ("peribolos-sync", "update", "peribolos-refresher-status", False),
    ("peribolos-install", "update", "config-logging-triggers", False),
    ("peribolos-sync", "create", "", False),
    ("peribolos-uninstall", "get", "peribolos-mint-budget", False),
    ("peribolos-refresher", "create", "", False),
    ("peribolos-eventlistener", "update", "peribolos-mint-budget", False),
    ("peribolos-interceptor", "get", "peribolos-mint-budget", False),
]


@pytest.mark.parametrize(
    ("account", "verb", "group", "resource", "where", "allowed"),
    [pytest.param(*row, id=f"{row[0]}-{row[1]}-{row[3]}-{'yes' if row[5] else 'no'}") for row in ACCESS],
)
def test_rbac_grants_each_actor_its_job_and_nothing_more(
    kube_apiserver: Any,
    rbac_namespace: str,
    account: str,
    verb: str,
    group: str,
    resource: str,
    where: str | None,
    allowed: bool,
) -> None:
    namespace = rbac_namespace
    target = {HERE: namespace, TOKENS: f"{namespace}-tokens"}.get(where, where)
    assert _allowed(kube_apiserver, namespace, account, verb, group, resource, target) is allowed


@pytest.mark.parametrize(
    ("account", "verb", "name", "allowed"),
    [pytest.param(*row, id=f"{row[0]}-{row[1]}-{row[2] or 'any'}-{'yes' if row[3] else 'no'}")
     for row in CONFIG_MAP_ACCESS],
)
def test_only_the_minters_may_change_the_budget_and_nobody_may_create_config_maps(
    kube_apiserver: Any, rbac_namespace: str, account: str, verb: str, name: str, allowed: bool
) -> None:
    from kubernetes import client

    api = client.AuthorizationV1Api(kube_apiserver.api_client())
    review = client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user=f"system:serviceaccount:{rbac_namespace}:{account}",
        groups=["system:serviceaccounts", f"system:serviceaccounts:{rbac_namespace}", "system:authenticated"],
        resource_attributes=client.V1ResourceAttributes(
            verb=verb, group="", resource="configmaps", namespace=rbac_namespace, name=name or None),
    ))
    assert bool(api.create_subject_access_review(review).status.allowed) is allowed


def test_the_documented_prune_command_removes_what_is_no_longer_rendered_and_nothing_else(
    kube_apiserver: Any, tmp_path: Any
) -> None:
    """docs/operations.md's `kubectl apply -k ... --prune`, as written, on the real API server."""
    import subprocess

    from kubernetes import client

    from peribolos_core.token_secret import build_secret

    from .test_docs import _prune
    from .test_kustomize import _render, kubectl

    def run(argv: list[str]) -> None:
        done = subprocess.run(
            [kubectl(), "--kubeconfig", str(kube_apiserver.kubeconfig), *argv[1:]],
            capture_output=True, text=True, timeout=180, check=False,
        )
        assert done.returncode == 0, done.stderr

    documented = _prune()
    folder = str(_render(tmp_path / "manifests", "namespace=peribolos"))
    other = str(_render(tmp_path / "other", "namespace=other-install"))
    run(["kubectl", "apply", "-k", other])
    run(["kubectl", "apply", "-k", folder])
    core = client.CoreV1Api(kube_apiserver.api_client())
    token = build_secret(1001, "t0k3n", datetime(2030, 1, 1, tzinfo=UTC), "octo-org", "Organization")
    core.create_namespaced_secret("peribolos-tokens", token)
    _render(tmp_path / "manifests", "namespace=peribolos", "refresher.enabled=false", "prune.enabled=false",
            "networkPolicy.enabled=false")
    run([folder if arg == "manifests.new/" else arg for arg in documented])

    api = kube_apiserver.api_client()
    batch, rbac = client.BatchV1Api(api), client.RbacAuthorizationV1Api(api)
    assert batch.list_namespaced_cron_job("peribolos").items == []
    assert client.NetworkingV1Api(api).list_namespaced_network_policy("peribolos").items == []
    roles = {r.metadata.name for r in rbac.list_namespaced_role("peribolos").items}
    assert roles == {"peribolos-eventlistener", "peribolos-sync", "peribolos-mint-budget",
                     "peribolos-exporter"}
    token_roles = {r.metadata.name for r in rbac.list_namespaced_role("peribolos-tokens").items}
    assert token_roles == {"peribolos-install", "peribolos-uninstall"}, "the refresher's is pruned there too"
    config_maps = {c.metadata.name for c in core.list_namespaced_config_map("peribolos").items}
    assert "peribolos-refresher-status" not in config_maps and "peribolos-mint-budget" in config_maps
    # Kept: what is still rendered, the namespace, the Secrets, and the other install entirely.
    assert client.AppsV1Api(api).read_namespaced_deployment("peribolos-interceptor", "peribolos")
    assert core.read_namespace("peribolos")
    assert core.read_namespaced_secret(token["metadata"]["name"], "peribolos-tokens")
    assert batch.read_namespaced_cron_job("peribolos-token-refresher", "other-install")
    assert rbac.read_cluster_role("peribolos-eventlistener-other-install")
    custom = client.CustomObjectsApi(api)
    for name in ("peribolos", "peribolos-other-install"):
        assert custom.get_cluster_custom_object("triggers.tekton.dev", "v1alpha1", "clusterinterceptors",
                                                name)
