"""Which webhook makes which TaskRun, through the real EventListener, Tekton's core GitHub interceptor and
ours, on the real cluster. These tests only look at the TaskRuns the sink creates: each is cancelled as
soon as it is seen (its Pod is not this test's concern) and removed afterwards."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from tests.e2e import payloads
from tests.e2e.conftest import INSTALLATION_ID, ORG, OTHER_ORG, OTHER_ORG_INSTALLATION_ID
from tests.e2e.pods import by_delivery, taskruns, wait_taskruns
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub
from tests.infra.cluster import Cluster
from tests.infra.product import Product, install_with_fake_github

pytestmark = pytest.mark.e2e
BAD_SIGNATURE = "sha256=" + "0" * 64


def _cancel_and_delete(product: Product, delivery: str) -> None:
    custom = client.CustomObjectsApi(product.cluster.api_client())
    for run in taskruns(product.cluster, product.namespace):
        if by_delivery(delivery)(run):
            name = run["metadata"]["name"]
            custom.delete_namespaced_custom_object("tekton.dev", "v1", product.namespace, "taskruns", name)


def _deliver(product: Product, event: str, payload: dict[str, Any], signature: str | None = None) -> str:
    if signature is None:
        delivery, response = product.send_webhook(event, payload)
    else:
        delivery = str(uuid.uuid4())
        _, response = product.send_webhook(
            event,
            payload,
            delivery_id=delivery,
            signed=False,
            extra_headers={"X-Hub-Signature-256": signature} if signature else {},
        )
    assert response.status_code == 202, response.text
    return delivery


def _made_for(product: Product, delivery: str, task: str, settle: float = 1.5) -> list[str]:
    """The Tasks of every TaskRun made for ``delivery``, once the one of ``task`` exists and the other
    Triggers of the same event (they run concurrently) have had time to fire too."""
    found = wait_taskruns(
        product.cluster, product.namespace, by_delivery(delivery), timeout=30, settle=settle
    )
    _cancel_and_delete(product, delivery)
    assert task in [run["spec"]["taskRef"]["name"] for run in found]
    return sorted(run["spec"]["taskRef"]["name"] for run in found)


@pytest.mark.parametrize(
    ("event", "make", "task"),
    [
        pytest.param(
            "installation",
            lambda: payloads.installation("created", OTHER_ORG_INSTALLATION_ID, OTHER_ORG),
            "peribolos-install",
            id="installation-created",
        ),
        pytest.param(
            "installation",
            lambda: payloads.installation("deleted", OTHER_ORG_INSTALLATION_ID, OTHER_ORG),
            "peribolos-uninstall",
            id="installation-deleted",
        ),
        *[
            pytest.param(
                "installation",
                lambda action=action: payloads.installation(action, OTHER_ORG_INSTALLATION_ID, OTHER_ORG),
                task,
                id=f"installation-{action}",
            )
            for action, task in (
                ("suspend", "peribolos-uninstall"),
                ("unsuspend", "peribolos-install"),
                ("new_permissions_accepted", "peribolos-install"),
            )
        ],
        pytest.param(
            "installation_repositories",
            lambda: payloads.installation_repositories("added", OTHER_ORG_INSTALLATION_ID, OTHER_ORG),
            "peribolos-install",
            id="repositories-added-re-mints",
        ),
        pytest.param(
            "push",
            lambda: payloads.push(INSTALLATION_ID, ORG, after=payloads.sha(str(uuid.uuid4()))),
            "peribolos-sync",
            id="push",
        ),
        pytest.param(
            "pull_request",
            lambda: payloads.pull_request(INSTALLATION_ID, ORG, head_sha=payloads.sha("pr")),
            "peribolos-dry-run",
            id="pull-request",
        ),
        pytest.param(
            "check_run",
            lambda: payloads.check_run_rerequested(
                INSTALLATION_ID, ORG, name="peribolos/sync", app_id=int(APP_ID)
            ),
            "peribolos-sync",
            id="check-run-sync-rerequested",
        ),
        pytest.param(
            "check_run",
            lambda: payloads.check_run_rerequested(
                INSTALLATION_ID, ORG, name="peribolos/dry-run", app_id=int(APP_ID), pull=7
            ),
            "peribolos-dry-run",
            id="check-run-dry-run-rerequested",
        ),
    ],
)
def test_one_event_makes_exactly_one_taskrun(
    product: Product, event: str, make: Callable[[], Any], task: str
) -> None:
    """Every Trigger of the EventListener calls the interceptors; only the one whose action matches fires
    (a push that also made an uninstall TaskRun would delete the org's token)."""
    assert _made_for(product, _deliver(product, event, make()), task) == [task]


IGNORED = [
    pytest.param(
        "push", lambda: payloads.push(INSTALLATION_ID, ORG, repo="website"), None, id="push-other-repo"
    ),
    pytest.param(
        "push",
        lambda: payloads.push(INSTALLATION_ID, ORG, ref="refs/heads/feature"),
        None,
        id="push-other-branch",
    ),
    pytest.param(
        "push",
        lambda: payloads.push(INSTALLATION_ID, ORG, modified=("README.md",)),
        None,
        id="push-not-touching-config",
    ),
    pytest.param("push", lambda: payloads.push(INSTALLATION_ID, ORG), BAD_SIGNATURE, id="bad-signature"),
    pytest.param("push", lambda: payloads.push(INSTALLATION_ID, ORG), "", id="no-signature"),
    pytest.param("ping", payloads.ping, None, id="ping"),
    pytest.param(
        "pull_request",
        lambda: payloads.pull_request(INSTALLATION_ID, ORG, base="develop"),
        None,
        id="pull-request-to-other-branch",
    ),
    pytest.param(
        "check_run",
        lambda: payloads.check_run_rerequested(INSTALLATION_ID, ORG, name="peribolos/sync", app_id=999),
        None,
        id="check-run-of-another-app",
    ),
]


def _assert_ignored(product: Product, event: str, payload: dict[str, Any], signature: str | None) -> None:
    """The sink still answers 202 and no TaskRun appears: a marker event sent right after is processed
    (so the ignored one had its chance), then nothing carries the ignored delivery id."""
    ignored = _deliver(product, event, payload, signature)
    marker = _deliver(
        product, "push", payloads.push(INSTALLATION_ID, ORG, after=payloads.sha(str(uuid.uuid4())))
    )
    _made_for(product, marker, "peribolos-sync", settle=0.5)
    time.sleep(0.5)
    assert [
        r["metadata"]["name"] for r in taskruns(product.cluster, product.namespace) if by_delivery(ignored)(r)
    ] == []


@pytest.mark.parametrize(("event", "make", "signature"), IGNORED)
def test_events_peribolos_ignores_make_no_taskrun(
    product: Product, event: str, make: Callable[[], Any], signature: str | None
) -> None:
    _assert_ignored(product, event, make(), signature)


@pytest.fixture(scope="session")
def product_without_github_interceptor(
    cluster: Cluster,
    cluster_github: FakeGitHub,
    app_key: Any,
    product: Product,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Product]:
    """A second install in namespace ``team-b``, without Tekton's core GitHub interceptor: ours alone
    checks every signature. Two installs on one cluster, as docs/operations.md describes them."""
    yield install_with_fake_github(
        cluster,
        tmp_path_factory.mktemp("team-b"),
        cluster_github,
        app_id=APP_ID,
        app_key=app_key,
        overrides={"namespace": "team-b", "eventListener": {"githubInterceptor": False}},
    )


@pytest.mark.parametrize(
    "signature", [pytest.param(BAD_SIGNATURE, id="bad-signature"), pytest.param("", id="no-signature")]
)
def test_our_interceptor_alone_refuses_unsigned_webhooks(
    product_without_github_interceptor: Product, signature: str
) -> None:
    _assert_ignored(
        product_without_github_interceptor, "push", payloads.push(INSTALLATION_ID, ORG), signature
    )


def test_two_installs_keep_their_own_cluster_interceptor(
    product: Product, product_without_github_interceptor: Product, cluster: Cluster
) -> None:
    custom = client.CustomObjectsApi(cluster.api_client())
    items = custom.list_cluster_custom_object("triggers.tekton.dev", "v1alpha1", "clusterinterceptors")[
        "items"
    ]
    ours = {
        i["metadata"]["name"]: i["spec"]["clientConfig"]["service"]["namespace"]
        for i in items
        if "service" in i["spec"].get("clientConfig", {}) and i["metadata"]["name"].startswith("peribolos")
    }
    assert ours == {"peribolos": "peribolos", "peribolos-team-b": "team-b"}
    delivery = _deliver(
        product_without_github_interceptor,
        "push",
        payloads.push(INSTALLATION_ID, ORG, after=payloads.sha(str(uuid.uuid4()))),
    )
    assert _made_for(product_without_github_interceptor, delivery, "peribolos-sync") == ["peribolos-sync"]
    assert not [r for r in taskruns(cluster, product.namespace) if by_delivery(delivery)(r)]
