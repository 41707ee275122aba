"""A real single-node Kubernetes cluster with Tekton, built and run by the project's own code.

Everything lives inside the network namespace the test run made (``make test`` runs pytest in one;
``make cluster-up`` makes a named one): a bridge ``pbr0`` without ports holds the node address
10.250.0.1; kube-apiserver, the kubelet and the fake GitHub listen there; Pods get 10.244.0.0/24 on the
CNI bridge ``cni0``; kube-proxy (iptables mode) gives Services 10.96.0.0/16. Nothing is reachable from,
or routed to, any address outside that namespace.

The parts, from the pinned Go modules (``make e2e-tools``) and Debian's packages (``make cluster-tools``):
etcd, kube-apiserver (Node,RBAC authorizers, NodeRestriction and PodSecurity admission),
kube-controller-manager, kube-scheduler, kube-proxy as processes; containerd + runc + the CNI plugins and
the kubelet in the node's own PID and mount namespaces (:mod:`tests.infra.node`); CoreDNS, Tekton
Pipelines and Tekton Triggers as Pods, installed from their modules' release config (``config/``) with
every ``ko://`` reference replaced by a locally made image (:mod:`tests.infra.images`).

Host rule: the kubelet's sysctls are shielded in its mount namespace (it only reads them), the
``kubepods`` cgroups live under a cgroup root of this run's own and are removed at stop, and
:meth:`Cluster.stop` checks that the host's kernel settings are what they were before the start.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import free_port
from tests.infra import images as image_builder
from tests.infra.controlplane import (
    ControlPlane,
    ControlPlaneError,
    Process,
    Tools,
    find_tools,
    wait_until,
)
from tests.infra.node import KUBELET_SYSCTLS

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_NAME = "peribolos-node"
BRIDGE = "pbr0"
NODE_IP = "10.250.0.1"
NODE_PREFIX = 24
POD_CIDR = "10.244.0.0/24"
CLUSTER_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
APISERVER_PORT = 6443
WATCHED_HOST_SYSCTLS = (
    *KUBELET_SYSCTLS,
    "net/netfilter/nf_conntrack_max",
    "net/netfilter/nf_conntrack_tcp_timeout_established",
    "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
    "kernel/pid_max",
    "fs/inotify/max_user_watches",
    "fs/inotify/max_user_instances",
)
"""Host-wide kernel settings the kubelet or kube-proxy would write if let: the same after a run as before."""

TEKTON_PIPELINES_NAMESPACE = "tekton-pipelines"
PIPELINE_RELEASE_SKIPPED = ("events.yaml", "webhook-hpa.yaml")
"""Release files not applied: the CloudEvents controller (no sink here) and the webhook's HPA (no metrics
server). ``resolvers/`` (remote resolution) is not applied either: our TaskRuns name local Tasks."""


class ClusterError(ControlPlaneError):
    """The cluster could not be started or stopped cleanly; the message says what to do."""


# ------------------------------------------------------------------------------------------- host checks


OWN_LINKS = re.compile(r"^(lo|pbr0|cni0|veth[0-9a-f]+)$")


def in_isolated_netns() -> bool:
    """True in a network namespace the test run made: not the host's (``E2E_HOST_NETNS``, the inode
    ``isolated-net.sh`` and ``cluster-up`` record before they unshare, differs), holding no interface but
    loopback and the cluster's own, and no default route."""
    host = os.environ.get("E2E_HOST_NETNS")
    if host and str(os.stat("/proc/self/ns/net").st_ino) == host:
        return False
    # Asked over netlink (ip), not /sys/class/net: sysfs shows the namespace it was mounted in.
    listing = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    links = [line.split(":")[1].strip().split("@")[0] for line in listing.splitlines() if ":" in line]
    if any(not OWN_LINKS.match(name) for name in links):
        return False
    routes = subprocess.run(["ip", "route", "show", "default"], capture_output=True, text=True).stdout
    return not routes.strip()


def read_host_sysctls() -> dict[str, str]:
    values = {}
    for key in WATCHED_HOST_SYSCTLS:
        try:
            values[key] = Path("/proc/sys", key).read_text().strip()
        except OSError:
            values[key] = "(absent)"
    return values


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0 and "File exists" not in result.stderr:
        raise ClusterError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")


