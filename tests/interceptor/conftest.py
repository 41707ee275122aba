"""Fixtures for the interceptor tests: real octokit payloads, variants derived in code, signed requests,
and the real ``peribolos-interceptor`` process on a free loopback port."""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import free_port, sign

FIXTURES = Path(__file__).parents[1] / "fixtures" / "github-webhooks"
SECRET = "It's a Secret to Everybody"
ORG = "Octo-Org"
HEAD_SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
AFTER_SHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"


def load(name: str) -> dict[str, Any]:
    """A fixture by ``event/name`` (without ``.payload.json``), as a fresh dict each time."""
    return json.loads((FIXTURES / f"{name}.payload.json").read_text(encoding="utf-8"))


def org_installation(name: str, login: str = ORG) -> dict[str, Any]:
    """An installation(-repositories) fixture whose account is an Organization (the fixtures are Users)."""
    payload = load(name)
    payload["installation"]["account"].update(login=login, type="Organization")
    return payload


def _to_config_repo(payload: dict[str, Any], repo: str = ".github", default_branch: str = "main") -> None:
    repository = payload["repository"]
    repository.update(name=repo, full_name=f"{ORG}/{repo}", default_branch=default_branch)
    repository["owner"].update(login=ORG, type="Organization")
    payload["organization"] = {"login": ORG, "id": 9919}
    payload["installation"] = {"id": 4242, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI0Mg=="}


def config_push(files: dict[str, list[str]] | None = None, **changes: Any) -> dict[str, Any]:
    """push/with-installation turned into a push to Octo-Org/.github's default branch touching the config."""
    payload = load("push/with-installation")
    _to_config_repo(payload)
    files = {"added": [], "modified": ["peribolos.yaml"], "removed": []} if files is None else files
    commit = {"id": AFTER_SHA, "message": "Update org members", **files}
    payload.update(
        ref="refs/heads/main",
        before=HEAD_SHA,
        after=AFTER_SHA,
        created=False,
        deleted=False,
        forced=False,
        commits=[commit],
        head_commit=copy.deepcopy(commit),
    )
    payload.update(changes)
    return payload


def config_pull_request(action: str = "opened") -> dict[str, Any]:
    """pull_request/opened.with-organization, retargeted at Octo-Org/.github's default branch."""
    payload = load("pull_request/opened.with-organization")
    payload["action"] = action
    _to_config_repo(payload)
    payload["pull_request"]["base"]["repo"] = copy.deepcopy(payload["repository"])
    payload["pull_request"]["base"]["ref"] = "main"
    payload["pull_request"]["head"]["sha"] = HEAD_SHA
    return payload


def config_check_run(name: str = "peribolos/sync", app_id: int = 2) -> dict[str, Any]:
    """check_run/rerequested.with-organization, for one of peribolos' check runs on Octo-Org/.github."""
    payload = load("check_run/rerequested.with-organization")
    _to_config_repo(payload)
    payload["check_run"].update(name=name, head_sha=HEAD_SHA)
    payload["check_run"]["app"]["id"] = app_id
    payload["check_run"]["check_suite"]["head_branch"] = "main"
    return payload


def metric(text: str | bytes, name: str, **labels: str) -> float:
    """The value of sample ``name{labels}`` in a Prometheus text exposition; 0 when it is absent."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def interceptor_request(
    event: str,
    payload: Any,
    secret: str | None = SECRET,
    delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    params: dict[str, Any] | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    """The InterceptorRequest Tekton sends (Go's canonical header names), signed unless ``secret`` is None."""
    text = body if body is not None else json.dumps(payload)
    header = {
        "X-Github-Event": [event],
        "X-Github-Delivery": [delivery],
        "Content-Type": ["application/json"],
    }
    if secret is not None:
        header["X-Hub-Signature-256"] = [sign(text.encode("utf-8"), secret)]
    request: dict[str, Any] = {
        "body": text,
        "header": header,
        "extensions": {},
        "context": {"event_url": "http://el-peribolos:8080/", "event_id": "e-1", "trigger_id": "t-1"},
    }
    if params is not None:
        request["interceptor_params"] = params
    return request


class Running:
    """A ``peribolos-interceptor`` process; ``log`` holds what it wrote to stderr once stopped."""

    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc, self.port = proc, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = ""

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log = self.proc.stderr.read() if self.proc.stderr else ""
        return self.proc.returncode


def start_interceptor(args: list[str], env: dict[str, str] | None = None, wait: bool = True) -> Running:
    """Start the console script (through this interpreter) on a free port; wait until /readyz answers 200."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "peribolos-interceptor"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *args,
    ]
    if not any(a.startswith(("--app-id", "--actions")) for a in args) and "GITHUB_APP_ID" not in (env or {}):
        command += ["--app-id", "2"]  # check_run is served: the App id is required (the fixtures' App)
    full_env = {k: v for k, v in os.environ.items() if k not in ("WEBHOOK_SECRET", "GITHUB_APP_ID")}
    full_env.update(env or {})
    proc = subprocess.Popen(
        command, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    running = Running(proc, port)
    if not wait:
        return running
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            running.stop()
            raise AssertionError(f"interceptor exited with {proc.returncode}: {running.log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return running
        except OSError:
            pass
        time.sleep(0.05)
    running.stop()
    raise AssertionError(f"interceptor did not become ready: {running.log}")


@pytest.fixture
def interceptor_process(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Factory: ``interceptor_process(*extra_args, secrets=[...])``; every process is stopped at teardown."""
    started: list[Running] = []

    def factory(*args: str, secrets: list[str] | None = None, env: dict[str, str] | None = None) -> Running:
        extra = list(args)
        if secrets is not None:
            secret_file = tmp_path / f"webhook-secret-{len(started)}"
            secret_file.write_text("\n".join(secrets) + "\n", encoding="utf-8")
            extra += ["--webhook-secret-file", str(secret_file)]
        running = start_interceptor(extra, env)
        started.append(running)
        return running

    yield factory
    for running in started:
        running.stop()
