"""Processes and helpers for the end-to-end scenarios: the Triggers sink, our interceptor, webhooks.

Everything is a real process reached over HTTP on 127.0.0.1 (the sink itself binds ``:PORT``: Triggers
hard-codes that address, see docs/testing.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.infra.controlplane import ControlPlane, ControlPlaneError, Process, Tools, free_port, wait_until

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github-webhooks"


def _http_status(url: str, timeout: float = 2.0) -> int:
    return requests.get(url, timeout=timeout).status_code


@dataclass
class Sink:
    """Tekton Triggers' EventListener sink (``cmd/eventlistenersink``) run as a local process."""

    process: Process
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.stop()


def start_sink(
    tools: Tools,
    kubeconfig: Path,
    el_name: str,
    el_namespace: str,
    log: Path,
    *,
    processes: Iterable[Process] = (),
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> Sink:
    """Start the sink for EventListener ``el_namespace/el_name`` with ``kubeconfig``'s identity.

    The arguments and environment are those Triggers' reconciler gives the EventListener Pod
    (pkg/reconciler/eventlistener/resources), with the ports moved to free loopback ones; ``extra_env``
    is what the reconciler appends from the EventListener's ``kubernetesResource`` container env.
    """
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "KUBECONFIG": str(kubeconfig),
        "SYSTEM_NAMESPACE": el_namespace,
        "NAMESPACE": el_namespace,
        "NAME": el_name,
        "EL_EVENT": "disable",
        "K_SINK_TIMEOUT": "5",
        "METRICS_PROMETHEUS_PORT": str(free_port()),
        "PROFILING_PORT": str(free_port()),
        "METRICS_DOMAIN": "tekton.dev/triggers",
        "CONFIG_OBSERVABILITY_NAME": "config-observability-triggers",
        "CONFIG_LOGGING_NAME": "config-logging-triggers",
        **(extra_env or {}),
    }
    process = Process(
        "eventlistenersink",
        [
            str(tools.bin("eventlistenersink")),
            f"--kubeconfig={kubeconfig}",
            f"--el-name={el_name}",
            f"--el-namespace={el_namespace}",
            f"--port={port}",
            "--is-multi-ns=false",
            "--payload-validation=true",
        ],
        log,
        env=env,
        stop_timeout=2.0,  # it drains for 10 s after SIGTERM; nothing here needs that
    ).start()
    sink = Sink(process, port)
    wait_until(
        "the EventListener sink /live",
        lambda: _http_status(sink.url + "/live") == 200,
        timeout,
        [process, *processes],
        0.1,
    )
    return sink


CORE_INTERCEPTORS_NAMESPACE = "tekton-pipelines"
CORE_INTERCEPTORS_SERVICE = "tekton-triggers-core-interceptors"
CORE_INTERCEPTORS_SECRET = "tekton-triggers-core-interceptors-certs"
CORE_INTERCEPTORS_PORT = 8443
"""Hard-coded in Triggers' cmd/interceptors (it listens on :8443)."""