def setup_network() -> None:
    """The node's bridge and address, forwarding and the Service route, in this (isolated) namespace."""
    _ip("link", "set", "lo", "up")
    _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "add", f"{NODE_IP}/{NODE_PREFIX}", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    # So that this namespace's own processes (pytest, the webhook sender) reach ClusterIPs: kube-proxy's
    # OUTPUT rules translate them once a route exists.
    _ip("route", "add", SERVICE_CIDR, "dev", BRIDGE, "src", NODE_IP)
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")  # per network namespace


# --------------------------------------------------------------------------------------------- cgroups


def _cgroup_hierarchies() -> list[Path]:
    roots = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] in ("cgroup", "cgroup2") and parts[1].startswith("/sys/fs/cgroup"):
            roots.append(Path(parts[1]))
    return roots


def make_cgroup_root(name: str) -> None:
    """``/<name>`` in every cgroup hierarchy, for the kubelet's ``cgroupRoot`` (its kubepods go below)."""
    for hierarchy in _cgroup_hierarchies():
        path = hierarchy / name
        path.mkdir(exist_ok=True)
        if (hierarchy / "cpuset.cpus").exists():
            for knob in ("cpuset.cpus", "cpuset.mems"):
                if not (path / knob).read_text().strip():
                    (path / knob).write_text((hierarchy / knob).read_text())


def remove_cgroup_root(name: str, timeout: float = 20) -> list[str]:
    """Remove ``/<name>`` and everything below, deepest first; returns what could not be removed."""
    deadline = time.monotonic() + timeout
    left: list[str] = []
    while True:
        left = []
        for hierarchy in _cgroup_hierarchies():
            root = hierarchy / name
            if not root.exists():
                continue
            for path in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                try:
                    path.rmdir()
                except OSError:
                    left.append(str(path))
            try:
                root.rmdir()
            except OSError:
                left.append(str(root))
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def stale_cgroup_roots(prefix: str = "peribolos-e2e-") -> list[str]:
    """Cgroup roots of earlier runs that were killed before they could clean up: their creator (the pid in
    the name) is gone and nothing runs in them. A root of a run still alive, even an empty one that run has
    only just made, is never touched."""
    names = set()
    for hierarchy in _cgroup_hierarchies():
        for path in hierarchy.glob(prefix + "*"):
            owner = path.name.removeprefix(prefix).split("-")[0]
            if not path.is_dir() or (owner.isdigit() and Path(f"/proc/{owner}").exists()):
                continue
            if not any(
                (p / "cgroup.procs").read_text().strip()
                for p in [path, *path.rglob("*")]
                if p.is_dir() and (p / "cgroup.procs").exists()
            ):
                names.add(path.name)
    return sorted(names)


# --------------------------------------------------------------------------------------------- the parts


class ClusterControlPlane(ControlPlane):
    """kube-apiserver as a cluster runs it: on the node's address, Node+RBAC authorization, reaching the
    kubelet with a client certificate, admission webhooks found through EndpointSlices."""

    def serving_sans(self) -> tuple[list[str], list[str]]:
        dns = [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            f"kubernetes.default.svc.{CLUSTER_DOMAIN}",
        ]
        return dns, [NODE_IP, KUBERNETES_SERVICE_IP]

    def apiserver_flags(self, pki: Path) -> list[str]:
        assert self.authority is not None
        client = self.authority.client(
            "apiserver-kubelet-client", "kube-apiserver-kubelet-client", ["system:masters"]
        )
        return [
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            f"--kubelet-client-certificate={client.cert}",
            f"--kubelet-client-key={client.key}",
            f"--kubelet-certificate-authority={self.ca}",
            "--kubelet-preferred-address-types=InternalIP",
            # Admission webhooks (Tekton's) are reached at their Pod's address, through EndpointSlices.
            "--enable-aggregator-routing=true",
        ]


