"""Peribolos as a Service installed on the test cluster the way docs/operations.md tells a user to:
``peribolos-generate render --values``, the GitHub App Secret with ``kubectl create secret``,
``kubectl apply -k``, then waiting for the EventListener and the interceptor.

The values differ from the defaults only where this cluster differs from a production one: the images
are the locally built ones, GitHub is the fake on the node's address.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helpers import sign
from tests.infra import images
from tests.infra.cluster import Cluster, ClusterError

if TYPE_CHECKING:
    from tests.fakes.github import FakeGitHub

NAMESPACE = "peribolos"
EVENTLISTENER = "peribolos"
APP_SECRET = "peribolos-github-app"


def console_script(name: str) -> str:
    """A console script of this checkout's venv (the one running the tests)."""
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        raise ClusterError(f"{name} is not installed in {Path(sys.executable).parent}: run `make venv`")
    return found


def render_manifests(output_dir: Path, sets: Mapping[str, str]) -> list[dict[str, Any]]:
    """``peribolos-generate render --set k=v ... --output-dir DIR``, read back as ``kubectl apply -k`` would
    (the files kustomization.yaml lists, in its order)."""
    args = [console_script("peribolos-generate"), "render", "--output-dir", str(output_dir)]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise ClusterError(f"peribolos-generate render failed ({done.returncode}): {done.stderr}")
    kustomization = yaml.safe_load((output_dir / "kustomization.yaml").read_text())
    files = [output_dir / name for name in kustomization["resources"]]
    present = sorted(p.name for p in output_dir.glob("*.yaml") if p.name != "kustomization.yaml")
    if sorted(f.name for f in files) != present:
        raise ClusterError(f"kustomization.yaml lists {[f.name for f in files]}, the folder has {present}")
    return [doc for path in files for doc in yaml.safe_load_all(path.read_text()) if doc]


@dataclass
class Product:
    """The installed service: where to send webhooks, the secret that signs them, the rendered files."""

    cluster: Cluster
    namespace: str
    manifests: Path
    webhook_secret: bytes = field(repr=False)
    eventlistener_url: str
    values: dict[str, Any]

    @property
    def token_namespace(self) -> str:
        """Where the installations' token Secrets live (the render's default: ``<namespace>-tokens``)."""
        return self.values.get("tokenNamespace") or f"{self.namespace}-tokens"

    def send_webhook(
        self,
        event: str,
        payload: Mapping[str, Any] | bytes,
        *,
        delivery_id: str | None = None,
        secret: bytes | None = None,
        signed: bool = True,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float = 10,
    ) -> tuple[str, requests.Response]:
        """POST a webhook to the EventListener's Service as GitHub does; returns (delivery id, response).
        ``signed=False`` leaves ``X-Hub-Signature-256`` out (``extra_headers`` may set a wrong one)."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        delivery = delivery_id or str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "User-Agent": "GitHub-Hookshot/e2e",
        }
        if signed:
            headers["X-Hub-Signature-256"] = sign(body, secret or self.webhook_secret)
        headers.update(extra_headers or {})
        response = requests.post(self.eventlistener_url, data=body, headers=headers, timeout=timeout)
        return delivery, response


def product_values(
    github_api_url: str, github_port: int, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The values file of the test install (a user's own ``my-values.yaml``)."""
    ref = images.product_ref()
    repository, tag = ref.rsplit(":", 1)
    values: dict[str, Any] = {
        "image": {"repository": repository, "tag": tag},
        "peribolosImage": {
            "repository": images.PERIBOLOS_REF.rsplit(":", 1)[0],
            "tag": images.PERIBOLOS_REF.rsplit(":", 1)[1],
        },
        "github": {"apiUrl": github_api_url},
        # The fake GitHub's port, besides GitHub's 443 and the apiserver's 6443.
        "networkPolicy": {"egressPorts": [443, 6443, github_port]},
    }
    return _merge(values, dict(overrides or {}))


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, Mapping) and isinstance(out.get(key), dict)
            else value
        )
    return out


def install_with_fake_github(
    cluster: Cluster,
    workdir: Path,
    github: FakeGitHub,
    *,
    app_id: str,
    app_key: rsa.RSAPrivateKey,
    overrides: Mapping[str, Any] | None = None,
) -> Product:
    """:func:`install_product` with the started fake ``github`` (on the node address) as the App's GitHub."""
    return install_product(
        cluster,
        workdir,
        app_id=app_id,
        app_key=app_key,
        github_api_url=github.api_url,
        github_port=int(github.url.rsplit(":", 1)[1]),
        overrides=overrides,
    )


def install_product(
    cluster: Cluster,
    workdir: Path,
    *,
    app_id: str,
    app_key: rsa.RSAPrivateKey,
    github_api_url: str,
    github_port: int,
    overrides: Mapping[str, Any] | None = None,
    timeout: float = 180,
) -> Product:
    """Render, create the App Secret, ``kubectl apply -k``, wait until the EventListener answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    values = product_values(github_api_url, github_port, overrides)
    namespace = values.get("namespace", NAMESPACE)
    values_file = workdir / "my-values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    manifests = workdir / "manifests"
    render = subprocess.run(
        [
            console_script("peribolos-generate"),
            "render",
            "--values",
            str(values_file),
            "--output-dir",
            str(manifests),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if render.returncode != 0:
        raise ClusterError(f"peribolos-generate render failed: {render.stderr.strip()}")

    webhook_secret = secrets.token_hex(20).encode()
    key_file = workdir / "app.private-key.pem"
    key_file.write_bytes(
        app_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    # docs/operations.md, Install, step 3 and 4, as written there.
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl(
        "-n",
        namespace,
        "create",
        "secret",
        "generic",
        APP_SECRET,
        f"--from-literal=app-id={app_id}",
        f"--from-file=private-key.pem={key_file}",
        f"--from-literal=webhook-secret={webhook_secret.decode()}",
    )
    cluster.kubectl("apply", "-k", str(manifests), timeout=180)
    started = time.monotonic()
    cluster.wait_available(namespace, [f"el-{EVENTLISTENER}", "peribolos-interceptor"], timeout=timeout)
    cluster.startup_seconds["product ready"] = round(time.monotonic() - started, 2)
    service = cluster.kubectl("-n", namespace, "get", "service", f"el-{EVENTLISTENER}", "-o", "json")
    spec = json.loads(service.stdout)["spec"]
    port = next(p["port"] for p in spec["ports"] if p.get("name", "").startswith("http"))
    url = f"http://{spec['clusterIP']}:{port}"
    product = Product(cluster, namespace, manifests, webhook_secret, url, values)
    _wait_listening(product)
    return product


def _wait_listening(product: Product, timeout: float = 60) -> None:
    """The EventListener answers on its Service (its Pod is Ready; kube-proxy has the rule)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if requests.get(product.eventlistener_url + "/live", timeout=2).status_code == 200:
                return
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.3)
    raise ClusterError(f"the EventListener did not answer on {product.eventlistener_url}: {last!r}")
