"""Least privilege and hardening, over every values case: RBAC without wildcards and with only each
identity's verbs, no Secret access where the App key lives, the App private key only in this project's
own minting steps, each token in a volume of its own, a Kubernetes credential only in the steps that call
the API, hardened pods everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from generator import render

from .conftest import case_values, flat_objects

SECRETS = ("", "secrets")
EVENTLISTENER_RULES = {
    ("triggers.tekton.dev", "eventlisteners"): {"get", "list", "watch"},
    ("triggers.tekton.dev", "triggers"): {"get", "list", "watch"},
    ("triggers.tekton.dev", "triggerbindings"): {"get", "list", "watch"},
    ("triggers.tekton.dev", "triggertemplates"): {"get", "list", "watch"},
    ("triggers.tekton.dev", "interceptors"): {"get", "list", "watch"},
    ("", "configmaps"): {"get", "list", "watch"},
    ("tekton.dev", "taskruns"): {"create"},
    ("", "events"): {"create", "patch"},
}


Rules = dict[tuple[str, str, str], dict[tuple[str, str], set[str]]]


def expected_rules(objects: list[dict[str, Any]]) -> Rules:
    """Exactly what each identity may do, and where: (kind, name, "app" | "tokens") → resource → verbs."""
    tasks = {o["metadata"]["name"] for o in objects if o["kind"] == "Task"}
    out: Rules = {
        ("Role", "peribolos-eventlistener", "app"): EVENTLISTENER_RULES,
        ("ClusterRole", "peribolos-eventlistener-", ""): {
            ("triggers.tekton.dev", "clustertriggerbindings"): {"get", "list", "watch"},
            ("triggers.tekton.dev", "clusterinterceptors"): {"get", "list", "watch"},
        },
    }
    cronjobs = {o["metadata"]["name"] for o in objects if o["kind"] == "CronJob"}
    if "peribolos-token-refresher" in cronjobs:
        out[("Role", "peribolos-refresher", "tokens")] = {
            SECRETS: {"get", "list", "create", "update", "patch", "delete"}
        }
    if "peribolos-drift-repair" in cronjobs:
        # The sync TriggerTemplate (by name) and TaskRuns, as the EventListener; no Secrets.
        out[("Role", "peribolos-drift-repair", "app")] = {
            ("triggers.tekton.dev", "triggertemplates"): {"get"},
            ("tekton.dev", "taskruns"): {"create", "list"},
        }
    if "peribolos-prune" in cronjobs:
        out[("Role", "peribolos-prune", "app")] = {("tekton.dev", "taskruns"): {"list", "delete"}}
    if "peribolos-install" in tasks:
        out[("Role", "peribolos-install", "tokens")] = {SECRETS: {"get", "create", "update", "patch"}}
    if "peribolos-uninstall" in tasks:
        out[("Role", "peribolos-uninstall", "tokens")] = {SECRETS: {"delete"}}
    sync: dict[tuple[str, str], set[str]] = {}
    if "peribolos-sync" in tasks:
        sync[("coordination.k8s.io", "leases")] = {"get", "create", "update"}
    if tasks & {"peribolos-sync", "peribolos-dry-run"}:
        sync[("", "pods/log")] = {"get"}
        out[("Role", "peribolos-sync", "app")] = sync
    # The App-wide mint budget and the refresher's status: one named ConfigMap each, no create (rendered).
    out[("Role", "peribolos-mint-budget", "app")] = {("", "configmaps"): {"get", "update"}}
    if "peribolos-token-refresher" in cronjobs:
        out[("Role", "peribolos-refresher-status", "app")] = {("", "configmaps"): {"get", "update"}}
    if any(o["kind"] == "Deployment" and o["metadata"]["name"] == "peribolos-exporter" for o in objects):
        out[("Role", "peribolos-exporter", "app")] = {
            ("tekton.dev", "taskruns"): {"get", "list", "watch"},
            ("batch", "jobs"): {"get", "list"},
            ("", "configmaps"): {"get"},
        }
    return out


NAMED_CONFIG_MAPS = {"peribolos-mint-budget", "peribolos-refresher-status", "peribolos-exporter"}
"""Roles whose ConfigMap rule names its objects (resourceNames)."""


# Steps allowed to see the App's credentials (they mint tokens); peribolos is never one of them.
KEY_STEPS = {
    ("peribolos-install", "install"),
    ("peribolos-install", "bootstrap"),
    ("peribolos-sync", "prepare"),
    ("peribolos-dry-run", "prepare"),
}
# Steps that call the Kubernetes API, and so mount the projected ServiceAccount token.
API_STEPS = {
    ("peribolos-install", "install"),
    ("peribolos-uninstall", "uninstall"),
    ("peribolos-install", "bootstrap"),  # the mint budget
    ("peribolos-sync", "prepare"),  # the org's Lease, the mint budget
    ("peribolos-dry-run", "prepare"),  # the mint budget
    ("peribolos-sync", "report"),  # peribolos' log, the Lease
    ("peribolos-dry-run", "report"),  # peribolos' log
}


def _rules(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def _namespaces(case: str) -> tuple[str, str]:
    """(the namespace of the App key, EventListener and Tasks; the token namespace)."""
    values = case_values(case)
    return values.data["namespace"], render.token_namespace(values)


def test_rbac_has_no_wildcards_and_each_identity_only_its_verbs(case: str) -> None:
    objects = flat_objects(case)
    app, tokens = _namespaces(case)
    assert app != tokens
    where = {app: "app", tokens: "tokens", None: ""}
    roles = [o for o in objects if o["kind"] in ("Role", "ClusterRole")]
    found = {}
    for role in roles:
        for rule in role["rules"]:
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], (role["metadata"]["name"], rule)
            assert "resourceNames" not in rule or rule["resourceNames"]
        name = role["metadata"]["name"]
        if name in NAMED_CONFIG_MAPS:
            named = [r.get("resourceNames") for r in role["rules"] if r["resources"] == ["configmaps"]]
            assert named and all(named), name
        if name.startswith("peribolos-eventlistener-"):
            name = "peribolos-eventlistener-"
        found[(role["kind"], name, where[role["metadata"].get("namespace")])] = _rules(role)
    assert found == expected_rules(objects)
    # No ClusterRole can touch Secrets or create anything; no Role reaches Secrets where the App key is.
    for role in roles:
        if role["kind"] == "ClusterRole":
            assert all(r["verbs"] == ["get", "list", "watch"] for r in role["rules"])
        if role["kind"] == "ClusterRole" or role["metadata"]["namespace"] == app:
            assert all("secrets" not in r["resources"] for r in role["rules"]), role["metadata"]["name"]


def test_every_binding_binds_its_own_account_to_its_own_role(case: str) -> None:
    objects = flat_objects(case)
    app, _ = _namespaces(case)
    for binding in (o for o in objects if o["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        name = binding["metadata"]["name"]
        assert binding["roleRef"]["name"] == name
        if name == "peribolos-mint-budget":  # the one Role every minting identity shares
            assert all(s["kind"] == "ServiceAccount" for s in binding["subjects"])
            assert {s["name"] for s in binding["subjects"]} <= {"peribolos-refresher", "peribolos-install",
                                                                "peribolos-sync"}
            continue
        (subject,) = binding["subjects"]
        assert subject["kind"] == "ServiceAccount" and subject["namespace"] == app
        if name.startswith("peribolos-eventlistener"):
            assert subject["name"] == "peribolos-eventlistener"
        elif name == "peribolos-refresher-status":  # the refresher's second Role (its status ConfigMap)
            assert subject["name"] == "peribolos-refresher"
        else:
            assert subject["name"] == name
    # The interceptor needs no API access at all.
    assert not any(
        b["subjects"][0]["name"] == "peribolos-interceptor"
        for b in objects
        if b["kind"] in ("RoleBinding", "ClusterRoleBinding")
    )


def test_no_service_account_mounts_its_token_by_default(case: str) -> None:
    """Only the EventListener's: Triggers makes its Deployment and lets no pod field turn the token on."""
    objects = flat_objects(case)
    for account in (o for o in objects if o["kind"] == "ServiceAccount"):
        name = account["metadata"]["name"]
        assert ("automountServiceAccountToken" not in account) == (name == "peribolos-eventlistener"), name
        if name != "peribolos-eventlistener":
            assert account["automountServiceAccountToken"] is False, name
    for template in (o for o in objects if o["kind"] == "TriggerTemplate"):
        run = template["spec"]["resourcetemplates"][0]["spec"]
        assert run["podTemplate"]["automountServiceAccountToken"] is False
        assert run["serviceAccountName"] in {"peribolos-install", "peribolos-uninstall", "peribolos-sync"}