@dataclass
class Cluster:
    """etcd + kube-apiserver + controller manager + scheduler + kube-proxy + a node, CoreDNS and Tekton."""

    tools: Tools
    workdir: Path
    image_archives: Mapping[str, Path]
    plane: ClusterControlPlane = field(init=False)
    processes: list[Process] = field(default_factory=list)
    node: Process | None = None
    startup_seconds: dict[str, float] = field(default_factory=dict)
    cgroup_root: str = ""
    host_sysctls_before: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.plane = ClusterControlPlane(tools=self.tools, workdir=self.workdir)
        self.plane.address, self.plane.secure_port, self.plane.service_cidr = (
            NODE_IP,
            APISERVER_PORT,
            SERVICE_CIDR,
        )
        self.cgroup_root = f"peribolos-e2e-{os.getpid()}-{int(time.time())}"

    # ---- convenience

    @property
    def kubeconfig(self) -> Path:
        return self.plane.kubeconfig

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    def api_client(self, kubeconfig: Path | None = None) -> Any:
        return self.plane.api_client(kubeconfig)

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """The built kubectl (v1.34.4) as the cluster admin."""
        command = [str(self.tools.bin("kubectl")), "--kubeconfig", str(self.kubeconfig), *args]
        result = subprocess.run(command, input=input, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise ClusterError(
                f"kubectl {' '.join(args)} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-3000:]}"
            )
        return result

    def describe(self) -> str:
        logs = sorted(self.log_dir.glob("*.log"))
        return "\n".join(
            f"--- {p.name}: {p}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-20:]) for p in logs
        )

    # ---- start

    def start(self) -> Cluster:
        if not in_isolated_netns():
            raise ClusterError(
                "the test cluster runs only inside a network namespace of the test run's own "
                "(make test makes one; make cluster-up makes a named one): refusing to bind on the host"
            )
        missing = [
            c for c in ("ip", "unshare", "iptables", "containerd", "runc", "ctr") if not shutil.which(c)
        ]
        if missing or not Path("/usr/lib/cni/bridge").exists():
            raise ClusterError(f"missing node tools {missing or ['CNI plugins']}: run `make cluster-tools`")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.host_sysctls_before = read_host_sysctls()
        for stale in stale_cgroup_roots():
            remove_cgroup_root(stale, timeout=1)
        try:
            self._timed("network", setup_network)
            self._timed("control plane", lambda: self.plane.start(install_crds=False))
            self._timed("controllers", self._start_controllers)
            self._timed("node", self._start_node)
            self._timed("kube-proxy", self._start_kube_proxy)
            self._timed("coredns", self._install_coredns)
            self._timed("tekton", self._install_tekton)
        except BaseException:
            self.stop(check_host=False)
            raise
        return self

    def _timed(self, what: str, step: Any) -> None:
        t0 = time.monotonic()
        step()
        self.startup_seconds[what] = round(time.monotonic() - t0, 2)

    def _pki_kubeconfig(self, name: str, user: str, groups: Sequence[str] = ()) -> Path:
        assert self.plane.authority is not None
        pair = self.plane.authority.client(name, user, groups)
        return self.plane.write_kubeconfig(
            self.workdir / f"{name}.kubeconfig",
            user,
            {"client-certificate": str(pair.cert), "client-key": str(pair.key)},
        )

    def _process(self, name: str, args: list[str], **kwargs: Any) -> Process:
        proc = Process(name, args, self.log_dir / f"{name}.log", **kwargs).start()
        self.processes.append(proc)
        return proc

    def _start_controllers(self) -> None:
        pki = self.workdir / "pki"
        assert self.plane.authority is not None
        kcm = self._pki_kubeconfig("kube-controller-manager", "system:kube-controller-manager")
        self._process(
            "kube-controller-manager",
            [
                str(self.tools.bin("kube-controller-manager")),
                f"--kubeconfig={kcm}",
                f"--authentication-kubeconfig={kcm}",
                f"--authorization-kubeconfig={kcm}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={self.plane.ca}",
                "--use-service-account-credentials=true",
                f"--cluster-signing-cert-file={self.plane.authority.pair.cert}",
                f"--cluster-signing-key-file={self.plane.authority.pair.key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route,-persistentvolume-expander",
                "--concurrent-gc-syncs=5",
                "--v=1",
            ],
        )
        scheduler = self._pki_kubeconfig("kube-scheduler", "system:kube-scheduler")
        self._process(
            "kube-scheduler",
            [
                str(self.tools.bin("kube-scheduler")),
                f"--kubeconfig={scheduler}",
                f"--authentication-kubeconfig={scheduler}",
                f"--authorization-kubeconfig={scheduler}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--v=1",
            ],
        )

    def _node_config(self) -> Path:
        """containerd's config, the CNI network, the kubelet's config and flags, for tests.infra.node."""
        assert self.plane.authority is not None
        node_dir = self.workdir / "node"
        (node_dir / "cni").mkdir(parents=True, exist_ok=True)
        socket = node_dir / "containerd.sock"
        containerd_config = node_dir / "containerd.toml"
        containerd_config.write_text(_containerd_toml(node_dir, socket, image_builder.PAUSE_REF))
        (node_dir / "cni" / "10-peribolos-e2e.conflist").write_text(
            json.dumps(_cni_conflist(node_dir), indent=2)
        )
        serving = self.plane.authority.serving("kubelet-serving", [NODE_NAME], [NODE_IP])
        kubelet_kubeconfig = self._pki_kubeconfig(
            "kubelet-client", f"system:node:{NODE_NAME}", ["system:nodes"]
        )
        kubelet_config = node_dir / "kubelet.yaml"
        kubelet_config.write_text(
            yaml.safe_dump(
                _kubelet_config(socket, self.plane.ca, serving.cert, serving.key, self.cgroup_root)
            )
        )
        config = {
            "workdir": str(node_dir),
            "containerd": shutil.which("containerd"),
            "containerd_config": str(containerd_config),
            "containerd_socket": str(socket),
            "ctr": shutil.which("ctr"),
            "kubelet": str(self.tools.bin("kubelet")),
            "kubelet_args": [
                f"--config={kubelet_config}",
                f"--kubeconfig={kubelet_kubeconfig}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
                "--v=1",
            ],
            "images": [str(p) for p in self.image_archives.values()],
        }
        path = node_dir / "node.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    def _start_node(self) -> None:
        make_cgroup_root(self.cgroup_root)
        config = self._node_config()
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self.node = self._process(
            "node",
            [
                "unshare",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount",
                "--propagation",
                "private",
                "--mount-proc",
                "--",
                sys.executable,
                "-m",
                "tests.infra.node",
                str(config),
            ],
            env=env,
            stop_timeout=40,
        )
        ready = self.workdir / "node" / "node-ready"
        failed = self.workdir / "node" / "node-failed"

        def node_ready() -> bool:
            if failed.exists():
                raise ClusterError(
                    f"the node failed: {failed.read_text().strip()} "
                    f"(logs in {self.workdir / 'node' / 'logs'})"
                )
            if not ready.exists():
                return False
            from kubernetes import client

            node = client.CoreV1Api(self.api_client()).read_node(NODE_NAME)
            return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])

        try:
            wait_until("the node Ready", node_ready, 180, [self.node], 0.25)
        except ControlPlaneError as exc:
            raise ClusterError(f"{exc}\n{self._node_logs()}") from exc

    def _node_logs(self) -> str:
        out = []
        for p in sorted((self.workdir / "node" / "logs").glob("*.log")):
            out.append(f"--- {p}:\n" + "\n".join(p.read_text(errors="replace").splitlines()[-25:]))
        return "\n".join(out)

    def _start_kube_proxy(self) -> None:
        kubeconfig = self._pki_kubeconfig("kube-proxy", "system:kube-proxy")
        config = self.workdir / "kube-proxy.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
                    "kind": "KubeProxyConfiguration",
                    "mode": "iptables",
                    "clusterCIDR": CLUSTER_CIDR,
                    "hostnameOverride": NODE_NAME,
                    "bindAddress": NODE_IP,
                    "healthzBindAddress": f"127.0.0.1:{free_port()}",
                    "metricsBindAddress": f"127.0.0.1:{free_port()}",
                    "clientConnection": {"kubeconfig": str(kubeconfig)},
                    # Zeros: kube-proxy leaves the host-wide nf_conntrack settings alone.
                    "conntrack": {
                        "maxPerCore": 0,
                        "min": 0,
                        "tcpEstablishedTimeout": "0s",
                        "tcpCloseWaitTimeout": "0s",
                    },
                    # Pods reach Services on their bridge without br_netfilter: replies return through us.
                    "iptables": {"masqueradeAll": True, "localhostNodePorts": False, "syncPeriod": "10s"},
                }
            )
        )
        proxy = self._process(
            "kube-proxy", [str(self.tools.bin("kube-proxy")), f"--config={config}", "--v=1"]
        )

        def programmed() -> bool:
            rules = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
            return f"-d {KUBERNETES_SERVICE_IP}/32" in rules

        wait_until("kube-proxy's rules for the kubernetes Service", programmed, 60, [proxy], 0.2)

    # ---- add-ons

    def apply_file(self, path: Path, server_side: bool = False, webhook_wait: float = 90) -> None:
        """``kubectl apply -f``; while an admission webhook the objects need is not serving yet (its Pod
        just became Ready, its EndpointSlice not yet read), try again for up to ``webhook_wait`` seconds."""
        args = ["apply", "-f", str(path)]
        if server_side:
            args += ["--server-side", "--force-conflicts"]
        deadline = time.monotonic() + webhook_wait
        while True:
            result = self.kubectl(*args, timeout=300, check=False)
            if result.returncode == 0:
                return
            waiting = "failed calling webhook" in result.stderr and "no endpoints available" in result.stderr
            if not waiting or time.monotonic() > deadline:
                raise ClusterError(
                    f"kubectl {' '.join(args)} failed ({result.returncode}): "
                    f"{(result.stderr or result.stdout).strip()[-3000:]}"
                )
            time.sleep(1)

    def wait_available(self, namespace: str, names: Iterable[str], timeout: float = 240) -> None:
        from kubernetes import client

        apps = client.AppsV1Api(self.api_client())
        pending = set(names)

        def available() -> bool:
            for name in list(pending):
                dep = apps.read_namespaced_deployment(name, namespace)
                ready = any(c.type == "Available" and c.status == "True" for c in dep.status.conditions or [])
                if ready and (dep.status.ready_replicas or 0) >= (dep.spec.replicas or 1):
                    pending.discard(name)
            return not pending

        try:
            wait_until(
                f"deployments {', '.join(sorted(pending))} in {namespace} available",
                available,
                timeout,
                [p for p in self.processes if p is not None],
                0.5,
            )
        except ControlPlaneError as exc:
            pods = self.kubectl("get", "pods", "-A", "-o", "wide", check=False).stdout
            events = self.kubectl("get", "events", "-A", "--sort-by=.lastTimestamp", check=False).stdout
            raise ClusterError(f"{exc}\npods:\n{pods}\nevents:\n{events[-4000:]}") from exc

    def _install_coredns(self) -> None:
        path = self.workdir / "addons" / "coredns.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump_all(coredns_manifests(image_builder.COREDNS_REF)))
        self.apply_file(path)
        self.wait_available("kube-system", ["coredns"])

    def _install_tekton(self) -> None:
        release = self.tools.root / "release"
        t0 = time.monotonic()
        pipeline = tekton_release(release / "pipeline", skip=PIPELINE_RELEASE_SKIPPED)
        pipeline_file = self.workdir / "addons" / "tekton-pipelines-release.yaml"
        pipeline_file.write_text(pipeline)
        self.apply_file(pipeline_file, server_side=True)
        # As Tekton's docs: Pipelines ready before anything else (its webhook validates their ConfigMaps).
        self.wait_available(
            TEKTON_PIPELINES_NAMESPACE,
            ["tekton-pipelines-controller", "tekton-pipelines-webhook"],
            timeout=300,
        )
        # Pod Security "restricted" in the product's namespace needs Tekton to give its injected init
        # containers a restricted security context: docs/operations.md tells platform teams to do this.
        self.kubectl(
            "-n",
            TEKTON_PIPELINES_NAMESPACE,
            "patch",
            "configmap",
            "feature-flags",
            "--type=merge",
            "-p",
            json.dumps({"data": {"set-security-context": "true"}}),
        )
        # As Triggers' install docs: release.yaml, then (its CRDs now served) interceptors.yaml.
        for name, text in (
            ("release", tekton_release(release / "triggers")),
            ("interceptors", tekton_release(release / "triggers" / "interceptors")),
        ):
            path = self.workdir / "addons" / f"tekton-triggers-{name}.yaml"
            path.write_text(text)
            self.apply_file(path, server_side=True)
            if name == "release":
                # Its webhook defaults and validates the ClusterInterceptors of interceptors.yaml.
                self.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
                self.wait_available(TEKTON_PIPELINES_NAMESPACE, ["tekton-triggers-webhook"], timeout=300)
        self.startup_seconds["tekton applied"] = round(time.monotonic() - t0, 2)
        self.wait_available(
            TEKTON_PIPELINES_NAMESPACE,
            [
                "tekton-triggers-controller",
                "tekton-triggers-webhook",
                "tekton-triggers-core-interceptors",
            ],
            timeout=300,
        )

    # ---- stop

    def stop(self, check_host: bool = True) -> None:
        """Stop everything, remove the cgroups, and check the host's kernel settings are unchanged."""
        if self.node is not None and self.node.running:
            child = _first_child(self.node.popen.pid if self.node.popen else 0)
            if child:
                os.kill(child, signal.SIGTERM)  # the node's PID 1; unshare itself forwards no signal
            try:
                assert self.node.popen is not None
                self.node.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.node.popen.kill()  # --kill-child: the kernel then kills the whole PID namespace
                self.node.popen.wait(10)
        for proc in reversed(self.processes):
            proc.stop()
        self.plane.stop()
        left = remove_cgroup_root(self.cgroup_root) if self.cgroup_root else []
        if not check_host:
            return
        problems = []
        if left:
            problems.append(f"cgroups left behind: {', '.join(left[:5])}")
        after = read_host_sysctls()
        changed = {k: (v, after.get(k)) for k, v in self.host_sysctls_before.items() if after.get(k) != v}
        if changed:
            problems.append(
                "host kernel settings changed: "
                + ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changed.items())
            )
        if problems:
            raise ClusterError("; ".join(problems))