def start_core_interceptors(plane: ControlPlane, log: Path, timeout: float = 60) -> Process:
    """Triggers' core interceptors (github, gitlab, bitbucket, cel, slack) as a Triggers install runs them.

    As upstream does: the ClusterInterceptors of config/interceptors/core-interceptors.yaml (labelled
    ``server/type: https``), the certificate Secret in ``tekton-pipelines`` and the ``interceptors``
    server, which keeps the ClusterInterceptors' ``caBundle`` in step with that Secret. Differences,
    because nothing here resolves Service DNS names: each ClusterInterceptor's ``clientConfig`` is a
    ``url`` on 127.0.0.1:8443, and the Secret is filled beforehand with a certificate of our test CA whose
    SANs cover loopback and the Service's names (upstream's own certificate names only the Service). The
    process runs as upstream's ``tekton-triggers-core-interceptors`` ServiceAccount, with upstream's RBAC
    (config/200-*.yaml, 201-*.yaml), so reading the webhook secret the generator names is checked too.
    The sink refuses to start until every ``server/type: https`` ClusterInterceptor has a caBundle.
    """
    from kubernetes import client

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex(("127.0.0.1", CORE_INTERCEPTORS_PORT)) == 0:
            raise ControlPlaneError(
                f"port {CORE_INTERCEPTORS_PORT} is taken; Triggers' core interceptors need it "
                "(another e2e run or bench?)"
            )
    assert plane.authority is not None
    svc = f"{CORE_INTERCEPTORS_SERVICE}.{CORE_INTERCEPTORS_NAMESPACE}"
    pair = plane.authority.serving("core-interceptors", [CORE_INTERCEPTORS_SERVICE, svc, f"{svc}.svc"])
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CORE_INTERCEPTORS_NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": CORE_INTERCEPTORS_SECRET, "namespace": CORE_INTERCEPTORS_NAMESPACE},
            "data": {
                "server-key.pem": base64.b64encode(pair.key.read_bytes()).decode(),
                "server-cert.pem": base64.b64encode(pair.cert.read_bytes()).decode(),
                "ca-cert.pem": base64.b64encode(plane.ca.read_bytes()).decode(),
            },
        },
    ]
    config = plane.tools.root / "triggers-config"
    # Triggers' own ServiceAccounts and RBAC (config/200-*, 201-*): the core interceptors run as theirs.
    for name in (
        "200-serviceaccount.yaml",
        "200-clusterrole.yaml",
        "200-role.yaml",
        "201-clusterrolebinding.yaml",
        "201-rolebinding.yaml",
    ):
        docs.extend(d for d in yaml.safe_load_all((config / name).read_text()) if d)
    names = []
    for doc in yaml.safe_load_all((config / "core-interceptors.yaml").read_text()):
        if doc and doc.get("kind") == "ClusterInterceptor":
            path = doc["spec"]["clientConfig"]["service"]["path"]
            doc["spec"]["clientConfig"] = {"url": f"https://127.0.0.1:{CORE_INTERCEPTORS_PORT}/{path}"}
            docs.append(doc)
            names.append(doc["metadata"]["name"])
    plane.apply(docs, field_manager="tekton-triggers-install")
    kubeconfig = plane.service_account_kubeconfig(CORE_INTERCEPTORS_NAMESPACE, CORE_INTERCEPTORS_SERVICE)
    process = Process(
        "core-interceptors",
        [str(plane.tools.bin("interceptors")), f"--kubeconfig={kubeconfig}"],
        log,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "SYSTEM_NAMESPACE": CORE_INTERCEPTORS_NAMESPACE,
            "CONFIG_LOGGING_NAME": "config-logging-triggers",
            "CONFIG_OBSERVABILITY_NAME": "config-observability-triggers",
            "METRICS_DOMAIN": "tekton.dev/triggers",
            "INTERCEPTOR_TLS_SVC_NAME": CORE_INTERCEPTORS_SERVICE,
            "INTERCEPTOR_TLS_SECRET_NAME": CORE_INTERCEPTORS_SECRET,
            "KUBERNETES_MIN_VERSION": "v1.28.0",
            "PROFILING_PORT": str(free_port()),
        },
    ).start()
    custom = client.CustomObjectsApi(plane.api_client())

    def ca_bundles_set() -> bool:
        for name in names:
            obj = custom.get_cluster_custom_object(
                "triggers.tekton.dev", "v1alpha1", "clusterinterceptors", name
            )
            if not obj["spec"]["clientConfig"].get("caBundle"):
                return False
        return True

    context = ssl.create_default_context(cafile=str(plane.ca))

    def ready() -> bool:
        url = f"https://127.0.0.1:{CORE_INTERCEPTORS_PORT}/ready"
        with urllib.request.urlopen(url, context=context, timeout=2) as resp:
            return resp.status == 200

    try:
        wait_until("core interceptors /ready", ready, timeout, [process, *plane.processes], 0.2)
        wait_until("ClusterInterceptors' caBundle", ca_bundles_set, timeout, [process], 0.2)
    except BaseException:
        process.stop()
        raise
    return process