def _task_steps(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for task in (o for o in objects if o["kind"] == "Task"):
        for step in task["spec"]["steps"]:
            yield task["metadata"]["name"], task["spec"], step


def _secret_volumes(spec: dict[str, Any]) -> set[str]:
    return {v["name"] for v in spec.get("volumes", []) if "secret" in v}


def _touches_secrets(spec: dict[str, Any], container: dict[str, Any]) -> bool:
    secret_volumes = _secret_volumes(spec)
    mounts = {m["name"] for m in container.get("volumeMounts", [])}
    env_refs = [e for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
    return bool(mounts & secret_volumes) or bool(env_refs) or bool(container.get("envFrom"))


def test_private_key_only_in_this_projects_minting_steps(case: str) -> None:
    objects = flat_objects(case)
    seen = set()
    for task, spec, step in _task_steps(objects):
        assert not _touches_secrets(spec, spec.get("stepTemplate", {})), task
        if _touches_secrets(spec, step):
            assert (task, step["name"]) in KEY_STEPS, (task, step["name"])
            assert step["command"][0] == "peribolos-step"
            seen.add((task, step["name"]))
        if step["name"] == "peribolos":
            assert step["command"] == ["/ko-app/peribolos"]
            assert not _touches_secrets(spec, step)
            assert not any("private" in a or "app-id" in a for a in step["args"])
            mounts = {m["name"] for m in step["volumeMounts"]}
            assert mounts == {"peribolos-token", "config"}, "its token and the config, nothing else"
            assert all(m["readOnly"] for m in step["volumeMounts"])
            assert "env" not in step
    wired = {o["metadata"]["name"] for o in objects if o["kind"] == "Task"}
    assert seen == {k for k in KEY_STEPS if k[0] in wired}


def test_a_kubernetes_credential_only_in_the_steps_that_call_the_api(case: str) -> None:
    objects = flat_objects(case)
    seen = set()
    for task, spec, step in _task_steps(objects):
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        projected = {m["name"] for m in step.get("volumeMounts", []) if "projected" in volumes[m["name"]]}
        if projected:
            (name,) = projected
            assert (task, step["name"]) in API_STEPS, (task, step["name"])
            sources = volumes[name]["projected"]["sources"]
            assert [list(s) for s in sources] == [["serviceAccountToken"], ["configMap"], ["downwardAPI"]]
            (mount,) = [m for m in step["volumeMounts"] if m["name"] == name]
            assert mount == {"name": name, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                             "readOnly": True}
            seen.add((task, step["name"]))
    wired = {o["metadata"]["name"] for o in objects if o["kind"] == "Task"}
    expected = {k for k in API_STEPS if k[0] in wired}
    assert seen == expected


def test_each_token_travels_to_its_consumer_alone_in_a_memory_volume(case: str) -> None:
    consumers = {"peribolos-token": "peribolos", "fetch-token": "fetch-config", "report-token": "report"}
    for task, spec, step in _task_steps(flat_objects(case)):
        names = [p["name"] for p in spec.get("params", [])]
        assert not any("token" in name for name in names), task
        assert "results" not in spec
        if task not in ("peribolos-sync", "peribolos-dry-run"):
            continue
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["name"] for m in step["volumeMounts"]}
        for volume, consumer in consumers.items():
            assert volumes[volume]["emptyDir"]["medium"] == "Memory"
            assert (volume in mounts) == (step["name"] in ("prepare", consumer)), (task, step["name"], volume)


def _pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """(what, pod securityContext holder, containers) for every pod this service runs."""
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] == "Deployment":
            pod = obj["spec"]["template"]["spec"]
            yield name, pod, pod["containers"]
        elif obj["kind"] == "CronJob":
            pod = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            yield name, pod, pod["containers"]
        elif obj["kind"] == "TriggerTemplate":
            run = obj["spec"]["resourcetemplates"][0]["spec"]
            task = next(
                o for o in objects if o["kind"] == "Task" and o["metadata"]["name"] == run["taskRef"]["name"]
            )
            template = task["spec"]["stepTemplate"]
            steps = [{**template, **step} for step in task["spec"]["steps"]]
            yield name, run["podTemplate"], steps


