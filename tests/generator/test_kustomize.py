"""The render is a kustomize base that survives overlays, built with a real ``kubectl kustomize``.

An overlay's ``images:`` reaches the Tekton Task steps (the base's kustomizeconfig.yml). A ``namespace:``
overlay would move the token Secrets' namespace into the App key's: kustomize refuses it when the base
renders both Namespaces, and ``validate`` says so when it does not (besides warning that the cluster-wide
objects keep the base's names). On the real API server the overlay applies with ``kubectl apply -k``.

kubectl comes from ``$KUBECTL`` or PATH; without one these tests fail and say so (they never skip).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import main
from generator.render import KUSTOMIZATION, cluster_interceptor_name
from generator.validate import Document, validate_documents

OUR_IMAGE = "ghcr.io/peribolos-as-a-service/peribolos-as-a-service"
PERIBOLOS_IMAGE = "us-docker.pkg.dev/k8s-infra-prow/images/peribolos"
DIGEST = "sha256:" + "ab" * 32
IMAGES = [
    {"name": OUR_IMAGE, "newName": "registry.example.com/paas", "newTag": "0.2.0"},
    {"name": PERIBOLOS_IMAGE, "newName": "registry.example.com/mirror/peribolos", "digest": DIGEST},
]
WANTED = {"registry.example.com/paas:0.2.0", f"registry.example.com/mirror/peribolos@{DIGEST}"}


def kubectl() -> str:
    found = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not found:
        pytest.fail(
            "no kubectl (with kustomize) on PATH and $KUBECTL unset: these tests build the render with the "
            "kustomize users run; install kubectl >= 1.27 or point KUBECTL at one",
            pytrace=False,
        )
    return found


def _kustomize(folder: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(folder)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _render(folder: Path, *sets: str) -> Path:
    args = ["render", "--output-dir", str(folder)]
    for item in sets:
        args += ["--set", item]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    return folder


def _overlay(folder: Path, base: Path, **fields: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(base, folder)],
        **fields,
    }
    (folder / KUSTOMIZATION).write_text(yaml.safe_dump(kustomization))
    return folder


def _images(docs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """kind/name → every image of its containers and steps."""
    out: dict[str, set[str]] = {}

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict):
            for child_key, child in value.items():
                if child_key == "image" and isinstance(child, str):
                    out.setdefault(key, set()).add(child)
                else:
                    walk(child, key)
        elif isinstance(value, list):
            for item in value:
                walk(item, key)

    for doc in docs:
        walk(doc.get("spec"), f"{doc['kind']}/{doc['metadata']['name']}")
    return out


def _validate(docs: list[dict[str, Any]]) -> Any:
    return validate_documents([Document("<kustomize>", doc) for doc in docs], [])


def _one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    (found,) = [doc for doc in docs if doc["kind"] == kind and name in (None, doc["metadata"]["name"])]
    return found


def test_the_base_builds_to_exactly_the_render(tmp_path: Path) -> None:
    base = _render(tmp_path / "base")
    built = _kustomize(base)
    rendered = [
        doc
        for name in yaml.safe_load((base / KUSTOMIZATION).read_text())["resources"]
        for doc in yaml.safe_load_all((base / name).read_text())
    ]
    key = lambda doc: (doc["kind"], doc["metadata"]["name"])  # noqa: E731
    assert sorted(built, key=key) == sorted(rendered, key=key)


def test_an_overlay_with_images_reaches_every_step(tmp_path: Path) -> None:
    base = _render(tmp_path / "base")
    docs = _kustomize(_overlay(tmp_path / "overlay", base, images=IMAGES))
    images = _images(docs)
    assert {
        "Task/peribolos-sync",
        "Task/peribolos-install",
        "Deployment/peribolos-interceptor",
        "CronJob/peribolos-token-refresher",
    } <= set(images)
    for where, found in images.items():
        assert found <= WANTED, (where, found)
    assert images["Task/peribolos-sync"] == WANTED
    assert _validate(docs).problems == []


def test_a_namespace_overlay_is_refused(tmp_path: Path) -> None:
    """It would put the token Secrets where the App key is: kustomize refuses to merge the two Namespaces
    the base renders; without them (createNamespace: false) validate names each Role it would open up."""
    base = _render(tmp_path / "base")
    done = subprocess.run(
        [kubectl(), "kustomize", str(_overlay(tmp_path / "overlay", base, namespace="team-a"))],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode != 0 and "ID conflict" in done.stderr
    base = _render(tmp_path / "bare", "createNamespace=false")
    docs = _kustomize(_overlay(tmp_path / "bare-overlay", base, namespace="team-a"))
    service = _one(docs, "ClusterInterceptor")["spec"]["clientConfig"]["service"]
    assert service == {"name": "peribolos-interceptor", "namespace": "team-a", "port": 8080}
    report = _validate(docs)
    opened = sorted(p.split(": ")[1] for p in report.problems)
    assert opened == ["Role/peribolos-install", "Role/peribolos-refresher", "Role/peribolos-uninstall"]
    assert all("grants Secrets in team-a, where the App key Secret lives" in p for p in report.problems)
    (warning,) = report.warnings
    assert warning.startswith(
        "the cluster-wide ClusterRole/peribolos-eventlistener-peribolos, ClusterRoleBinding/"
        "peribolos-eventlistener-peribolos, ClusterInterceptor/peribolos belong to the install in namespace "
        "peribolos, but these manifests install into team-a: applying them takes those objects over"
    )


def test_a_base_rendered_for_its_namespace_takes_images_and_patches_without_a_warning(tmp_path: Path) -> None:
    base = _render(tmp_path / "base", "namespace=team-a")
    patch = {
        "patch": '[{"op": "replace", "path": "/spec/replicas", "value": 3}]',
        "target": {"kind": "Deployment", "name": "peribolos-interceptor"},
    }
    overlay = _overlay(tmp_path / "overlay", base, images=IMAGES, patches=[patch])
    docs = _kustomize(overlay)
    assert _one(docs, "Deployment", "peribolos-interceptor")["spec"]["replicas"] == 3
    assert _one(docs, "ClusterInterceptor")["metadata"]["name"] == cluster_interceptor_name("team-a")
    report = _validate(docs)
    assert (report.problems, report.warnings) == ([], [])
    # Re-rendering the base leaves the overlay (the user's kustomization.yaml) alone.
    before = (overlay / KUSTOMIZATION).read_text()
    _render(base, "namespace=team-a", "interceptor.replicas=4")
    assert (overlay / KUSTOMIZATION).read_text() == before


def test_validate_catches_a_namespace_overlay_on_a_base_without_its_configuration(tmp_path: Path) -> None:
    base = _render(tmp_path / "base", "createNamespace=false")
    kustomization = yaml.safe_load((base / KUSTOMIZATION).read_text())
    del kustomization["configurations"]
    (base / KUSTOMIZATION).write_text(yaml.safe_dump(kustomization))
    docs = _kustomize(_overlay(tmp_path / "overlay", base, namespace="team-a"))
    assert (
        "<kustomize>: ClusterInterceptor/peribolos: spec.clientConfig.service.namespace: 'peribolos', but "
        "the Service peribolos-interceptor is in team-a: the EventListener would call another install's "
        "interceptor or none (an overlay's namespace: on a base without its kustomizeconfig.yml?)"
    ) in _validate(docs).problems


def test_validate_reads_a_kustomize_build_on_stdin(tmp_path: Path) -> None:
    base = _render(tmp_path / "base", "createNamespace=false")
    overlay = _overlay(tmp_path / "overlay", base, namespace="team-a")
    stream = subprocess.run(
        [kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    result = CliRunner().invoke(main, ["validate", "-"], input=stream)
    assert result.exit_code == 1, result.stderr
    assert "warning: the cluster-wide ClusterRole/peribolos-eventlistener-peribolos" in result.stderr
    assert "Role/peribolos-install: rules[0]: grants Secrets in team-a" in result.stderr


def test_the_overlay_applies_on_the_real_api_server(kube_apiserver: Any, tmp_path: Path) -> None:
    """kubectl apply -k of an images: overlay: every object accepted, the images in every step."""
    from kubernetes import client

    base = _render(tmp_path / "base", "namespace=kust-base")
    overlay = _overlay(tmp_path / "overlay", base, images=IMAGES)
    done = subprocess.run(
        [kubectl(), "--kubeconfig", str(kube_apiserver.kubeconfig), "apply", "-k", str(overlay)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    api = client.CustomObjectsApi(kube_apiserver.api_client())
    interceptor = api.get_cluster_custom_object(
        "triggers.tekton.dev", "v1alpha1", "clusterinterceptors", cluster_interceptor_name("kust-base")
    )
    assert interceptor["spec"]["clientConfig"]["service"]["namespace"] == "kust-base"
    task = api.get_namespaced_custom_object("tekton.dev", "v1", "kust-base", "tasks", "peribolos-sync")
    assert {step["image"] for step in task["spec"]["steps"]} == WANTED


def test_without_kubectl_these_tests_fail_and_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECTL", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception, match=r"no kubectl \(with kustomize\) on PATH"):
        kubectl()