@dataclass
class Interceptor:
    """Our ``peribolos-interceptor`` as a local process."""

    process: Process
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def eventlistener_env(eventlistener: Mapping[str, Any]) -> dict[str, str]:
    """The plain ``value`` env of an EventListener's ``resources.kubernetesResource`` container, which
    Triggers' reconciler appends to the sink container's env."""
    spec = eventlistener.get("spec", {}).get("resources", {}).get("kubernetesResource", {}).get("spec", {})
    containers = spec.get("template", {}).get("spec", {}).get("containers") or [{}]
    return {e["name"]: str(e["value"]) for e in containers[0].get("env", []) if "value" in e}


def console_script(name: str) -> str:
    """The console script installed beside this Python (the venv's ``bin/``), else from PATH."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} is not installed: run `make venv` (pip install -e '.[test]')")
    return found


def start_interceptor(
    secret_file: Path,
    log: Path,
    *,
    port: int | None = None,
    extra_args: Iterable[str] = (),
    timeout: float = 30,
) -> Interceptor:
    port = port or free_port()
    process = Process(
        "peribolos-interceptor",
        [
            console_script("peribolos-interceptor"),
            "--host=127.0.0.1",
            f"--port={port}",
            f"--webhook-secret-file={secret_file}",
            "--log-format=json",
            *extra_args,
        ],
        log,
    ).start()
    interceptor = Interceptor(process, port)
    wait_until(
        "peribolos-interceptor /readyz",
        lambda: _http_status(interceptor.url + "/readyz") == 200,
        timeout,
        [process],
        0.1,
    )
    return interceptor


# --------------------------------------------------------------------------------------------- webhooks


def load_payload(event: str, name: str) -> dict[str, Any]:
    """A real GitHub payload: ``load_payload("installation", "created")`` reads
    tests/fixtures/github-webhooks/installation/created.payload.json."""
    return json.loads((FIXTURES / event / f"{name}.payload.json").read_text())


def sign(body: bytes, secret: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def post_webhook(
    url: str,
    event: str,
    payload: Mapping[str, Any] | bytes,
    secret: bytes | None,
    delivery_id: str | None = None,
    signature: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST ``payload`` exactly as GitHub does: JSON body, X-GitHub-Event/Delivery, X-Hub-Signature-256."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/e2e",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
        "X-GitHub-Hook-Installation-Target-Type": "integration",
    }
    if signature is not None:
        if signature:  # "" sends no signature header at all
            headers["X-Hub-Signature-256"] = signature
    elif secret is not None:
        headers["X-Hub-Signature-256"] = sign(body, secret)
    resp = requests.post(url, data=body, headers=headers, timeout=10)
    try:
        answer = resp.json()
    except ValueError:
        answer = {"text": resp.text}
    return resp.status_code, answer


# --------------------------------------------------------------------------------------------- TaskRuns


def list_taskruns(plane: ControlPlane, namespace: str) -> list[dict[str, Any]]:
    from kubernetes import client

    custom = client.CustomObjectsApi(plane.api_client())
    return custom.list_namespaced_custom_object("tekton.dev", "v1", namespace, "taskruns")["items"]


def taskrun_params(taskrun: Mapping[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in taskrun["spec"].get("params", [])}


def wait_for_taskruns(
    plane: ControlPlane,
    namespace: str,
    predicate: Callable[[dict[str, Any]], bool],
    count: int = 1,
    timeout: float = 20,
    processes: Iterable[Process] = (),
) -> list[dict[str, Any]]:
    """TaskRuns matching ``predicate`` once at least ``count`` exist."""

    def matching() -> list[dict[str, Any]] | None:
        found = [t for t in list_taskruns(plane, namespace) if predicate(t)]
        return found if len(found) >= count else None

    return wait_until(f"{count} matching TaskRun(s) in {namespace}", matching, timeout, processes, 0.05)


def assert_no_new_taskrun(plane: ControlPlane, namespace: str, before: set[str], settle: float = 2.0) -> None:
    """No TaskRun besides ``before`` appears within ``settle`` seconds (the sink answers before it acts)."""
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        names = {t["metadata"]["name"] for t in list_taskruns(plane, namespace)}
        assert names <= before, f"unexpected TaskRun(s): {sorted(names - before)}"
        time.sleep(0.1)


# --------------------------------------------------------------------------------------------- Task steps

_PARAM = re.compile(r"\$\(params(?:\.([A-Za-z0-9_-]+)|\[['\"]([A-Za-z0-9_.-]+)['\"]\])\)")


def substitute(text: str, params: Mapping[str, str], context: Mapping[str, str]) -> str:
    """Tekton's ``$(params.x)``, ``$(params['x'])`` and ``$(context.taskRun.namespace)`` replacement."""
    text = _PARAM.sub(lambda m: params[m.group(1) or m.group(2)], text)
    for key, value in context.items():
        text = text.replace(f"$({key})", value)
    return text