@pytest.mark.parametrize("case", ["defaults", "ghes-ingress", "openshift-route", "pinned-scheduled"])
def test_every_pod_is_hardened(case: str) -> None:
    found = list(_pod_specs(flat_objects(case)))
    assert found
    for name, pod, containers in found:
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True, name
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in containers:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context.get("privileged", False) is False, name
            resources = container.get("computeResources") or container["resources"]
            assert set(resources["requests"]) >= {"cpu", "memory"}, name
            assert set(resources["limits"]) >= {"cpu", "memory"}, name
        assert "hostNetwork" not in pod and "hostPID" not in pod


def test_platform_picks_uids_when_asked() -> None:
    for name, pod, _ in _pod_specs(flat_objects("openshift-route")):
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(pod["securityContext"]), name
    for name, pod, _ in _pod_specs(flat_objects("defaults")):
        assert pod["securityContext"]["runAsUser"] == 65532, name


def test_interceptor_has_no_api_token_and_only_the_webhook_secret() -> None:
    objects = flat_objects("defaults")
    account = next(
        o
        for o in objects
        if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == "peribolos-interceptor"
    )
    assert account["automountServiceAccountToken"] is False
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"]["items"] == [{"key": "webhook-secret", "path": "webhook-secret"}]
    assert {v["name"] for v in pod["volumes"]} == {"webhook-secret", "tmp"}


