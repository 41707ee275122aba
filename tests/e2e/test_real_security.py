"""Least privilege judged from what runs: the Pods Tekton's own pod builder made of each TriggerTemplate's
TaskRun (read back from the API server), and a look from inside the peribolos step's container.

The peribolos image has no shell, so the look from inside runs the rendered sync Task with only the
peribolos step's image and command swapped for a probe (Python, from this project's image): the Pod is
the one Tekton builds for that Task, with the same volumes, mounts, ServiceAccount and podTemplate.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import yaml

from tests.e2e import payloads
from tests.e2e.conftest import INSTALLATION_ID, ORG, OTHER_ORG, OTHER_ORG_INSTALLATION_ID
from tests.e2e.pods import Finished, pod, step_log, wait_finished
from tests.e2e.test_real_pods import _deliver, _installed, _run_of
from tests.fakes.github import FakeGitHub
from tests.infra.product import APP_SECRET, Product

pytestmark = pytest.mark.e2e

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# The steps that call the API: the token Secret, the org's Lease, peribolos' log, and the App-wide mint
# budget's ConfigMap for every step that mints.
API_STEPS = {
    "peribolos-install": {"step-install", "step-bootstrap"},
    "peribolos-uninstall": {"step-uninstall"},
    "peribolos-sync": {"step-prepare", "step-report"},
    "peribolos-dry-run": {"step-prepare", "step-report"},
}
KEY_STEPS = {
    # bootstrap (on by default) mints narrow tokens of its own for the org's export and its pull request.
    "peribolos-install": {"step-install", "step-bootstrap"},
    "peribolos-sync": {"step-prepare"},
    "peribolos-dry-run": {"step-prepare"},
    "peribolos-uninstall": set(),
}
ACCOUNTS = {
    "peribolos-install": "peribolos-install",
    "peribolos-uninstall": "peribolos-uninstall",
    "peribolos-sync": "peribolos-sync",
    "peribolos-dry-run": "peribolos-sync",
}


def _one_of_each(product: Product, github: FakeGitHub) -> dict[str, Finished]:
    """A TaskRun of every TriggerTemplate, made by webhooks through the EventListener."""
    _installed(product)
    github.add_org(ORG, admins=["alice", "bob"], members=["carol"])
    done = {}
    created = payloads.installation("created", OTHER_ORG_INSTALLATION_ID, OTHER_ORG)
    done["peribolos-install"] = _run_of(
        product, _deliver(product, "installation", created), "peribolos-install"
    )
    deleted = payloads.installation("deleted", OTHER_ORG_INSTALLATION_ID, OTHER_ORG)
    done["peribolos-uninstall"] = _run_of(
        product, _deliver(product, "installation", deleted), "peribolos-uninstall"
    )
    config = f"orgs:\n  {ORG}:\n    admins: [alice, bob]\n    members: [carol]\n"
    pushed = github.push_commit(f"{ORG}/.github", {"peribolos.yaml": config})
    push = payloads.push(INSTALLATION_ID, ORG, after=pushed.after)
    push.update(pushed.webhook_fields())
    done["peribolos-sync"] = _run_of(product, _deliver(product, "push", push), "peribolos-sync")
    head = github.push_commit(
        f"{ORG}/.github", {"peribolos.yaml": config + "# pr\n"}, branch=f"pr-{uuid.uuid4()}"
    )
    pull = payloads.pull_request(INSTALLATION_ID, ORG, head_sha=head.after)
    done["peribolos-dry-run"] = _run_of(product, _deliver(product, "pull_request", pull), "peribolos-dry-run")
    return done


def test_the_pods_tekton_builds_give_credentials_only_where_they_are_needed(
    product: Product, cluster_github: FakeGitHub
) -> None:
    for task, finished in _one_of_each(product, cluster_github).items():
        assert finished.succeeded, (task, finished.reason, finished.exit_codes)
        spec = pod(product.cluster, product.namespace, finished.pod)["spec"]
        assert spec["automountServiceAccountToken"] is False, task
        assert spec["serviceAccountName"] == ACCOUNTS[task]
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert not [v for v in volumes if v.startswith("kube-api-access-")], "no automounted token volume"
        secret_volumes = {n for n, v in volumes.items() if "secret" in v}
        assert {volumes[n]["secret"]["secretName"] for n in secret_volumes} <= {APP_SECRET}
        for container in spec.get("initContainers", []) + spec["containers"]:
            name = container["name"]
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            has_token = SA_DIR in mounts
            assert has_token == (name in API_STEPS[task]), (task, name, mounts)
            if has_token:
                sources = volumes[mounts[SA_DIR]]["projected"]["sources"]
                assert "serviceAccountToken" in sources[0]
            key = secret_volumes & set(mounts.values())
            assert bool(key) == (name in KEY_STEPS[task]), (task, name)
            refs = [e for e in container.get("env", []) if "secretKeyRef" in (e.get("valueFrom") or {})]
            assert bool(refs) == (name in KEY_STEPS[task]), (task, name, refs)
            if name == "step-peribolos":
                ours = {n for n in mounts.values() if not n.startswith("tekton-")}
                assert ours == {"peribolos-token", "config"}, mounts
    _installed(product)


PROBE = r"""
import json, os, ssl, urllib.error, urllib.request
out = {}
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
out["serviceaccount"] = sorted(os.listdir(sa)) if os.path.exists(sa) else None
base = "/var/run/peribolos"
out["mounted"] = {d: sorted(os.listdir(os.path.join(base, d))) for d in sorted(os.listdir(base))}
out["secret_env"] = sorted(k for k in os.environ if "TOKEN" in k or "KEY" in k or "SECRET" in k)
url = "https://{}:{}/api/v1/namespaces/{}/secrets/{}".format(
    os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"], NAMESPACE, SECRET)
try:
    urllib.request.urlopen(url, context=ssl._create_unverified_context(), timeout=10)
    out["api"] = 200
except urllib.error.HTTPError as exc:
    out["api"] = exc.code
except OSError as exc:
    out["api"] = repr(exc)
print(json.dumps(out))
"""


def test_inside_the_peribolos_step_no_kubernetes_credential_and_the_api_refuses(
    product: Product, cluster_github: FakeGitHub
) -> None:
    cluster = product.cluster
    _installed(product)
    task = json.loads(
        cluster.kubectl("-n", product.namespace, "get", "task", "peribolos-sync", "-o", "json").stdout
    )
    image = next(s["image"] for s in task["spec"]["steps"] if s["name"] == "prepare")
    for step in task["spec"]["steps"]:
        if step["name"] == "peribolos":
            step.update(
                image=image,
                command=[
                    "python3",
                    "-c",
                    PROBE.replace("NAMESPACE", repr(product.namespace)).replace("SECRET", repr(APP_SECRET)),
                ],
            )
            step.pop("args")
    probe = {
        "apiVersion": "tekton.dev/v1",
        "kind": "Task",
        "metadata": {"name": "peribolos-sync-probe", "namespace": product.namespace},
        "spec": task["spec"],
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(probe))
    # The TaskRun the sync TriggerTemplate makes, for the probe Task.
    template = json.loads(
        cluster.kubectl(
            "-n", product.namespace, "get", "triggertemplate", "peribolos-sync", "-o", "json"
        ).stdout
    )
    delivery = str(uuid.uuid4())
    head = cluster_github.head_sha(f"{ORG}/.github")
    values = {
        "installation_id": str(INSTALLATION_ID),
        "org": ORG,
        "secret_name": "unused",
        "delivery_id": delivery,
        "repo": f"{ORG}/.github",
        "revision": head,
        "ref": "refs/heads/main",
        "config_path": "peribolos.yaml",
    }
    text = json.dumps(template["spec"]["resourcetemplates"][0])
    for key, value in values.items():
        text = text.replace(f"$(tt.params.{key})", value)
    taskrun: dict[str, Any] = json.loads(text)
    taskrun["spec"]["taskRef"]["name"] = "peribolos-sync-probe"
    taskrun["metadata"]["namespace"] = product.namespace
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(taskrun))
    finished = wait_finished(cluster, product.namespace, taskrun["metadata"]["name"], timeout=240)
    line = [
        json.loads(x)
        for x in step_log(cluster, product.namespace, finished, "peribolos").splitlines()
        if x.startswith("{") and '"mounted"' in x
    ]
    assert line, step_log(cluster, product.namespace, finished, "peribolos")[-2000:]
    seen = line[0]
    assert seen["serviceaccount"] is None, "no ServiceAccount token in the peribolos container"
    assert seen["api"] in (401, 403), seen["api"]
    # Its own token and the config folder, nothing else.
    assert set(seen["mounted"]) == {"config", "token"} and seen["mounted"]["token"] == ["token"]
    assert set(seen["mounted"]["config"]) <= {"peribolos.yaml"}
    assert seen["secret_env"] == []
    spec = pod(cluster, product.namespace, finished.pod)["spec"]
    assert spec["serviceAccountName"] == "peribolos-sync" and spec["automountServiceAccountToken"] is False
