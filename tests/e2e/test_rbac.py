"""SubjectAccessReviews, asked of the real RBAC authorizer, for every identity the default render creates
(applied server-side to the real API server, in a namespace of its own): what each may do, what it may
not, and that none can read the App key Secret through the API (get, list, watch, and update/patch/delete,
which answer with the object)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from tests.infra.controlplane import ControlPlane
from tests.infra.product import render_manifests

pytestmark = pytest.mark.e2e

NS, TOKENS = "rbac-defaults", "rbac-defaults-tokens"
APP_KEY = "peribolos-github-app"
IDENTITIES = (
    "peribolos-eventlistener",
    "peribolos-interceptor",
    "peribolos-install",
    "peribolos-uninstall",
    "peribolos-sync",
    "peribolos-refresher",
)
LEASES = ("coordination.k8s.io", "leases")
SECRETS = ("", "secrets")
# identity → (verb, (group, resource), namespace) it may do; everything of CHECKED not listed is denied.
ALLOWED: dict[str, set[tuple[str, tuple[str, str], str | None]]] = {
    "peribolos-eventlistener": {
        ("create", ("tekton.dev", "taskruns"), NS),
        ("get", ("triggers.tekton.dev", "triggertemplates"), NS),
        ("list", ("", "configmaps"), NS),
        ("watch", ("triggers.tekton.dev", "clusterinterceptors"), None),
    },
    "peribolos-interceptor": set(),
    "peribolos-install": {(verb, SECRETS, TOKENS) for verb in ("get", "create", "update", "patch")},
    "peribolos-uninstall": {("delete", SECRETS, TOKENS)},
    "peribolos-sync": {
        ("get", LEASES, NS),
        ("create", LEASES, NS),
        ("update", LEASES, NS),
        ("get", ("", "pods/log"), NS),
    },
    "peribolos-refresher": {
        (verb, SECRETS, TOKENS) for verb in ("get", "list", "create", "update", "patch", "delete")
    },
}
CHECKED = sorted(
    {entry for entries in ALLOWED.values() for entry in entries}
    | {
        (verb, SECRETS, ns)
        for verb in ("get", "list", "watch", "create", "update", "patch", "delete")
        for ns in (NS, TOKENS)
    }
    | {
        ("delete", LEASES, NS),
        ("list", LEASES, NS),
        ("get", LEASES, TOKENS),
        ("create", ("", "pods"), NS),
        ("create", ("", "pods/exec"), NS),
        ("get", ("", "pods/log"), TOKENS),
        ("create", ("tekton.dev", "taskruns"), TOKENS),
        ("create", ("", "serviceaccounts/token"), NS),
        ("impersonate", ("", "serviceaccounts"), NS),
        ("update", ("tekton.dev", "tasks"), NS),
        ("create", ("rbac.authorization.k8s.io", "rolebindings"), NS),
        ("create", ("rbac.authorization.k8s.io", "rolebindings"), TOKENS),
        ("get", ("", "configmaps"), TOKENS),
    },
    key=str,
)


@pytest.fixture(scope="module")
def plane(kube_apiserver: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> ControlPlane:
    """The default render (only the namespace set), applied, with the App Secret it names."""
    docs = render_manifests(tmp_path_factory.mktemp("rbac") / "manifests", {"namespace": NS})
    # Namespaces first, then the rest (server-side apply: the API server validates every object).
    kube_apiserver.apply([d for d in docs if d["kind"] == "Namespace"])
    kube_apiserver.apply([d for d in docs if d["kind"] != "Namespace"])
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": APP_KEY, "namespace": NS},
        "stringData": {"app-id": "1", "private-key.pem": "x", "webhook-secret": "y"},
    }
    kube_apiserver.apply([secret])
    return kube_apiserver


def _allowed(
    plane: ControlPlane,
    identity: str,
    verb: str,
    group: str,
    resource: str,
    namespace: str | None,
    name: str | None = None,
) -> bool:
    subresource = None
    if "/" in resource:
        resource, subresource = resource.split("/", 1)
    review = client.AuthorizationV1Api(plane.api_client()).create_subject_access_review(
        client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user=f"system:serviceaccount:{NS}:{identity}",
                groups=["system:serviceaccounts", f"system:serviceaccounts:{NS}", "system:authenticated"],
                resource_attributes=client.V1ResourceAttributes(
                    verb=verb,
                    group=group,
                    resource=resource,
                    subresource=subresource,
                    namespace=namespace,
                    name=name,
                ),
            )
        )
    )
    return bool(review.status.allowed)


@pytest.mark.parametrize("identity", IDENTITIES)
def test_each_identity_may_do_exactly_its_part(plane: ControlPlane, identity: str) -> None:
    wrong = []
    for verb, (group, resource), namespace in CHECKED:
        expected = (verb, (group, resource), namespace) in ALLOWED[identity]
        if _allowed(plane, identity, verb, group, resource, namespace) is not expected:
            wrong.append(f"{verb} {group or 'core'}/{resource} in {namespace}: expected allowed={expected}")
    assert wrong == []


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("verb", ["get", "list", "watch", "update", "patch", "delete"])
def test_no_identity_can_read_the_app_key(plane: ControlPlane, identity: str, verb: str) -> None:
    """update, patch and delete answer with the object, so they are reads too."""
    name = None if verb in ("list", "watch") else APP_KEY
    assert not _allowed(plane, identity, verb, "", "secrets", NS, name)


def test_the_render_made_every_identity_and_they_mount_no_token_by_default(plane: ControlPlane) -> None:
    core = client.CoreV1Api(plane.api_client())
    accounts: dict[str, Any] = {a.metadata.name: a for a in core.list_namespaced_service_account(NS).items}
    assert set(IDENTITIES) <= set(accounts)
    for identity in IDENTITIES:
        expected = None if identity == "peribolos-eventlistener" else False
        assert accounts[identity].automount_service_account_token is expected, identity