@pytest.mark.parametrize("case", ["defaults", "ghes-ingress", "external-interceptor", "pinned-scheduled"])
def test_network_policies_cover_every_pod_group(case: str) -> None:
    objects = flat_objects(case)
    policies = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "NetworkPolicy"}
    has_interceptor = any(o["kind"] == "Deployment" and o["metadata"]["name"] == "peribolos-interceptor"
                          for o in objects)
    has_maintenance = any(o["kind"] == "CronJob" and o["metadata"]["name"] != "peribolos-token-refresher"
                          for o in objects)
    expected = {"peribolos-eventlistener", "peribolos-jobs", "peribolos-exporter"} | (
        {"peribolos-interceptor"} if has_interceptor else set()
    ) | ({"peribolos-maintenance"} if has_maintenance else set())
    assert set(policies) == expected
    for spec in policies.values():
        assert spec["policyTypes"] == ["Ingress", "Egress"]
    scraper = case_values(case).data["metrics"]["scraperNamespace"]
    scrapers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": scraper}},
                 "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}] if scraper else []
    if has_interceptor:
        assert policies["peribolos-interceptor"]["egress"] == []
        rule, *more = policies["peribolos-interceptor"]["ingress"]
        assert rule["from"] == [{"podSelector": {"matchLabels": {"eventlistener": "peribolos"}}}]
        assert [r["from"] for r in more] == ([scrapers] if scrapers else [])
    assert policies["peribolos-jobs"]["ingress"] == []
    if has_maintenance:
        assert policies["peribolos-maintenance"]["ingress"] == []
        assert policies["peribolos-maintenance"]["egress"] == policies["peribolos-jobs"]["egress"]
    exporter = policies["peribolos-exporter"]
    assert [r["from"] for r in exporter["ingress"]] == ([scrapers] if scrapers else [])
    assert [p["port"] for r in exporter["ingress"] for p in r["ports"]] == ([9102] if scrapers else [])


def test_no_network_policies_when_disabled() -> None:
    assert not [o for o in flat_objects("dry-run-only") if o["kind"] == "NetworkPolicy"]
