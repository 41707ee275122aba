"""The whole product wired on the real engine, as a plain function (used by the fixtures and the bench).

:func:`start_stack`: the generator's manifests applied server-side to a :class:`ControlPlane`, the GitHub
App Secret created, ``peribolos-interceptor`` and Tekton Triggers' EventListener sink started as local
processes (the sink with the ``peribolos-eventlistener`` ServiceAccount's own token, so the rendered RBAC
is what lets it work), and a :class:`FakeGitHub` as the API.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.harness import (
    Interceptor,
    Sink,
    console_script,
    eventlistener_env,
    start_core_interceptors,
    start_interceptor,
    start_sink,
)
from tests.fakes.github import FakeGitHub
from tests.infra.controlplane import ControlPlane, Process, free_port

NAMESPACE = "peribolos"
EVENTLISTENER = "peribolos"


@dataclass
class Stack:
    plane: ControlPlane
    github: FakeGitHub
    sink: Sink
    interceptor: Interceptor
    webhook_secret: bytes
    namespace: str
    workdir: Path
    manifests: list[dict[str, Any]]
    processes: list[Process] = field(default_factory=list)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()


def render_manifests(output_dir: Path, sets: dict[str, str]) -> list[dict[str, Any]]:
    """``peribolos-generate render --set k=v ... --output-dir DIR``, read back as `kubectl apply -k` would."""
    args = [console_script("peribolos-generate"), "render", "--output-dir", str(output_dir)]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"peribolos-generate render failed ({done.returncode}): {done.stderr}")
    # What `kubectl apply -k DIR` applies: the files kustomization.yaml lists, in its order.
    kustomization = yaml.safe_load((output_dir / "kustomization.yaml").read_text())
    files = [output_dir / name for name in kustomization["resources"]]
    present = sorted(p.name for p in output_dir.glob("*.yaml") if p.name != "kustomization.yaml")
    if sorted(f.name for f in files) != present:
        raise RuntimeError(f"kustomization.yaml lists {[f.name for f in files]}, the folder has {present}")
    return [doc for path in files for doc in yaml.safe_load_all(path.read_text()) if doc]


def _eventlistener(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (eventlistener,) = [
        d for d in docs if d["kind"] == "EventListener" and d["metadata"]["name"] == EVENTLISTENER
    ]
    return eventlistener


def apply_in_order(plane: ControlPlane, docs: list[dict[str, Any]]) -> None:
    """Namespaces first, then the rest (server-side apply: the API server validates every object)."""
    plane.apply([d for d in docs if d["kind"] == "Namespace"])
    plane.apply([d for d in docs if d["kind"] != "Namespace"])


def start_stack(
    plane: ControlPlane,
    github: FakeGitHub,
    app_id: str,
    app_key: rsa.RSAPrivateKey,
    workdir: Path,
    *,
    namespace: str = NAMESPACE,
    github_interceptor: bool = False,
    share_with: Stack | None = None,
    sink_env: dict[str, str] | None = None,
) -> Stack:
    """Render with ``namespace`` and ``eventListener.githubInterceptor``, apply, start what runs.

    The first stack on a control plane starts Triggers' core interceptors and ``peribolos-interceptor``;
    a stack made with ``share_with`` renders the ClusterInterceptor with the same URL and reuses them and
    their webhook secret, and starts only its own EventListener sink. ``sink_env`` is added to the
    sink's environment after the EventListener's own container env.
    """
    from kubernetes import client

    workdir.mkdir(parents=True, exist_ok=True)
    interceptor_port = share_with.interceptor.port if share_with else free_port()
    docs = render_manifests(
        workdir / "manifests",
        {
            "namespace": namespace,
            "interceptor.url": f"http://127.0.0.1:{interceptor_port}",
            "eventListener.githubInterceptor": "true" if github_interceptor else "false",
            "github.apiUrl": github.api_url,
        },
    )
    apply_in_order(plane, docs)

    webhook_secret = share_with.webhook_secret if share_with else secrets.token_hex(20).encode()
    key_pem = app_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    core = client.CoreV1Api(plane.api_client())
    body = client.V1Secret(
        metadata=client.V1ObjectMeta(name="peribolos-github-app"),
        string_data={"app-id": app_id, "private-key.pem": key_pem, "webhook-secret": webhook_secret.decode()},
    )
    try:
        core.create_namespaced_secret(namespace, body)
    except client.exceptions.ApiException as exc:
        if exc.status != 409:
            raise
        core.replace_namespaced_secret("peribolos-github-app", namespace, body)

    processes: list[Process] = []
    try:
        if share_with is None:
            secret_file = workdir / "webhook-secret"
            secret_file.write_bytes(webhook_secret + b"\n")
            secret_file.chmod(0o600)
            processes.append(start_core_interceptors(plane, plane.log_dir / "core-interceptors.log"))
            interceptor = start_interceptor(
                secret_file,
                plane.log_dir / "peribolos-interceptor.log",
                port=interceptor_port,
                extra_args=[f"--app-id={app_id}"],
            )
            processes.append(interceptor.process)
        else:
            interceptor = share_with.interceptor
        sink = start_sink(
            plane.tools,
            plane.service_account_kubeconfig(namespace, "peribolos-eventlistener"),
            EVENTLISTENER,
            namespace,
            plane.log_dir / f"eventlistenersink-{namespace}.log",
            processes=plane.processes,
            extra_env={**eventlistener_env(_eventlistener(docs)), **(sink_env or {})},
        )
        processes.append(sink.process)
    except BaseException:
        for proc in reversed(processes):
            proc.stop()
        raise
    plane.processes.extend(processes)  # their logs show up in failure reports
    return Stack(plane, github, sink, interceptor, webhook_secret, namespace, workdir, docs, processes)
