"""A real Kubernetes control plane for the tests: etcd and kube-apiserver on 127.0.0.1.

Both binaries come from ``make e2e-tools`` (built from Go modules at pinned versions, see
``tests/infra/tools/``). Nothing here is a mock: requests go through the real API server, its admission,
its CRD validation (the Tekton CRDs are installed) and its RBAC authorizer. There is no controller
manager, scheduler or kubelet: nothing runs Pods, and a deleted namespace stays ``Terminating``.
"""

from __future__ import annotations

import ctypes
import datetime
import hashlib
import ipaddress
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.helpers import free_port

TOOLS_DIR = Path(__file__).resolve().parent / "tools"
ADMIN_USER = "peribolos-e2e-admin"
TRIGGERS_CONFIG_FILES = (
    "core-interceptors.yaml",
    "200-serviceaccount.yaml",
    "200-clusterrole.yaml",
    "200-role.yaml",
    "201-clusterrolebinding.yaml",
    "201-rolebinding.yaml",
)
"""Triggers' own manifests (from its module's config/) that the stack applies, copied by build.sh."""


class ControlPlaneError(RuntimeError):
    """The control plane could not be started; the message says what to do."""


def cache_dir() -> Path:
    """Where ``make e2e-tools`` put the binaries and CRDs (``$E2E_CACHE``, as in the Makefile)."""
    return Path(os.environ.get("E2E_CACHE") or Path.home() / ".cache" / "peribolos-e2e")


MODULE_BINARIES: dict[str, list[str]] = {
    "kube": [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "kube-proxy",
        "kubectl",
    ],
    "pipeline": [
        f"tekton-{c}"
        for c in ("controller", "webhook", "entrypoint", "nop", "workingdirinit", "sidecarlogresults")
    ],
    "triggers": ["triggers-controller", "triggers-webhook", "eventlistenersink", "interceptors"],
    "coredns": ["coredns"],
    "peribolos": ["peribolos"],
    "pause": ["pause"],
}
"""What build.sh puts in ``bin/`` for each module of ``tools/``."""
ALL_MODULES = tuple(MODULE_BINARIES)


def module_key(module: str) -> str:
    """Same key as build.sh: sha256 over the module's go.mod, go.sum, then its Go files in name order."""
    digest = hashlib.sha256()
    folder = TOOLS_DIR / module
    go_files = sorted((p.name for p in folder.glob("*.go")), key=lambda n: n.encode())
    for name in ("go.mod", "go.sum", *go_files):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Tools:
    """Paths of the built test tools."""

    root: Path

    def bin(self, name: str) -> Path:
        return self.root / "bin" / name

    @property
    def crd_files(self) -> list[Path]:
        return sorted((self.root / "crds").glob("*/*.yaml"))


def find_tools(root: Path | None = None, modules: Iterable[str] = ("kube", "triggers")) -> Tools:
    """Check that ``make e2e-tools`` ran for the current go.mod files; raise with what to run if not."""
    tools = Tools(root or cache_dir())
    wanted = MODULE_BINARIES
    hint = (
        f"run `make e2e-tools` (or `bash tests/infra/tools/build.sh {tools.root}`); "
        "it needs Go, see docs/testing.md"
    )
    for module in modules:
        missing = [str(tools.bin(b)) for b in wanted[module] if not os.access(tools.bin(b), os.X_OK)]
        if missing:
            raise ControlPlaneError(f"e2e tools missing: {', '.join(missing)}; {hint}")
        key_file = tools.root / f"{module}.key"
        if not key_file.is_file() or key_file.read_text().strip() != module_key(module):
            raise ControlPlaneError(
                f"e2e tools in {tools.root} were built from another tests/infra/tools/{module}/go.mod; {hint}"
            )
    if "triggers" in modules:
        if not tools.crd_files:
            raise ControlPlaneError(f"no CRDs under {tools.root / 'crds'}; {hint}")
        config = [tools.root / "triggers-config" / n for n in TRIGGERS_CONFIG_FILES]
        absent = [str(p) for p in config if not p.is_file()]
        if absent:
            raise ControlPlaneError(f"Triggers manifests missing: {', '.join(absent)}; {hint}")
    return tools


# --------------------------------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