@dataclass
class StepResult:
    returncode: int
    stdout: str
    stderr: str
    argv: list[str]


def step_exit_code_path(workdir: Path, step_name: str) -> Path:
    """The local stand-in for ``/tekton/steps/step-NAME/exitCode`` of a step run by :func:`run_task_step`."""
    return workdir / "tekton" / "steps" / f"step-{step_name}" / "exitCode"


def run_task_step(
    plane: ControlPlane,
    taskrun: Mapping[str, Any],
    step_name: str,
    workdir: Path,
    *,
    extra_env: Mapping[str, str] | None = None,
    executables: Mapping[str, Path] | None = None,
    timeout: float = 60,
) -> StepResult:
    """Run one step of the Task a TaskRun refers to, on this machine, the way a Pod would run it.

    What a kubelet and Tekton's entrypoint would do, for the parts our steps use: params substituted
    in command/args/env, the stepTemplate's env merged under the step's, ``fieldRef`` and
    ``secretKeyRef`` env resolved, secret volumes written to files (their ``mountPath`` mapped under
    ``workdir``), ``emptyDir`` volumes as folders, and the TaskRun's ServiceAccount as identity (a
    TokenRequest kubeconfig, so its RBAC applies). The image is this checkout: the step's command
    must be one of our console scripts.
    """
    from kubernetes import client

    workdir.mkdir(parents=True, exist_ok=True)
    namespace = taskrun["metadata"]["namespace"]
    custom = client.CustomObjectsApi(plane.api_client())
    task_name = taskrun["spec"]["taskRef"]["name"]
    task = custom.get_namespaced_custom_object("tekton.dev", "v1", namespace, "tasks", task_name)
    spec = task["spec"]
    params = {p["name"]: p.get("default") for p in spec.get("params", []) if "default" in p}
    params.update(taskrun_params(taskrun))
    missing = [p["name"] for p in spec.get("params", []) if p["name"] not in params]
    assert not missing, f"TaskRun {taskrun['metadata']['name']} lacks params {missing} of Task {task_name}"
    context = {
        "context.taskRun.name": taskrun["metadata"]["name"],
        "context.taskRun.namespace": namespace,
        "context.task.name": task_name,
    }
    steps = {s["name"]: s for s in spec["steps"]}
    step = steps[step_name]
    for name in steps:  # $(steps.step-NAME.exitCode.path): where Tekton's entrypoint writes exit codes
        exit_code = step_exit_code_path(workdir, name)
        exit_code.parent.mkdir(parents=True, exist_ok=True)
        context[f"steps.step-{name}.exitCode.path"] = str(exit_code)

    return run_container(
        plane,
        namespace,
        step,
        workdir,
        template=spec.get("stepTemplate", {}),
        volumes=spec.get("volumes", []),
        service_account=taskrun["spec"].get("serviceAccountName", "default"),
        params=params,
        context=context,
        extra_env=extra_env,
        executables=executables,
        timeout=timeout,
        pod_name=f"{taskrun['metadata']['name']}-pod",  # no such Pod here: report finds no log to read
    )


def run_cronjob(
    plane: ControlPlane, namespace: str, name: str, workdir: Path, *, timeout: float = 120
) -> StepResult:
    """Run the first container of CronJob ``namespace/name`` (as stored in the API server) once, as a
    Job's Pod would: its env, volumes and ServiceAccount (see :func:`run_container`)."""
    from kubernetes import client

    cronjob = client.BatchV1Api(plane.api_client()).read_namespaced_cron_job(name, namespace)
    pod = plane.api_client().sanitize_for_serialization(cronjob.spec.job_template.spec.template.spec)
    return run_container(
        plane,
        namespace,
        pod["containers"][0],
        workdir,
        template={},
        volumes=pod.get("volumes", []),
        service_account=pod.get("serviceAccountName", "default"),
        params={},
        context={},
        timeout=timeout,
    )


