"""The Tekton objects wrapper on the real kube-apiserver: pages, conflicts, deletions of the object seen
only, and answers that are no Kubernetes object."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from peribolos_core.errors import KubeConflict, KubeError, KubeNotFound
from tekton.maintenance.tekton_api import TektonObjects
from tests.not_kube import ANSWERS, not_a_kube_apiserver


def test_a_listing_reads_every_page(kube_apiserver, namespace, make_taskrun) -> None:
    made = {make_taskrun()["metadata"]["name"] for _ in range(5)}
    tekton = TektonObjects(client.CustomObjectsApi(kube_apiserver.api_client()), namespace, page_size=2)
    assert {t["metadata"]["name"] for t in tekton.taskruns("peribolos.dev/action=sync")} == made
    assert tekton.request_count == 3


def test_a_taskrun_of_an_existing_name_is_a_conflict(admin_tekton, make_taskrun) -> None:
    existing = make_taskrun()
    again = {"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
             "metadata": {"name": existing["metadata"]["name"]},
             "spec": {"taskRef": {"kind": "Task", "name": "peribolos-sync"}}}
    with pytest.raises(KubeConflict, match=existing["metadata"]["name"]):
        admin_tekton.create_taskrun(again)


def test_only_the_object_seen_is_deleted(admin_tekton, make_taskrun) -> None:
    seen = make_taskrun()
    name = seen["metadata"]["name"]
    assert admin_tekton.delete_taskrun(name, "00000000-0000-0000-0000-000000000000") is False  # another uid
    assert name in {t["metadata"]["name"] for t in admin_tekton.taskruns("peribolos.dev/action")}
    assert admin_tekton.delete_taskrun(name, seen["metadata"]["uid"]) is True
    assert admin_tekton.delete_taskrun(name, seen["metadata"]["uid"]) is False  # gone already


def test_a_missing_template_is_not_found(admin_tekton) -> None:
    with pytest.raises(KubeNotFound, match=r"TriggerTemplate .*/nope"):
        admin_tekton.trigger_template("nope")


@pytest.mark.parametrize("answer", sorted(ANSWERS), ids=sorted(ANSWERS))
def test_a_server_that_is_no_apiserver_is_a_kube_error(answer: str, tmp_path) -> None:
    body, content_type = ANSWERS[answer]
    with not_a_kube_apiserver(tmp_path, body, content_type) as kubeconfig:
        tekton = TektonObjects.connect(str(kubeconfig), "ns")
        with pytest.raises(KubeError, match="not a Kubernetes object"):
            list(tekton.taskruns("a=b"))


class _Looping:
    """A list answer that always hands back the same continue token (a broken proxy, a buggy server)."""

    def list_namespaced_custom_object(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"kind": "TaskRunList", "items": [{"metadata": {"name": "x"}}],
                "metadata": {"continue": "same"}}


def test_a_continue_token_seen_before_ends_the_listing() -> None:
    tekton = TektonObjects(_Looping(), "ns")  # type: ignore[arg-type]
    with pytest.raises(KubeError, match="continue token it gave before"):
        list(tekton.taskruns("a=b"))