def _first_child(pid: int) -> int:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0
    return int(children[0]) if children else 0


# ------------------------------------------------------------------------------------------- configs


def _containerd_toml(node_dir: Path, socket: Path, pause_ref: str) -> str:
    """containerd 1.6, version 2 config: its own root and socket, overlayfs, runc with cgroupfs, our CNI."""
    return f"""version = 2
root = "{node_dir / "containerd-root"}"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{node_dir / "containerd-opt"}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause_ref}"
  # The test run lacks CAP_SYS_RESOURCE: without this no sandbox starts ("can't get final child's PID").
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{node_dir / "cni"}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ""
"""


def _cni_conflist(node_dir: Path) -> dict[str, Any]:
    return {
        "cniVersion": "0.4.0",
        "name": "peribolos-e2e",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                # Without a default route Pods cannot reach Service IPs (kube-proxy's rules are ours).
                "isDefaultGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_CIDR}]],
                    "dataDir": str(node_dir / "cni-ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def _kubelet_config(socket: Path, ca: Path, cert: Path, key: Path, cgroup_root: str) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": free_port(),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(ca)},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(cert),
        "tlsPrivateKeyFile": str(key),
        "containerRuntimeEndpoint": f"unix://{socket}",
        "imageServiceEndpoint": f"unix://{socket}",
        # cgroup v1 here: cgroupfs, under a root of this run's own (removed at stop).
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{cgroup_root}",
        "failSwapOn": False,
        # Only read the kernel settings (shielded in the node's mount namespace), never write them.
        "protectKernelDefaults": True,
        # The shared disk is well used: never garbage-collect the imported images, evict only at 1 %.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "clusterDNS": [DNS_SERVICE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": "",
        "podCIDR": POD_CIDR,
        "serializeImagePulls": False,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "shutdownGracePeriod": "0s",
        "nodeStatusUpdateFrequency": "4s",
        "syncFrequency": "10s",
        "maxPods": 60,
    }


