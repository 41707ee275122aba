"""Rendering: every document is a well-formed object with our labels, output is deterministic, the
contract names are kept, and the Tekton wiring follows the values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.output_dir import MARKER
from generator.render import (
    CONCERNS,
    KUSTOMIZATION,
    KUSTOMIZE_CONFIG,
    render_files,
    render_objects,
    render_stream,
    write_dir,
)
from generator.validate import validate_path
from generator.values import load_values
from tekton.interceptor.server import GRACEFUL_SHUTDOWN_SECONDS

from .conftest import VALUES_DIR, case_values, flat_objects, tekton_crd_dir

LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
)


def _find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def _one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = _find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def test_every_document_parses_and_is_a_labelled_object(case: str) -> None:
    stream = render_stream(case_values(case))
    docs = list(yaml.safe_load_all(stream))
    assert docs and all(isinstance(doc, dict) for doc in docs)
    for doc in docs:
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], doc
        labels = doc["metadata"]["labels"]
        assert all(labels.get(key) for key in LABELS), (doc["kind"], doc["metadata"]["name"], labels)
    keys = [(d["apiVersion"], d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys)), "two objects share apiVersion, kind, namespace and name"


def test_rendered_manifests_pass_validate(case: str, tmp_path: Path) -> None:
    write_dir(case_values(case), tmp_path)
    report = validate_path(tmp_path, crd_dir=tekton_crd_dir())
    assert report.problems == []
    assert report.objects == len(flat_objects(case))


def test_output_dir_has_one_file_per_concern_and_a_kustomization(tmp_path: Path) -> None:
    values = case_values("defaults")
    written = write_dir(values, tmp_path)
    names = sorted(p.name for p in written)
    kustomization = yaml.safe_load((tmp_path / KUSTOMIZATION).read_text())
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["configurations"] == [KUSTOMIZE_CONFIG]
    assert sorted([*kustomization["resources"], KUSTOMIZATION, KUSTOMIZE_CONFIG]) == names
    assert kustomization["resources"] == [f"{c}.yaml" for c in CONCERNS if f"{c}.yaml" in names]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names, MARKER])
    # The stream is the files' objects in the kustomization's order.
    from_files = [
        doc
        for name in kustomization["resources"]
        for doc in yaml.safe_load_all((tmp_path / name).read_text())
    ]
    assert from_files == list(yaml.safe_load_all(render_stream(values)))


def test_stale_concern_files_are_removed(tmp_path: Path) -> None:
    write_dir(case_values("ghes-ingress"), tmp_path)
    assert (tmp_path / "exposure.yaml").exists()
    write_dir(case_values("defaults"), tmp_path)
    assert not (tmp_path / "exposure.yaml").exists()
    assert "exposure.yaml" not in (tmp_path / KUSTOMIZATION).read_text()


def test_rendering_is_deterministic_across_processes(tmp_path: Path) -> None:
    """Same values → byte-identical output, whatever the hash seed of the process."""
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "generator.cli",
                "render",
                "--values",
                str(VALUES_DIR / "ghes-ingress.yaml"),
            ],
            capture_output=True,
            env=env,
            check=True,
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert render_files(case_values("ghes-ingress")) == render_files(case_values("ghes-ingress"))


def test_contract_names_are_kept() -> None:
    objects = flat_objects("defaults")
    _one(objects, "EventListener", "peribolos")
    _one(objects, "ClusterInterceptor", "peribolos")
    for task in ("peribolos-install", "peribolos-uninstall", "peribolos-sync", "peribolos-dry-run"):
        _one(objects, "Task", task)
    _one(objects, "CronJob", "peribolos-token-refresher")
    for account in (
        "peribolos-eventlistener",
        "peribolos-install",
        "peribolos-uninstall",
        "peribolos-sync",
        "peribolos-refresher",
        "peribolos-interceptor",
    ):
        _one(objects, "ServiceAccount", account)
    assert {o["metadata"].get("namespace") for o in objects} == {"peribolos", "peribolos-tokens", None}
    # Only the Roles of the identities that write token Secrets live in the token namespace.
    assert {
        o["metadata"]["name"] for o in objects if o["metadata"].get("namespace") == "peribolos-tokens"
    } == {"peribolos-install", "peribolos-uninstall", "peribolos-refresher"}


@pytest.mark.parametrize(
    ("case", "namespaces"),
    [
        pytest.param("defaults", [("peribolos", "restricted"), ("peribolos-tokens", "restricted")],
                     id="defaults"),
        pytest.param("ghes-ingress", [("org-admin", "restricted"), ("org-admin-secrets", "restricted")],
                     id="token-namespace-named"),
        pytest.param("pinned-scheduled", [], id="created-by-the-platform"),
    ],
)
def test_two_namespaces_enforce_the_same_pod_security(case: str, namespaces: list[tuple[str, str]]) -> None:
    found = [
        (o["metadata"]["name"], o["metadata"]["labels"]["pod-security.kubernetes.io/enforce"])
        for o in flat_objects(case) if o["kind"] == "Namespace"
    ]
    assert found == namespaces
    for name, _ in found:
        labels = _one(flat_objects(case), "Namespace", name)["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/warn"] == "restricted"
        assert labels["pod-security.kubernetes.io/audit"] == "restricted"


def test_api_versions_are_the_ones_tekton_serves() -> None:
    versions = {o["kind"]: o["apiVersion"] for o in flat_objects("defaults")}
    assert versions["ClusterInterceptor"] == "triggers.tekton.dev/v1alpha1"
    for kind in ("EventListener", "TriggerBinding", "TriggerTemplate"):
        assert versions[kind] == "triggers.tekton.dev/v1beta1"
    assert versions["Task"] == "tekton.dev/v1"
    for template in _find(flat_objects("defaults"), "TriggerTemplate"):
        (run,) = template["spec"]["resourcetemplates"]
        assert run["apiVersion"] == "tekton.dev/v1" and run["kind"] == "TaskRun"
        # Named after the delivery: a redelivered webhook is refused by the API server (409).
        assert run["metadata"]["name"] == template["metadata"]["name"] + "-$(tt.params.delivery_id)"
        assert "generateName" not in run["metadata"]


@pytest.mark.parametrize(
    ("case", "actions", "github_interceptor"),
    [
        pytest.param("defaults", ["install", "uninstall", "sync", "dry-run"], True, id="defaults"),
        pytest.param(
            "external-interceptor",
            ["install", "uninstall", "sync", "dry-run"],
            False,
            id="no-core-github-interceptor",
        ),
        pytest.param("dry-run-only", ["dry-run"], True, id="dry-run-only"),
    ],
)
def test_one_trigger_per_wired_action_each_filtering_by_action(
    case: str, actions: list[str], github_interceptor: bool
) -> None:
    objects = flat_objects(case)
    listener = _one(objects, "EventListener", "peribolos")
    triggers = listener["spec"]["triggers"]
    assert [t["name"] for t in triggers] == [f"peribolos-{a}" for a in actions]
    for action, trigger in zip(actions, triggers, strict=True):
        refs = [i["ref"] for i in trigger["interceptors"]]
        expected = ([{"name": "github", "kind": "ClusterInterceptor"}] if github_interceptor else []) + [
            {"name": "peribolos", "kind": "ClusterInterceptor"}
        ]
        assert refs == expected
        ours = trigger["interceptors"][-1]
        assert ours["params"] == [{"name": "actions", "value": [action]}]
        assert trigger["template"] == {"ref": f"peribolos-{action}"}
        _one(objects, "TriggerTemplate", f"peribolos-{action}")
        _one(objects, "Task", f"peribolos-{action}")
    assert {t["metadata"]["name"] for t in _find(objects, "Task")} == {f"peribolos-{a}" for a in actions}


def test_core_github_interceptor_checks_the_webhook_secret_and_event_types() -> None:
    listener = _one(flat_objects("ghes-ingress"), "EventListener", "peribolos")
    by_trigger = {t["name"]: t["interceptors"][0] for t in listener["spec"]["triggers"]}
    github = by_trigger["peribolos-sync"]
    params = {p["name"]: p["value"] for p in github["params"]}
    assert params["secretRef"] == {"secretName": "ghes-app", "secretKey": "hook-secret"}
    # installation_repositories too: the config repository added to the App's repositories is synced.
    assert params["eventTypes"] == ["push", "check_run", "installation_repositories"]
    assert {p["name"]: p["value"] for p in by_trigger["peribolos-install"]["params"]}["eventTypes"] == [
        "installation",
        "installation_repositories",
    ]


@pytest.mark.parametrize(
    ("sets", "qps", "burst"),
    [([], "50", "100"), (["eventListener.kubeApiQPS=20", "eventListener.kubeApiBurst=40"], "20", "40")],
    ids=["defaults", "set"],
)
def test_sink_kubernetes_client_rate_comes_from_the_values(sets: list[str], qps: str, burst: str) -> None:
    """client-go's default (5 a second) would hold a burst of webhooks to 5 TaskRuns a second."""
    objects = [o for group in render_objects(load_values([], sets)).values() for o in group]
    listener = _one(objects, "EventListener", "peribolos")
    pod = listener["spec"]["resources"]["kubernetesResource"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # Triggers' admission webhook allows only valueFrom.secretKeyRef in an EventListener's container env.
    assert container["env"] == [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": "peribolos-eventlistener-env", "key": name}}}
        for name in ("KUBE_API_QPS", "KUBE_API_BURST")
    ]
    secret = _one(objects, "Secret", "peribolos-eventlistener-env")
    assert secret["stringData"] == {"KUBE_API_QPS": qps, "KUBE_API_BURST": burst}


def test_bindings_read_the_interceptor_extensions() -> None:
    objects = flat_objects("defaults")
    bound = {}
    for binding in _find(objects, "TriggerBinding"):
        for param in binding["spec"]["params"]:
            bound[param["name"]] = param["value"]
    keys = ["installation_id", "org", "secret_name", "repo", "revision", "ref", "config_path", "delivery_id"]
    assert bound == {key: f"$(extensions.peribolos.{key})" for key in keys}


@pytest.mark.parametrize(
    ("case", "url", "has_deployment"),
    [
        pytest.param("defaults", None, True, id="service"),
        pytest.param("external-interceptor", "http://127.0.0.1:18080/", False, id="url"),
    ],
)
def test_cluster_interceptor_reaches_a_service_or_a_url(
    case: str, url: str | None, has_deployment: bool
) -> None:
    objects = flat_objects(case)
    client = _one(objects, "ClusterInterceptor", "peribolos")["spec"]["clientConfig"]
    if url:
        assert client == {"url": url}
    else:
        assert client == {
            "service": {"name": "peribolos-interceptor", "namespace": "peribolos", "port": 8080}
        }
    assert bool(_find(objects, "Deployment", "peribolos-interceptor")) is has_deployment
    assert bool(_find(objects, "Service", "peribolos-interceptor")) is has_deployment


def test_https_interceptor_is_labelled_and_trusts_its_ca(tmp_path: Path) -> None:
    values = load_values(
        sets=["interceptor.url=https://interceptor.example:8443/", "interceptor.caBundle=Q0E="]
    )
    objects = [o for group in render_objects(values).values() for o in group]
    interceptor = _one(objects, "ClusterInterceptor", "peribolos")
    assert interceptor["metadata"]["labels"]["server/type"] == "https"
    assert interceptor["spec"]["clientConfig"] == {
        "url": "https://interceptor.example:8443/",
        "caBundle": "Q0E=",
    }
    write_dir(values, tmp_path)
    assert validate_path(tmp_path).problems == []
    (tmp_path / "interceptor.yaml").write_text(
        (tmp_path / "interceptor.yaml").read_text().replace("server/type: https", "server/type: http")
    )
    assert validate_path(tmp_path).problems == [
        "interceptor.yaml: ClusterInterceptor/peribolos: metadata.labels: an https:// interceptor needs the "
        "label server/type: https"
    ]


@pytest.mark.parametrize(
    ("case", "replicas", "pdb"),
    [
        pytest.param("defaults", 2, True, id="two"),
        pytest.param("ghes-ingress", 3, True, id="three"),
        pytest.param("dry-run-only", 1, False, id="one-no-pdb"),
    ],
)
def test_pdb_only_when_more_than_one_interceptor(case: str, replicas: int, pdb: bool) -> None:
    objects = flat_objects(case)
    assert _one(objects, "Deployment", "peribolos-interceptor")["spec"]["replicas"] == replicas
    assert bool(_find(objects, "PodDisruptionBudget")) is pdb


def _task_step(objects: list[dict[str, Any]], task: str, step: str) -> dict[str, Any]:
    steps = _one(objects, "Task", task)["spec"]["steps"]
    return next(s for s in steps if s["name"] == step)


def test_sync_runs_prepare_fetch_config_peribolos_confirm_and_report() -> None:
    objects = flat_objects("ghes-ingress")
    sync = _one(objects, "Task", "peribolos-sync")
    assert [s["name"] for s in sync["spec"]["steps"]] == ["prepare", "fetch-config", "peribolos", "report"]
    prepare = _task_step(objects, "peribolos-sync", "prepare")
    assert prepare["command"] == [
        "peribolos-step", "prepare", "--action", "sync",
        "--installation-id", "$(params.installation_id)", "--org", "$(params.org)",
        "--repo", "$(params.repo)", "--revision", "$(params.revision)",
        "--check-run-when", "$(params.check_run_when)", "--app-name", "peribolos",
        "--details-url",
        "https://tekton.example.com/#/namespaces/$(context.taskRun.namespace)/taskruns/$(context.taskRun.name)",
        # Every --fix-* flag of this case: what each needs, written (the rule in peribolos_core.scopes).
        "--peribolos-permission=administration=write",
        "--peribolos-permission=members=write",
        "--peribolos-permission=organization_administration=write",
        "--peribolos-all-repositories",
        "--holder", "$(context.taskRun.name)", "--lease-duration", "50m", "--lock-wait", "40m",
        "--state-dir", "/var/run/peribolos/state",
        "--report-token-file", "/var/run/peribolos/report-token/token",
        "--fetch-token-file", "/var/run/peribolos/fetch-token/token",
        "--peribolos-token-file", "/var/run/peribolos/token/token",
    ]
    assert prepare["onError"] == "continue"
    fetch = _task_step(objects, "peribolos-sync", "fetch-config")
    assert fetch["command"] == [
        "peribolos-step", "fetch-config", "--token-file", "/var/run/peribolos/fetch-token/token",
        "--repo", "$(params.repo)", "--revision", "$(params.revision)", "--path", "$(params.config_path)",
        "--output", "/var/run/peribolos/config/peribolos.yaml", "--org", "$(params.org)",
        "--min-admins", "3", "--state-dir", "/var/run/peribolos/state",
        "--required-admins=alice", "--required-admins=bob",
    ]
    peribolos = _task_step(objects, "peribolos-sync", "peribolos")
    assert peribolos["image"] == "us-docker.pkg.dev/k8s-infra-prow/images/peribolos:v20260821-a61940897"
    assert peribolos["command"] == ["/ko-app/peribolos"]
    assert peribolos["args"] == [
        "--github-endpoint=https://github.example.com/api/v3",
        "--github-graphql-endpoint=https://github.example.com/api/graphql",
        "--config-path=/var/run/peribolos/config/peribolos.yaml",
        "--github-token-path=/var/run/peribolos/token/token",
        "--require-self=false",
        "--min-admins=3",
        "--maximum-removal-delta=0.1",
        "--fix-org",
        "--fix-org-members",
        "--fix-teams",
        "--fix-team-members",
        "--fix-team-repos",
        "--fix-repos",
        "--fix-collaborators",
        "--allow-repo-archival",
        "--required-admins=alice",
        "--required-admins=bob",
        "--github-hourly-tokens=1200",
        "--confirm",
    ]
    report = _task_step(objects, "peribolos-sync", "report")
    assert report["command"] == [
        "peribolos-step", "report", "--action", "sync", "--repo", "$(params.repo)",
        "--revision", "$(params.revision)", "--state-dir", "/var/run/peribolos/state",
        "--token-file", "/var/run/peribolos/report-token/token",
        "--exit-code-file", "$(steps.step-peribolos.exitCode.path)",
        "--check-run-when", "$(params.check_run_when)", "--app-name", "peribolos",
    ]
    assert "onError" not in report, "report's exit code is the TaskRun's result"
    assert report["env"] == [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    volumes = {v["name"]: v for v in sync["spec"]["volumes"]}
    for name in ("peribolos-token", "fetch-token", "report-token", "state"):
        assert volumes[name]["emptyDir"]["medium"] == "Memory", name
    params = {p["name"]: p for p in sync["spec"]["params"]}
    assert params["check_run_when"]["default"] == "always"


def test_dry_run_never_confirms_and_reads_only() -> None:
    objects = flat_objects("defaults")
    peribolos = _task_step(objects, "peribolos-dry-run", "peribolos")
    assert "--confirm" not in peribolos["args"]
    assert peribolos["onError"] == "continue"
    prepare = _task_step(objects, "peribolos-dry-run", "prepare")["command"]
    # The read equivalents of the default flags' needs; no Lease (a dry run applies nothing).
    assert [a for a in prepare if a.startswith("--peribolos-")][:-1] == [
        "--peribolos-permission=administration=read",
        "--peribolos-permission=members=read",
        "--peribolos-all-repositories",
    ]
    assert "--holder" not in prepare and "--details-url" not in prepare
    report = _task_step(objects, "peribolos-dry-run", "report")
    assert report["command"][report["command"].index("--action") + 1] == "dry-run"
    assert "$(steps.step-peribolos.exitCode.path)" in report["command"]


@pytest.mark.parametrize(
    ("sets", "args"),
    [
        pytest.param(
            [],
            ["--org", "$(params.org)", "--repo", "$(params.org)/.github", "--path", "peribolos.yaml",
             "--min-admins", "2"],
            id="defaults",
        ),
        pytest.param(
            ["config.repo=org-config", "config.path=org/peribolos.yaml", "peribolos.fixRepos=true",
             "peribolos.fixCollaborators=true", "peribolos.ignoreSecretTeams=true", "peribolos.minAdmins=3",
             "peribolos.requiredAdmins=[alice, bob]", "bootstrap.createRepo=true",
             "bootstrap.allowPublicRepo=true", "bootstrap.docsUrl=https://docs.example/org-admins"],
            ["--org", "$(params.org)", "--repo", "$(params.org)/org-config", "--path", "org/peribolos.yaml",
             "--min-admins", "3", "--fix-repos", "--fix-collaborators", "--ignore-secret-teams",
             "--required-admins", "alice", "--required-admins", "bob", "--create-repo", "--allow-public-repo",
             "--docs-url", "https://docs.example/org-admins"],
            id="every-value",
        ),
        pytest.param(["bootstrap.enabled=false"], None, id="disabled"),
    ],
)
def test_install_bootstraps_an_org_without_config_after_storing_its_token(
    sets: list[str], args: list[str] | None
) -> None:
    rendered = render_objects(load_values(sets=sets))
    objects = [obj for docs in rendered.values() for obj in docs]
    steps = _one(objects, "Task", "peribolos-install")["spec"]["steps"]
    assert [s["name"] for s in steps] == (["install", "bootstrap"] if args else ["install"])
    if args is None:
        return
    bootstrap = steps[1]
    assert bootstrap["command"] == [
        "peribolos-step", "bootstrap", "--installation-id", "$(params.installation_id)"
    ]
    assert bootstrap["args"] == args
    assert bootstrap["image"] == steps[0]["image"] and bootstrap["env"] == steps[0]["env"], "mints its tokens"
    # The App key as install has it, and the API for the App-wide mint budget.
    assert bootstrap["volumeMounts"] == steps[0]["volumeMounts"]
    assert {m["name"] for m in steps[0]["volumeMounts"]} == {"github-app", "kube-api"}


def test_interceptor_gets_config_repo_path_and_allowed_orgs() -> None:
    deployment = _one(flat_objects("ghes-ingress"), "Deployment", "peribolos-interceptor")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == [
        "peribolos-interceptor",
        "--port",
        "9090",
        "--webhook-secret-file",
        "/var/run/peribolos/webhook/webhook-secret",
        "--config-repo",
        "org-config",
        "--config-path",
        "orgs/peribolos.yaml",
        "--actions",
        "install,uninstall,sync,dry-run",
        "--allowed-orgs",
        "platform,infra",
    ]
    # check_run is wired: the App id is required (no optional: the pod waits for the Secret's key).
    (app_id,) = [e for e in container["env"] if e["name"] == "GITHUB_APP_ID"]
    assert app_id["valueFrom"]["secretKeyRef"] == {"name": "ghes-app", "key": "id"}


@pytest.mark.parametrize(
    ("case", "kind", "check"),
    [
        pytest.param("defaults", None, None, id="none"),
        pytest.param(
            "ghes-ingress",
            "Ingress",
            lambda s: (
                s["ingressClassName"] == "nginx"
                and s["tls"] == [{"hosts": ["hooks.example.com"], "secretName": "hooks-tls"}]
                and s["rules"][0]["http"]["paths"][0]["path"] == "/peribolos"
                and s["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "el-peribolos"
            ),
            id="ingress",
        ),
        pytest.param(
            "openshift-route",
            "Route",
            lambda s: (
                s["host"] == "peribolos.apps.example.com"
                and s["to"]["name"] == "el-peribolos"
                and s["tls"]["termination"] == "edge"
            ),
            id="route",
        ),
    ],
)
def test_exposure(case: str, kind: str | None, check: Any) -> None:
    objects = flat_objects(case)
    exposed = [o for o in objects if o["kind"] in ("Ingress", "Route")]
    if kind is None:
        assert exposed == []
    else:
        (obj,) = exposed
        assert obj["kind"] == kind and check(obj["spec"])


def test_extra_labels_annotations_and_scheduling_reach_every_object_and_pod() -> None:
    objects = flat_objects("pinned-scheduled")
    for obj in objects:
        assert obj["metadata"]["labels"]["team"] == "platform"
        assert obj["metadata"]["annotations"]["example.com/owner"] == "platform-team"
    image = "registry.example.com/peribolos/peribolos-as-a-service@sha256:" + "0123456789abcdef" * 4
    deployment = _one(objects, "Deployment", "peribolos-interceptor")["spec"]["template"]["spec"]
    assert deployment["containers"][0]["image"] == image
    assert deployment["imagePullSecrets"] == [{"name": "registry-creds"}]
    assert deployment["nodeSelector"] == {"node-role.example.com/automation": "true"}
    assert deployment["tolerations"][0]["key"] == "dedicated"
    for template in _find(objects, "TriggerTemplate"):
        pod = template["spec"]["resourcetemplates"][0]["spec"]["podTemplate"]
        assert pod["nodeSelector"] == deployment["nodeSelector"]
        assert pod["imagePullSecrets"] == [{"name": "registry-creds"}]
        assert pod["automountServiceAccountToken"] is False
    listener = _one(objects, "EventListener", "peribolos")
    el_pod = listener["spec"]["resources"]["kubernetesResource"]["spec"]["template"]["spec"]
    assert el_pod["nodeSelector"] == deployment["nodeSelector"]


def test_refresher_cronjob_flags_and_safety() -> None:
    objects = flat_objects("pinned-scheduled")
    cronjob = _one(objects, "CronJob", "peribolos-token-refresher")
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["schedule"] == "5,20,35,50 * * * *"
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 600
    assert spec["successfulJobsHistoryLimit"] >= 0 and spec["failedJobsHistoryLimit"] >= 0
    (container,) = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    # the schedule's longest gap (:50 to :05) is --interval; 4/5 of the deadline is --max-run-time
    assert container["command"] == [
        "peribolos-refresh-tokens", "--margin", "20m", "--interval", "15m", "--max-run-time", "8m",
        "--concurrency", "4", "--dry-run",
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert {k: env[k] for k in ("MINT_BUDGET", "MINT_BUDGET_NAMESPACE", "MINT_BUDGET_PER_MINUTE",
                                "REFRESHER_STATUS")} == {
        "MINT_BUDGET": "app-mint-budget", "MINT_BUDGET_NAMESPACE": "peribolos",
        "MINT_BUDGET_PER_MINUTE": "60", "REFRESHER_STATUS": "peribolos-refresher-status"}
    assert not _find(flat_objects("dry-run-only"), "CronJob", "peribolos-token-refresher")


@pytest.mark.parametrize(("sets", "interval", "deadline", "max_run_time"), [
    ([], "10m", 720, None),
    (['refresher.schedule="*/30 * * * *"'], "30m", 1920, None),
    (["refresher.schedule=0,7,30 * * * *", "refresher.activeDeadlineSeconds=600"], "30m", 600, "8m"),
    (['refresher.schedule="*/2 * * * *"', "refresher.activeDeadlineSeconds=3600"], "2m", 3600, "2m"),
], ids=["default-every-10-minutes", "the-seeds-30-minutes", "deadline-given", "deadline-longer-than-a-gap"])
def test_the_refresher_is_told_the_longest_gap_between_its_runs(sets, interval, deadline,
                                                                max_run_time) -> None:
    objects = render_objects(load_values([], sets))["refresher"]
    job = next(o for o in objects if o["kind"] == "CronJob")["spec"]["jobTemplate"]["spec"]
    command = job["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--interval") + 1] == interval
    assert job["activeDeadlineSeconds"] == deadline
    given = command[command.index("--max-run-time") + 1] if "--max-run-time" in command else None
    assert given == max_run_time


def test_every_minting_container_names_the_app_wide_budget() -> None:
    """The Tasks' steps (stepTemplate) and the refresher spend the one budget; only they may touch it."""
    objects = flat_objects("defaults")
    expected = [{"name": "MINT_BUDGET", "value": "peribolos-mint-budget"},
                {"name": "MINT_BUDGET_NAMESPACE", "value": "peribolos"},
                {"name": "MINT_BUDGET_PER_MINUTE", "value": "150"}]
    for task in (o for o in objects if o["kind"] == "Task"):
        env = task["spec"]["stepTemplate"]["env"]
        assert [e for e in env if e["name"].startswith("MINT_BUDGET")] == expected, task["metadata"]["name"]
    cronjob = _one(objects, "CronJob", "peribolos-token-refresher")
    env = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e for e in env if e["name"].startswith("MINT_BUDGET")] == expected
    budget = _one(objects, "ConfigMap", "peribolos-mint-budget")
    assert "data" not in budget  # the minters fill it; an apply never resets it
    binding = _one(objects, "RoleBinding", "peribolos-mint-budget")
    # Bound: exactly the identities whose pods hold the App key (a Task step mounting it, or the refresher).
    minting_tasks = {
        t["metadata"]["name"] for t in objects if t["kind"] == "Task"
        and any(m["name"] == "github-app" for s in t["spec"]["steps"] for m in s["volumeMounts"])
    }
    runs = [r for t in objects if t["kind"] == "TriggerTemplate" for r in t["spec"]["resourcetemplates"]]
    minters = {r["spec"]["serviceAccountName"] for r in runs if r["spec"]["taskRef"]["name"] in minting_tasks}
    assert [s["name"] for s in binding["subjects"]] == sorted(minters | {"peribolos-refresher"})
    assert minters == {"peribolos-install", "peribolos-sync"}
    (rule,) = _one(objects, "Role", "peribolos-mint-budget")["rules"]
    assert rule == {"apiGroups": [""], "resources": ["configmaps"],
                    "resourceNames": ["peribolos-mint-budget"], "verbs": ["get", "update"]}


@pytest.mark.parametrize(("case", "monitor", "rule"), [
    ("defaults", None, False),
    ("pinned-scheduled", "ServiceMonitor", True),
], ids=["none-by-default", "servicemonitor-and-rule"])
def test_monitoring_objects_select_the_metrics_endpoints(case, monitor, rule) -> None:
    objects = flat_objects(case)
    monitors = [o for o in objects if o["kind"] in ("ServiceMonitor", "PodMonitor")]
    assert [m["kind"] for m in monitors] == ([monitor] if monitor else [])
    if monitor:
        (found,) = monitors
        assert found["metadata"]["labels"]["release"] == "prometheus"
        services = [o for o in objects if o["kind"] == "Service" and _selected(found["spec"]["selector"], o)]
        assert {s["metadata"]["name"] for s in services} == {"peribolos-interceptor", "peribolos-exporter"}
        named = {p["name"] for s in services for p in s["spec"]["ports"]}
        assert {e["port"] for e in found["spec"]["endpoints"]} <= named
    rules = [o for o in objects if o["kind"] == "PrometheusRule"]
    assert len(rules) == int(rule)
    if rule:
        alerts = {r["alert"] for g in rules[0]["spec"]["groups"] for r in g["rules"]}
        assert alerts == {"PeribolosSyncFailed", "PeribolosTokenBelowMargin", "PeribolosRefresherFailed"}


def _selected(selector: dict[str, Any], obj: dict[str, Any]) -> bool:
    labels = obj["metadata"]["labels"]
    return all(labels.get(e["key"]) in e["values"] for e in selector["matchExpressions"])


def test_the_exporter_reads_no_secret_and_writes_nothing() -> None:
    objects = flat_objects("defaults")
    rules = _one(objects, "Role", "peribolos-exporter")["rules"]
    assert all(not {"create", "update", "patch", "delete"} & set(r["verbs"]) for r in rules)
    assert all("secrets" not in r["resources"] for r in rules)
    (config_maps,) = [r for r in rules if r["resources"] == ["configmaps"]]
    assert config_maps["resourceNames"] == ["peribolos-mint-budget", "peribolos-refresher-status"]
    pod = _one(objects, "Deployment", "peribolos-exporter")["spec"]["template"]["spec"]
    assert "volumes" not in pod
    assert all("valueFrom" not in e or "fieldRef" in e["valueFrom"] for e in pod["containers"][0]["env"])


def test_interceptor_keeps_serving_while_its_endpoint_is_removed() -> None:
    """A request refused during a rollout is an event lost: GitHub got its 202 and does not redeliver."""
    deployment = _one(flat_objects("defaults"), "Deployment", "peribolos-interceptor")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(pre_stop[1]) + GRACEFUL_SHUTDOWN_SECONDS


@pytest.mark.parametrize(
    ("sets", "endpoint", "graphql"),
    [
        pytest.param([], "https://api.github.com", "https://api.github.com/graphql", id="github.com"),
        pytest.param(
            ["github.apiUrl=https://ghe.example.com/api/v3"],
            "https://ghe.example.com/api/v3",
            "https://ghe.example.com/api/graphql",
            id="enterprise-derived",
        ),
        pytest.param(
            ["github.apiUrl=https://ghe.example.com/api/v3", "github.graphqlUrl=https://gql.example.com/"],
            "https://ghe.example.com/api/v3",
            "https://gql.example.com/",
            id="explicit",
        ),
    ],
)
def test_peribolos_calls_the_graphql_endpoint_of_the_configured_github(
    sets: list[str], endpoint: str, graphql: str
) -> None:
    """peribolos' own default is github.com's GraphQL: an Enterprise install must never fall back to it."""
    objects = [o for group in render_objects(load_values([], sets)).values() for o in group]
    for task in ("peribolos-sync", "peribolos-dry-run"):
        args = _task_step(objects, task, "peribolos")["args"]
        assert f"--github-endpoint={endpoint}" in args
        assert [a for a in args if a.startswith("--github-graphql-endpoint=")] == [
            f"--github-graphql-endpoint={graphql}"
        ]


CLUSTER_SCOPED = ("ClusterInterceptor", "ClusterRole", "ClusterRoleBinding")


@pytest.mark.parametrize(
    ("namespace", "name"),
    [("peribolos", "peribolos"), ("team-a", "peribolos-team-a"), ("peribolos-x", "peribolos-peribolos-x")],
)
def test_the_cluster_interceptor_is_named_for_its_namespace_and_the_triggers_call_it(
    namespace: str, name: str
) -> None:
    rendered = render_objects(load_values([], [f"namespace={namespace}"]))
    objects = [o for group in rendered.values() for o in group]
    interceptor = _one(objects, "ClusterInterceptor", name)
    assert interceptor["spec"]["clientConfig"]["service"]["namespace"] == namespace
    listener = _one(objects, "EventListener", "peribolos")
    refs = {i["ref"]["name"] for t in listener["spec"]["triggers"] for i in t["interceptors"]}
    assert refs == {"github", name}


def test_two_installs_share_no_cluster_wide_object() -> None:
    """Applying a second install must never re-point (or, deleted, remove) the first one's objects."""
    names = []
    for namespace in ("peribolos", "team-a", "peribolos-team"):
        values = load_values([], [f"namespace={namespace}"])
        objects = [o for group in render_objects(values).values() for o in group]
        names.append({(o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] in CLUSTER_SCOPED})
    assert all(len(found) == 3 for found in names)
    for index, found in enumerate(names):
        for other in names[index + 1 :]:
            assert not found & other


def test_tasks_carry_the_tekton_catalog_annotations(case: str) -> None:
    for task in _find(flat_objects(case), "Task"):
        annotations = task["metadata"]["annotations"]
        assert annotations["tekton.dev/pipelines.minVersion"] == "1.15.0"
        assert annotations["tekton.dev/displayName"] == "peribolos " + task["metadata"]["name"].removeprefix(
            "peribolos-"
        )
        assert "peribolos" in annotations["tekton.dev/tags"].split(", ")
        assert annotations["tekton.dev/platforms"] == "linux/amd64"
        assert task["metadata"]["labels"]["app.kubernetes.io/version"]


@pytest.mark.parametrize(
    ("sets", "actions", "app_id_required"),
    [
        pytest.param([], "install,uninstall,sync,dry-run", True, id="check-runs-wired"),
        pytest.param(["events.sync=false", "events.dryRun=false"], "install,uninstall", False,
                     id="no-check-runs"),
    ],
)
def test_the_interceptor_needs_the_app_id_exactly_when_check_runs_are_wired(
    sets: list[str], actions: str, app_id_required: bool
) -> None:
    rendered = render_objects(load_values(sets=sets))
    objects = [o for group in rendered.values() for o in group]
    pod = _one(objects, "Deployment", "peribolos-interceptor")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    command = container["command"]
    assert command[command.index("--actions") + 1] == actions
    app_id = [e for e in container.get("env", []) if e["name"] == "GITHUB_APP_ID"]
    assert bool(app_id) is app_id_required
    if app_id:
        assert "optional" not in app_id[0]["valueFrom"]["secretKeyRef"], "the pod waits for the App id"