def run_container(
    plane: ControlPlane,
    namespace: str,
    container: Mapping[str, Any],
    workdir: Path,
    *,
    template: Mapping[str, Any],
    volumes: Iterable[Mapping[str, Any]],
    service_account: str,
    params: Mapping[str, str],
    context: Mapping[str, str],
    extra_env: Mapping[str, str] | None = None,
    executables: Mapping[str, Path] | None = None,
    timeout: float = 60,
    pod_name: str = "local-pod",
) -> StepResult:
    """Run a container spec (a Tekton step or a Pod's container) as a local process.

    Secret volumes are written to files and ``emptyDir`` (and projected) volumes made folders under
    ``workdir/volumes``: the identity is the kubeconfig, not a projected token;
    every ``mountPath`` that appears in an env value or an argument is mapped there. ``template`` is a
    Tekton stepTemplate (its env and mounts go under the container's). The identity is a TokenRequest
    kubeconfig of ``service_account``. The command must be one of this checkout's console scripts, or a
    path in the image that ``executables`` maps to a local binary (``/ko-app/peribolos`` -> the one
    build.sh built). Mount paths are also mapped in ``--flag=PATH`` arguments.
    """
    from kubernetes import client

    workdir.mkdir(parents=True, exist_ok=True)
    core = client.CoreV1Api(plane.api_client())
    volume_dirs: dict[str, Path] = {}
    for volume in volumes:
        local = workdir / "volumes" / volume["name"]
        local.mkdir(parents=True, exist_ok=True)
        if "secret" in volume:
            secret_name = volume["secret"].get("secretName")
            secret = core.read_namespaced_secret(secret_name, namespace)
            data = {k: base64.b64decode(v) for k, v in (secret.data or {}).items()}
            items = volume["secret"].get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                target = local / item["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data[item["key"]])
                target.chmod(0o600)
        volume_dirs[volume["name"]] = local
    mounts = {
        m["mountPath"]: volume_dirs[m["name"]]
        for m in [*template.get("volumeMounts", []), *container.get("volumeMounts", [])]
    }

    def local_path(text: str) -> str:
        flag, equals, value = text.partition("=")
        if equals and flag.startswith("--") and value.startswith("/"):
            return f"{flag}={local_path(value)}"
        for mount_path, local in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
            if text == mount_path or text.startswith(mount_path.rstrip("/") + "/"):
                return str(local) + text[len(mount_path.rstrip("/")) :]
        return text

    env: dict[str, str] = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(workdir),
        "KUBECONFIG": str(plane.service_account_kubeconfig(namespace, service_account)),
    }
    for entry in [*template.get("env", []), *container.get("env", [])]:
        if "value" in entry:
            env[entry["name"]] = local_path(substitute(entry["value"], params, context))
            continue
        source = entry["valueFrom"]
        if "fieldRef" in source:
            field = source["fieldRef"]["fieldPath"]
            assert field in ("metadata.namespace", "metadata.name"), source
            env[entry["name"]] = namespace if field == "metadata.namespace" else pod_name
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = core.read_namespaced_secret(ref["name"], namespace)
            env[entry["name"]] = base64.b64decode(secret.data[ref["key"]]).decode()
        else:
            raise AssertionError(f"unsupported env source in {container.get('name')}: {source}")
    env.update(extra_env or {})
    argv = [
        local_path(substitute(a, params, context))
        for a in [*container.get("command", []), *container.get("args", [])]
    ]
    assert argv, f"container {container.get('name')} has no command"
    argv[0] = str(executables[argv[0]]) if executables and argv[0] in executables else console_script(argv[0])
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=timeout, cwd=workdir, check=False
    )
    return StepResult(done.returncode, done.stdout, done.stderr, argv)