# ------------------------------------------------------------------------------------------- add-ons


def coredns_manifests(image: str) -> list[dict[str, Any]]:
    """CoreDNS for Service names, as kubeadm deploys it, answering only for the cluster (no upstream:
    nothing outside the test's network namespace exists). It listens on 1053 as non-root; the Service
    maps 53."""
    labels = {"k8s-app": "kube-dns"}
    corefile = (
        ".:1053 {\n    errors\n    health :8080\n    ready :8181\n"
        f"    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{\n"
        "        pods insecure\n        fallthrough in-addr.arpa ip6.arpa\n        ttl 30\n    }\n"
        "    cache 30\n    loop\n    reload\n}\n"
    )
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:coredns"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "system:coredns"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:coredns",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": corefile},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": "coredns",
                        "dnsPolicy": "Default",
                        "priorityClassName": "system-cluster-critical",
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [
                            {
                                "name": "coredns",
                                "image": image,
                                "imagePullPolicy": "IfNotPresent",
                                "args": ["-conf", "/etc/coredns/Corefile"],
                                "ports": [
                                    {"name": "dns", "containerPort": 1053, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": 1053, "protocol": "TCP"},
                                ],
                                "readinessProbe": {
                                    "httpGet": {"path": "/ready", "port": 8181},
                                    "periodSeconds": 2,
                                },
                                "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}},
                                "resources": {
                                    "requests": {"cpu": "10m", "memory": "32Mi"},
                                    "limits": {"memory": "128Mi"},
                                },
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]},
                                },
                                "volumeMounts": [
                                    {"name": "config", "mountPath": "/etc/coredns", "readOnly": True}
                                ],
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
            "spec": {
                "clusterIP": DNS_SERVICE_IP,
                "selector": labels,
                "ports": [
                    {"name": "dns", "port": 53, "targetPort": 1053, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "targetPort": 1053, "protocol": "TCP"},
                ],
            },
        },
    ]