def _write_key(path: Path, key: Any) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _issue(
    directory: Path,
    name: str,
    subject: x509.Name,
    *,
    issuer: tuple[x509.Certificate, Any] | None = None,
    ca: bool = False,
    sans: Iterable[x509.GeneralName] = (),
    usages: Iterable[x509.ObjectIdentifier] = (),
) -> tuple[x509.Certificate, Any, CertPair]:
    """Issue a P-256 certificate valid for a day (self-signed when ``issuer`` is None)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    signer_cert, signer_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_cert.subject if signer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
    sans = list(sans)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    usages = list(usages)
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    cert = builder.sign(signer_key, hashes.SHA256())
    pair = CertPair(directory / f"{name}.crt", directory / f"{name}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(pair.key, key)
    return cert, key, pair


@dataclass(frozen=True)
class CertificateAuthority:
    """A throw-away CA that can issue loopback serving certificates and client certificates."""

    directory: Path
    cert: x509.Certificate
    key: Any
    pair: CertPair

    @classmethod
    def create(cls, directory: Path, name: str = "ca") -> CertificateAuthority:
        directory.mkdir(parents=True, exist_ok=True)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"peribolos-e2e-{name}")])
        cert, key, pair = _issue(directory, name, subject, ca=True)
        return cls(directory, cert, key, pair)

    def serving(self, name: str, dns_names: Iterable[str] = (), ips: Iterable[str] = ()) -> CertPair:
        """A server certificate whose SANs cover 127.0.0.1, ::1, localhost, ``dns_names`` and ``ips``."""
        sans: list[x509.GeneralName] = [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
            *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips),
            x509.DNSName("localhost"),
            *(x509.DNSName(d) for d in dns_names),
        ]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        return _issue(
            self.directory,
            name,
            subject,
            issuer=(self.cert, self.key),
            sans=sans,
            usages=[ExtendedKeyUsageOID.SERVER_AUTH],
        )[2]

    def client(self, name: str, user: str, groups: Iterable[str] = ()) -> CertPair:
        """A client certificate: CN is the Kubernetes user name, each O a group."""
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
        subject = x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, user)])
        return _issue(
            self.directory,
            name,
            subject,
            issuer=(self.cert, self.key),
            usages=[ExtendedKeyUsageOID.CLIENT_AUTH],
        )[2]


# --------------------------------------------------------------------------------------------- processes


def _die_with_parent() -> None:
    """In the child, before exec: get SIGKILL when the process that started us dies (Linux), so a
    crashed or killed test run leaves no etcd, API server or sink behind holding ports."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class Process:
    """A child process whose output goes to a log file; stopped with SIGTERM, then SIGKILL."""

    name: str
    args: list[str]
    log: Path
    env: Mapping[str, str] | None = None
    stop_timeout: float = 10.0
    """Seconds between SIGTERM and SIGKILL."""
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"$ {' '.join(self.args)}\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                self.args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(self.env) if self.env is not None else None,
                start_new_session=True,  # a Ctrl-C on pytest reaches us, not the children directly
                preexec_fn=_die_with_parent,
            )
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def check_alive(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise ControlPlaneError(
                f"{self.name} exited with code {self.popen.returncode}; log {self.log}:\n{self.tail()}"
            )

    def stop(self) -> None:
        if not self.running:
            return
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)


