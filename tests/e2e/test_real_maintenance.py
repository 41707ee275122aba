"""Drift repair and pruning on the real cluster: the CronJobs as rendered, run as Jobs by the controller
manager, their TaskRuns run by Tekton's controller on the node (issue 12's "done when").

The install here is the product's, re-rendered with ``driftRepair.schedule`` set and a smaller prune count,
as a platform team would change its values; the original render is applied again afterwards.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from peribolos_core.token_secret import secret_name
from tekton.maintenance.tekton_api import TektonObjects
from tekton.maintenance.template import instantiate
from tests.e2e.conftest import INSTALLATION_ID, ORG
from tests.e2e.pods import wait_finished
from tests.e2e.test_real_pods import CONFIG, _installed
from tests.fakes.github import FakeGitHub
from tests.helpers import json_lines
from tests.infra.product import Product, console_script

pytestmark = pytest.mark.e2e

KEEP_SUCCESSFUL = 2
PRUNE_ORG_ID = 999001  # an installation with no Secret: its uninstall TaskRuns succeed without GitHub


def _render(product: Product, workdir: Path, overrides: dict[str, Any]) -> Path:
    values = json.loads(json.dumps(product.values))
    for key, value in overrides.items():
        values.setdefault(key, {}).update(value)
    values_file = workdir / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    out = workdir / "manifests"
    subprocess.run([console_script("peribolos-generate"), "render", "--values", str(values_file),
                    "--output-dir", str(out)], check=True, capture_output=True, timeout=120)
    return out / "maintenance.yaml"


@pytest.fixture(scope="module")
def maintained(product: Product, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    """The product with drift repair on and prune keeping KEEP_SUCCESSFUL successes; restored after."""
    manifest = _render(product, tmp_path_factory.mktemp("maintenance"), {
        "driftRepair": {"schedule": "0 3 * * *", "taskRunsPerMinute": 8},
        "prune": {"keepSuccessful": KEEP_SUCCESSFUL},
    })
    product.cluster.kubectl("apply", "-f", str(manifest))
    try:
        yield product
    finally:
        product.cluster.kubectl("-n", product.namespace, "delete", "cronjob,serviceaccount,role,rolebinding",
                                "peribolos-drift-repair", "--ignore-not-found")
        product.cluster.kubectl("apply", "-f", str(product.manifests / "maintenance.yaml"))


def _run_job(product: Product, cronjob: str) -> str:
    """A Job made from ``cronjob`` (as ``kubectl create job --from``), waited for; its name."""
    name = f"{cronjob.removeprefix('peribolos-')}-{int(time.time())}"
    kubectl = product.cluster.kubectl
    kubectl("-n", product.namespace, "create", "job", name, f"--from=cronjob/{cronjob}")
    result = kubectl("-n", product.namespace, "wait", "--for=condition=Complete", f"job/{name}",
                     "--timeout=240s", timeout=260, check=False)
    if result.returncode != 0:
        logs = kubectl("-n", product.namespace, "logs", f"job/{name}", check=False)
        raise AssertionError(f"Job {name} did not complete: {result.stderr}\n{logs.stdout[-3000:]}")
    return name


def _tekton(product: Product) -> TektonObjects:
    return TektonObjects(client.CustomObjectsApi(product.cluster.api_client()), product.namespace)


def _job_lines(product: Product, job: str) -> list[dict[str, Any]]:
    logs = product.cluster.kubectl("-n", product.namespace, "logs", f"job/{job}").stdout
    return json_lines(logs)


def test_drift_repair_reverts_a_change_made_by_hand(maintained: Product, cluster_github: FakeGitHub) -> None:
    product = maintained
    _installed(product)
    cluster_github.add_org(ORG, admins=["alice", "bob"], members=["carol"])
    head = cluster_github.push_commit(f"{ORG}/.github", {"peribolos.yaml": CONFIG}).after
    cluster_github.ui.remove_member(ORG, "carol")  # by hand, in GitHub's UI
    assert "carol" not in cluster_github.orgs[ORG.lower()].members

    job = _run_job(product, "peribolos-drift-repair")

    lines = _job_lines(product, job)
    created = {line["installation_id"]: line for line in lines if line.get("event") == "created"}
    assert INSTALLATION_ID in created, lines
    (summary,) = [line for line in lines if line.get("event") == "summary"]
    assert summary["counts"]["failed"] == 0
    drift = next(t for t in _tekton(product).taskruns("peribolos.dev/trigger=drift-repair")
                 if t["metadata"]["name"] == created[INSTALLATION_ID]["taskrun"])
    assert drift["metadata"]["annotations"]["peribolos.dev/drift-run"] == job
    params = {p["name"]: p["value"] for p in drift["spec"]["params"]}
    assert (params["repo"], params["revision"], params["check_run_when"]) == (
        f"{ORG}/.github", "", "changed-or-failed")
    assert drift["spec"]["taskRef"]["name"] == "peribolos-sync"

    # The sync Task resolves the empty revision to the default branch's head itself and brings carol back,
    # with one completed check run on the head (peribolos changed something).
    finished = wait_finished(product.cluster, product.namespace, drift["metadata"]["name"], timeout=240)
    assert finished.succeeded, (finished.reason, finished.exit_codes)
    (check,) = [c for c in cluster_github.check_runs if c["head_sha"] == head]
    assert (check["status"], check["conclusion"]) == ("completed", "success")
    org = cluster_github.orgs[ORG.lower()]
    assert "carol" in org.members | set(org.invitations), "the manual removal was not reverted"


def _uninstall_taskrun(product: Product, installation_id: int) -> dict[str, Any]:
    """A TaskRun of the rendered ``peribolos-uninstall`` TriggerTemplate, as the EventListener makes one."""
    template = _tekton(product).trigger_template("peribolos-uninstall")
    secret = secret_name(installation_id) if installation_id > 0 else "no-such-secret"
    values = {"installation_id": str(installation_id), "org": "prune-org", "secret_name": secret,
              "delivery_id": str(uuid.uuid4())}
    (taskrun,) = instantiate(template, values, uid=values["delivery_id"])
    return _tekton(product).create_taskrun(taskrun)


def _pod_exists(product: Product, name: str) -> bool:
    pods = client.CoreV1Api(product.cluster.api_client()).list_namespaced_pod(
        product.namespace, field_selector=f"metadata.name={name}")
    return bool(pods.items)


def test_pruning_keeps_the_configured_number_of_runs_and_their_pods_go(maintained: Product) -> None:
    product = maintained
    names = [_uninstall_taskrun(product, PRUNE_ORG_ID)["metadata"]["name"]
             for _ in range(KEEP_SUCCESSFUL + 2)]
    failed = _uninstall_taskrun(product, 0)["metadata"]["name"]  # installation id 0: the step refuses it
    finished = {n: wait_finished(product.cluster, product.namespace, n, timeout=240)
                for n in [*names, failed]}
    assert all(finished[n].succeeded for n in names), {n: f.reason for n, f in finished.items()}
    assert not finished[failed].succeeded
    pods = {n: finished[n].pod for n in names}
    assert all(_pod_exists(product, pod) for pod in pods.values())

    job = _run_job(product, "peribolos-prune")

    left = {t["metadata"]["name"]: t for t in _tekton(product).taskruns(
        f"peribolos.dev/installation-id={PRUNE_ORG_ID}")}
    assert len(left) == KEEP_SUCCESSFUL, sorted(left)
    gone = set(names) - set(left)
    newest_gone = max(finished[n].taskrun["status"]["completionTime"] for n in gone)
    assert all(t["status"]["completionTime"] >= newest_gone for t in left.values())
    failures = _tekton(product).taskruns("peribolos.dev/installation-id=0")
    assert failed in {t["metadata"]["name"] for t in failures}
    deleted = {line["taskrun"] for line in _job_lines(product, job) if line.get("event") == "deleted"}
    assert gone <= deleted
    deadline = time.monotonic() + 90
    while any(_pod_exists(product, pods[n]) for n in gone) and time.monotonic() < deadline:
        time.sleep(1)  # the garbage collector follows the Pods' owner references
    assert not [n for n in gone if _pod_exists(product, pods[n])], "the pruned TaskRuns' Pods are still there"
    assert all(_pod_exists(product, pods[n]) for n in left)
