"""``make cluster-up`` / ``make cluster-down``: the test cluster with the product installed, for trying it.

    python -m tests.infra.localcluster up        # prints KUBECONFIG=... and NETNS=... when ready
    python -m tests.infra.localcluster webhook push|pull_request|install|uninstall [--org ORG]
    python -m tests.infra.localcluster status
    python -m tests.infra.localcluster down

``up`` makes the named network namespace ``peribolos-e2e`` (``ip netns add``) and starts, inside it and in
the background, the fake GitHub on the node's address (org ``octo-org``, installation 1001, a
``.github`` repository holding a ``peribolos.yaml``), the cluster (:mod:`tests.infra.cluster`) and the
product installed as docs/operations.md says. Everything listens inside that namespace only:
``ip netns exec peribolos-e2e kubectl get pods -A`` (or the built ``$E2E_CACHE/bin/kubectl``) reaches it.
``webhook`` signs a real GitHub payload of that kind and posts it to the EventListener's Service.
``down`` stops every process and deletes the namespace.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

NETNS = "peribolos-e2e"
APP_ID = "4242"
ORG = "octo-org"
INSTALLATION_ID = 1001
CONFIG = b"orgs:\n  octo-org:\n    admins: [alice, bob]\n    members: [carol]\n"


def state_dir() -> Path:
    from tests.infra.images import cache_dir

    return cache_dir() / "local-cluster"


def _ready_file() -> Path:
    return state_dir() / "ready.json"


def _pid_file() -> Path:
    return state_dir() / "serve.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _running_pid() -> int | None:
    try:
        pid = int(_pid_file().read_text())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def up(timeout: float = 900) -> int:
    if _running_pid():
        return status()
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    _ready_file().unlink(missing_ok=True)
    existing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    if NETNS not in existing:
        subprocess.run(["ip", "netns", "add", NETNS], check=True)
    log = (state / "serve.log").open("wb")
    proc = subprocess.Popen(
        # nsenter, not `ip netns exec`: that one remounts /sys for the namespace, which hides the cgroup
        # mounts the kubelet needs.
        ["nsenter", f"--net=/run/netns/{NETNS}", sys.executable, "-m", "tests.infra.localcluster", "serve"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    _pid_file().write_text(str(proc.pid))
    print(
        f"cluster-up: starting in network namespace {NETNS} (log {state / 'serve.log'}) ...", file=sys.stderr
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _ready_file().exists():
            return status()
        if proc.poll() is not None:
            print(
                f"cluster-up: failed (exit {proc.returncode}); last lines of {state / 'serve.log'}:",
                file=sys.stderr,
            )
            print(
                "\n".join((state / "serve.log").read_text(errors="replace").splitlines()[-30:]),
                file=sys.stderr,
            )
            subprocess.run(["ip", "netns", "del", NETNS], capture_output=True)
            return 1
        time.sleep(1)
    print("cluster-up: not ready in time; `make cluster-down` stops what started", file=sys.stderr)
    return 1


def status() -> int:
    try:
        ready = json.loads(_ready_file().read_text())
    except (OSError, ValueError):
        print("cluster: not running (make cluster-up)", file=sys.stderr)
        return 1
    print(f"KUBECONFIG={ready['kubeconfig']}")
    print(f"NETNS={ready['netns']}")
    print(
        f"# ip netns exec {ready['netns']} {ready['kubectl']} --kubeconfig {ready['kubeconfig']} get pods -A",
        file=sys.stderr,
    )
    print(
        "# python -m tests.infra.localcluster webhook push   (or pull_request, install, uninstall)",
        file=sys.stderr,
    )
    print(f"# EventListener {ready['eventlistener_url']}, fake GitHub {ready['github_url']}", file=sys.stderr)
    return 0


def down(timeout: float = 120) -> int:
    pid = _running_pid()
    if pid:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
    _pid_file().unlink(missing_ok=True)
    _ready_file().unlink(missing_ok=True)
    if NETNS in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split():
        subprocess.run(["ip", "netns", "del", NETNS], check=False)
    print("cluster-down: stopped" if pid else "cluster-down: nothing was running", file=sys.stderr)
    return 0


def serve() -> int:
    """Inside the named namespace: fake GitHub, cluster, product; until SIGTERM."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.fakes.github import FakeGitHub
    from tests.infra.cluster import NODE_IP, start_cluster
    from tests.infra.product import install_with_fake_github

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    state = state_dir()
    workdir = state / "run"
    if workdir.exists():
        subprocess.run(["rm", "-rf", str(workdir)], check=False)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    github = FakeGitHub(APP_ID, key.public_key(), host=NODE_IP)
    cluster = None
    try:
        cluster = start_cluster(workdir)
        github.start()
        github.add_installation(INSTALLATION_ID, ORG)
        github.add_org(ORG, admins=["alice", "bob"])
        github.add_repo(f"{ORG}/.github", files={"peribolos.yaml": CONFIG})
        head = github.head_sha(f"{ORG}/.github")
        product = install_with_fake_github(cluster, workdir / "product", github, app_id=APP_ID, app_key=key)
        secret_file = state / "webhook-secret"
        secret_file.write_bytes(product.webhook_secret)
        secret_file.chmod(0o600)
        ready = {
            "kubeconfig": str(cluster.kubeconfig),
            "netns": NETNS,
            "kubectl": str(cluster.tools.bin("kubectl")),
            "eventlistener_url": product.eventlistener_url,
            "github_url": github.url,
            "webhook_secret_file": str(secret_file),
            "head": head,
            "startup_seconds": cluster.startup_seconds,
        }
        _ready_file().write_text(json.dumps(ready, indent=2))
        print(f"ready: {json.dumps(cluster.startup_seconds)}", flush=True)
        stop.wait()
        return 0
    finally:
        _ready_file().unlink(missing_ok=True)
        github.stop()
        if cluster is not None:
            cluster.stop()