def wait_until(
    what: str, check: Any, timeout: float, processes: Iterable[Process] = (), interval: float = 0.1
) -> Any:
    """Call ``check()`` until it returns a truthy value; fail early when a watched process died."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        for proc in processes:
            proc.check_alive()
        try:
            result = check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"; the last one is reported
            last = exc
        else:
            if result:
                return result
        time.sleep(interval)
    logs = "".join(f"\n--- {p.name} ({p.log}):\n{p.tail()}" for p in processes)
    raise ControlPlaneError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last!r}){logs}")


# --------------------------------------------------------------------------------------------- control plane


@dataclass
class ControlPlane:
    """etcd + kube-apiserver on 127.0.0.1, an admin kubeconfig, and the Tekton CRDs installed.

    ``kubeconfig`` authenticates as ``peribolos-e2e-admin`` in group ``system:masters``; every other
    identity (ServiceAccounts through :meth:`service_account_kubeconfig`) is subject to real RBAC.
    """

    tools: Tools
    workdir: Path
    url: str = ""
    port: int = 0
    ca: Path = Path()
    kubeconfig: Path = Path()
    admin: CertPair | None = None
    authority: CertificateAuthority | None = None
    processes: list[Process] = field(default_factory=list)
    startup_seconds: dict[str, float] = field(default_factory=dict)
    admin_ssl: ssl.SSLContext | None = None
    """TLS context trusting the CA and presenting the admin client certificate (for raw HTTPS calls)."""
    _dynamic: Any = None
    _admin_client: Any = None

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    # ---- start / stop

    address: str = "127.0.0.1"
    """Where kube-apiserver listens and what it advertises (a cluster uses its node's address)."""
    secure_port: int = 0
    """kube-apiserver's port; 0 picks a free one."""
    service_cidr: str = "10.96.0.0/24"

    def apiserver_flags(self, pki: Path) -> list[str]:
        """Flags that differ between the bare control plane and a cluster (see ``Cluster``)."""
        return [
            "--authorization-mode=RBAC",
            # No controller manager runs: don't publish endpoints for the kubernetes Service.
            "--endpoint-reconciler-type=none",
        ]

    def serving_sans(self) -> tuple[list[str], list[str]]:
        """(DNS names, IPs) of kube-apiserver's serving certificate besides loopback."""
        return ["kubernetes", "kubernetes.default.svc"], []

    def start(self, install_crds: bool = True) -> ControlPlane:
        t0 = time.monotonic()
        pki = self.workdir / "pki"
        self.authority = CertificateAuthority.create(pki)
        dns_names, ips = self.serving_sans()
        serving = self.authority.serving("kube-apiserver", dns_names, ips)
        self.admin = self.authority.client("admin", ADMIN_USER, ["system:masters"])
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_key(pki / "sa.key", sa_key)
        (pki / "sa.pub").write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        self.ca = self.authority.pair.cert
        self.startup_seconds["certificates"] = time.monotonic() - t0

        t0 = time.monotonic()
        etcd_port, peer_port = free_port(), free_port()
        etcd = Process(
            "etcd",
            [
                str(self.tools.bin("etcd")),
                "--name=e2e",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=e2e=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync",  # throw-away data: skip fsync, much faster on a shared disk
                "--log-level=warn",
            ],
            self.log_dir / "etcd.log",
        ).start()
        self.processes.append(etcd)
        wait_until(
            "etcd /health",
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{etcd_port}/health", timeout=2).status == 200,
            30,
            [etcd],
        )
        self.startup_seconds["etcd"] = time.monotonic() - t0

        t0 = time.monotonic()
        self.port = self.secure_port or free_port()
        self.url = f"https://{self.address}:{self.port}"
        apiserver = Process(
            "kube-apiserver",
            [
                str(self.tools.bin("kube-apiserver")),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                f"--bind-address={self.address}",
                f"--advertise-address={self.address}",
                f"--secure-port={self.port}",
                f"--cert-dir={pki}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={self.ca}",
                "--anonymous-auth=false",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={self.service_cidr}",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
                "--v=1",
                *self.apiserver_flags(pki),
            ],
            self.log_dir / "kube-apiserver.log",
        ).start()
        self.processes.append(apiserver)
        self.admin_ssl = ssl.create_default_context(cafile=str(self.ca))
        self.admin_ssl.load_cert_chain(str(self.admin.cert), str(self.admin.key))
        wait_until("kube-apiserver /readyz", lambda: self._get("/readyz") == b"ok", 90, self.processes, 0.2)
        self.kubeconfig = self.write_kubeconfig(
            self.workdir / "admin.kubeconfig",
            ADMIN_USER,
            {"client-certificate": str(self.admin.cert), "client-key": str(self.admin.key)},
        )
        self.startup_seconds["kube-apiserver"] = time.monotonic() - t0
        if install_crds:
            t0 = time.monotonic()
            self.install_crds(self.tools.crd_files)
            self.startup_seconds["crds"] = time.monotonic() - t0
        return self

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()

    def _get(self, path: str) -> bytes:
        # S310: self.url is the https URL we built, never user input.
        with urllib.request.urlopen(self.url + path, context=self.admin_ssl, timeout=5) as resp:  # noqa: S310
            return resp.read()

    def describe(self) -> str:
        """Where the logs are, and the last lines of each, for a failure report."""
        return "\n".join(f"--- {p.name} log {p.log}:\n{p.tail(25)}" for p in self.processes)

    # ---- clients

    def write_kubeconfig(self, path: Path, user: str, credentials: Mapping[str, str]) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "e2e", "cluster": {"server": self.url, "certificate-authority": str(self.ca)}}
            ],
            "users": [{"name": user, "user": dict(credentials)}],
            "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": user}}],
            "current-context": "e2e",
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def api_client(self, kubeconfig: Path | None = None) -> Any:
        """A kubernetes ApiClient for ``kubeconfig``; the admin's (the default) is made once and shared,
        so polling loops reuse its connections."""
        from kubernetes import config

        if kubeconfig is not None:
            return config.new_client_from_config(config_file=str(kubeconfig))
        if self._admin_client is None:
            self._admin_client = config.new_client_from_config(config_file=str(self.kubeconfig))
        return self._admin_client

    def service_account_kubeconfig(self, namespace: str, name: str, hours: int = 2) -> Path:
        """A kubeconfig holding a TokenRequest token of ServiceAccount ``namespace/name``.

        A program run with it has exactly that ServiceAccount's RBAC, as it would in a Pod.
        """
        from kubernetes import client

        core = client.CoreV1Api(self.api_client())
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(
                audiences=["https://kubernetes.default.svc"], expiration_seconds=hours * 3600
            )
        )
        token = core.create_namespaced_service_account_token(name, namespace, request).status.token
        path = self.workdir / f"sa-{namespace}-{name}.kubeconfig"
        return self.write_kubeconfig(path, f"system:serviceaccount:{namespace}:{name}", {"token": token})

    # ---- objects

    def install_crds(self, files: Iterable[Path], timeout: float = 60) -> list[str]:
        """Create (or update) every CustomResourceDefinition in ``files`` and wait until Established."""
        docs = [d for f in files for d in yaml.safe_load_all(f.read_text()) if d]
        crds = [serve_storage_version_only(d) for d in docs if d.get("kind") == "CustomResourceDefinition"]
        self.apply(crds, field_manager="peribolos-e2e-crds")
        names = [c["metadata"]["name"] for c in crds]

        from kubernetes import client

        ext = client.ApiextensionsV1Api(self.api_client())

        def established() -> bool:
            for name in names:
                conditions = ext.read_custom_resource_definition(name).status.conditions or []
                if not any(c.type == "Established" and c.status == "True" for c in conditions):
                    return False
            return True

        wait_until(f"CRDs {', '.join(names)} Established", established, timeout, self.processes, 0.2)
        return names

    def apply(
        self,
        docs: Iterable[Mapping[str, Any]],
        field_manager: str = "peribolos-e2e",
        kubeconfig: Path | None = None,
    ) -> list[dict[str, Any]]:
        """Server-side apply each document (force conflicts), so the API server validates it in full."""
        from kubernetes import dynamic

        if kubeconfig is not None:
            api = dynamic.DynamicClient(self.api_client(kubeconfig))
        else:
            if self._dynamic is None:
                self._dynamic = dynamic.DynamicClient(self.api_client())
            api = self._dynamic
        applied = []
        for doc in docs:
            resource = api.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
            meta = doc["metadata"]
            kwargs = {"namespace": meta["namespace"]} if resource.namespaced and meta.get("namespace") else {}
            result = resource.server_side_apply(
                body=dict(doc), name=meta["name"], field_manager=field_manager, force_conflicts=True, **kwargs
            )
            applied.append(result.to_dict())
        return applied


def serve_storage_version_only(crd: dict[str, Any]) -> dict[str, Any]:
    """Drop a CRD's conversion webhook, serving only its storage version.

    Tekton Pipelines' CRDs convert v1beta1 <-> v1 through the Pipelines webhook, which does not run here;
    the API server's watch cache of every served version would call it in a loop. Serving only the
    storage version (tekton.dev/v1, what this project uses) needs no conversion, and a manifest that
    still says v1beta1 fails loudly instead of being converted.
    """
    conversion = crd["spec"].get("conversion") or {}
    if conversion.get("strategy") != "Webhook":
        return crd
    crd = {**crd, "spec": {**crd["spec"], "conversion": {"strategy": "None"}}}
    crd["spec"]["versions"] = [v for v in crd["spec"]["versions"] if v.get("storage")]
    return crd


def start_control_plane(workdir: Path, tools: Tools | None = None) -> ControlPlane:
    """Start etcd and kube-apiserver with the CRDs installed; stop everything if any step fails."""
    plane = ControlPlane(tools=tools or find_tools(), workdir=workdir)
    try:
        return plane.start()
    except BaseException:
        plane.stop()
        raise