_KO = re.compile(r"ko://[A-Za-z0-9./_-]+")
_SHELL_IMAGE = re.compile(r'("-shell-image(?:-win)?",\s*)"[^"]+"')


def tekton_release(directory: Path, skip: Sequence[str] = ()) -> str:
    """What ``ko resolve -f config/`` makes of a Tekton module's release config: every YAML file of
    ``config/`` (and of Pipelines' ``100-namespace/`` and ``300-crds/``), each
    ``ko://`` import path replaced by our locally made image of that command, the shell images by our
    busybox. An import path without an image of ours is an error, never left for a pull to fail."""
    files = sorted(directory.glob("*.yaml"))
    for sub in ("100-namespace", "300-crds"):
        files += sorted((directory / sub).glob("*.yaml"))
    files = [f for f in files if f.name not in skip]
    # Namespaces first, then CRDs, then everything else (kubectl applies in file order).
    files.sort(key=lambda f: 0 if "namespace" in f.name else 1 if "300-" in f.name else 2)
    docs = []
    for path in files:
        text = path.read_text()
        unknown = sorted({m for m in _KO.findall(text) if m not in image_builder.KO_IMAGES})
        if unknown:
            raise ClusterError(f"{path}: no local image for {', '.join(unknown)} (tests/infra/images.py)")
        text = _KO.sub(lambda m: image_builder.KO_IMAGES[m.group(0)], text)
        text = _SHELL_IMAGE.sub(lambda m: f'{m.group(1)}"{image_builder.BUSYBOX_REF}"', text)
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return yaml.safe_dump_all(docs, sort_keys=False)


def start_cluster(workdir: Path, tools: Tools | None = None, build_images: bool = False) -> Cluster:
    """Start the whole cluster (about a minute warm); stop everything if any step fails."""
    tools = tools or find_tools(modules=("kube", "pipeline", "triggers", "coredns", "peribolos", "pause"))
    if build_images:
        archives = image_builder.all_archives(tools.root)
    else:
        archives = image_builder.check_archives(tools.root)
    return Cluster(tools=tools, workdir=workdir, image_archives=archives).start()