def webhook(kind: str, org: str) -> int:
    """Send one signed webhook of ``kind`` to the running cluster's EventListener (inside its namespace)."""
    ready = json.loads(_ready_file().read_text())
    from tests.infra.cluster import in_isolated_netns

    if not in_isolated_netns():
        return subprocess.run(
            [
                "nsenter",
                f"--net=/run/netns/{ready['netns']}",
                sys.executable,
                "-m",
                "tests.infra.localcluster",
                "webhook",
                kind,
                "--org",
                org,
            ],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        ).returncode
    import requests

    from tests.e2e import payloads
    from tests.helpers import sign

    event, payload = _payload(kind, org, ready["head"], payloads)
    body = json.dumps(payload).encode()
    secret = Path(ready["webhook_secret_file"]).read_bytes()
    delivery = f"local-{int(time.time() * 1000)}"
    response = requests.post(
        ready["eventlistener_url"],
        data=body,
        timeout=10,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(body, secret),
        },
    )
    print(f"{event} delivery {delivery}: HTTP {response.status_code} {response.text.strip()[:200]}")
    return 0 if response.status_code < 300 else 1


def _payload(kind: str, org: str, head: str, payloads: Any) -> tuple[str, dict[str, Any]]:
    if kind == "install":
        return "installation", payloads.installation("created", INSTALLATION_ID, org)
    if kind == "uninstall":
        return "installation", payloads.installation("deleted", INSTALLATION_ID, org)
    if kind == "push":
        return "push", payloads.push(INSTALLATION_ID, org, after=head)
    if kind == "pull_request":
        return "pull_request", payloads.pull_request(INSTALLATION_ID, org, head_sha=head)
    raise SystemExit(f"unknown webhook kind {kind!r}: install, uninstall, push, pull_request")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.infra.localcluster", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the cluster with the product (prints KUBECONFIG= and NETNS=)")
    sub.add_parser("down", help="stop it and delete the network namespace")
    sub.add_parser("status", help="print KUBECONFIG= and NETNS= of the running cluster")
    sub.add_parser("serve", help=argparse.SUPPRESS)
    hook = sub.add_parser("webhook", help="send a signed webhook to the EventListener")
    hook.add_argument("kind", choices=["install", "uninstall", "push", "pull_request"])
    hook.add_argument("--org", default=ORG)
    args = parser.parse_args(argv)
    if args.command == "up":
        return up()
    if args.command == "down":
        return down()
    if args.command == "status":
        return status()
    if args.command == "serve":
        return serve()
    return webhook(args.kind, args.org)


if __name__ == "__main__":
    sys.exit(main())
