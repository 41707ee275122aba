"""github-app create: GitHub's App-manifest flow against a local stand-in for the conversion endpoint and a
scripted browser (requests, doing what a browser does: load the page, read its form, follow GitHub's
redirect back).

The stand-in answers ``POST /app-manifests/{code}/conversions`` as GitHub documents it (201 with id, slug,
pem, webhook_secret...; 404 for an unknown or used code). It lives here until the shared fake GitHub
(tests/fakes/github.py) serves that endpoint; then these tests should use that one.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml

from generator.errors import GitHubAppError
from generator.github_app import (
    AppCredentials,
    ManifestServer,
    Stored,
    form_page,
    new_app_url,
    parse_conversion,
    run_flow,
    secret_object,
    write_fallback_file,
)
from generator.values import load_values
from peribolos_core.errors import KubeForbidden
from peribolos_core.http import Transport

REPO = Path(__file__).resolve().parents[2]
CODE = "a1b2c3d4e5f60718293a"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEfake\n-----END RSA PRIVATE KEY-----\n"
WEBHOOK_SECRET = "e340154128314309424b7c8e90325147d99fdafa"
CLIENT_SECRET = "1726be1638095a19edd134c77bde3aa2ece1e5d8"
WEBHOOK_URL = "githubApp.webhookUrl=https://hooks.example.com/peribolos"


@dataclass
class Conversions:
    """A stand-in for GitHub's manifest conversion endpoint, on 127.0.0.1."""

    prefix: str = ""
    status: int | None = None
    """Answer every request with this status instead (a failing GitHub)."""
    codes: set[str] = field(default_factory=lambda: {CODE})
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.requests.append({"path": path, "headers": headers})
        match = re.fullmatch(re.escape(self.prefix) + r"/app-manifests/([^/]+)/conversions", path)
        if self.status is not None:
            return self.status, {"message": "Server Error"}
        if not match or match.group(1) not in self.codes:
            return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
        self.codes.discard(match.group(1))  # a code converts once
        return 201, {
            "id": 424242,
            "slug": "acme-peribolos",
            "node_id": "MDxOkludGVncmF0aW9uMQ==",
            "owner": {"login": "acme", "type": "Organization"},
            "name": "acme-peribolos",
            "html_url": "https://github.com/apps/acme-peribolos",
            "client_id": "Iv1.8a61f9b3a7aba766",
            "client_secret": CLIENT_SECRET,
            "webhook_secret": WEBHOOK_SECRET,
            "pem": PEM,
        }


@pytest.fixture
def conversions() -> Iterator[Conversions]:
    state = Conversions()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, body = state.answer(urlsplit(self.path).path, dict(self.headers))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.method = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.action, self.method = values.get("action") or "", values.get("method") or ""
        elif tag == "input" and values.get("name"):
            self.fields[str(values["name"])] = values.get("value") or ""


class Browser:
    """Does what the user's browser does in the flow (no proxy: everything is on 127.0.0.1)."""

    def __init__(self) -> None:
        self.session = requests.Session()
        self.session.trust_env = False

    def open(self, url: str) -> tuple[str, dict[str, Any]]:
        """Load the page; return the form's action (GitHub's URL) and the manifest it would post."""
        page = self.session.get(url, timeout=10)
        assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
        form = _Form()
        form.feed(page.text)
        assert form.method == "post" and 'getElementById("manifest").submit()' in page.text
        return form.action, json.loads(form.fields["manifest"])

    def redirect(self, manifest: dict[str, Any], code: str, state: str) -> requests.Response:
        """What GitHub does after the user pressed Create: send the browser to the redirect URL."""
        return self.session.get(manifest["redirect_url"], params={"code": code, "state": state}, timeout=90)


def _state(action: str) -> str:
    return parse_qs(urlsplit(action).query)["state"][0]


# ------------------------------------------------------------------------------------------ pure parts


@pytest.mark.parametrize(
    ("web", "org", "expected"),
    [
        pytest.param(
            "https://github.com",
            "acme",
            "https://github.com/organizations/acme/settings/apps/new",
            id="organisation",
        ),
        pytest.param("https://github.com", None, "https://github.com/settings/apps/new", id="user-account"),
        pytest.param(
            "https://ghe.example.com/",
            "Platform-Team",
            "https://ghe.example.com/organizations/Platform-Team/settings/apps/new",
            id="enterprise",
        ),
        pytest.param(
            "https://github.com",
            "a/b?c",
            "https://github.com/organizations/a%2Fb%3Fc/settings/apps/new",
            id="quoted",
        ),
    ],
)
def test_new_app_url(web: str, org: str | None, expected: str) -> None:
    assert new_app_url(web, org) == expected


def test_the_form_carries_the_manifest_intact_whatever_it_holds() -> None:
    manifest = {"name": "a \"quoted\" <b>&'name'", "hook_attributes": {"url": "https://h.example/?a=1&b=2"}}
    form = _Form()
    form.feed(form_page("https://github.com/settings/apps/new", "s t&", manifest))
    assert form.action == "https://github.com/settings/apps/new?state=s%20t%26"
    assert json.loads(form.fields["manifest"]) == manifest


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param([], "is not a JSON object", id="not-an-object"),
        pytest.param({"id": 1, "pem": PEM}, "lacks webhook_secret", id="no-webhook-secret"),
        pytest.param({"id": 1, "pem": "", "webhook_secret": "x"}, "lacks pem", id="empty-pem"),
        pytest.param({"pem": PEM, "webhook_secret": "x"}, "lacks id", id="no-id"),
    ],
)
def test_an_incomplete_conversion_answer_is_a_clear_error(data: Any, error: str) -> None:
    with pytest.raises(GitHubAppError) as caught:
        parse_conversion(data)
    assert error in caught.value.problems[0]
    assert PEM not in caught.value.problems[0]


def test_credentials_repr_leaves_the_secrets_out() -> None:
    credentials = parse_conversion({"id": 7, "pem": PEM, "webhook_secret": WEBHOOK_SECRET, "name": "n"})
    assert "MIIE" not in repr(credentials) and WEBHOOK_SECRET not in repr(credentials)


def test_the_secret_is_named_and_keyed_as_the_values_say() -> None:
    values = load_values([REPO / "tests/generator/values/ghes-ingress.yaml"], [])
    credentials = AppCredentials("7", "s", "n", "https://ghe/apps/s", PEM, WEBHOOK_SECRET)
    secret = secret_object(values.data, credentials)
    assert secret["metadata"]["name"] == "ghes-app" and secret["metadata"]["namespace"] == "org-admin"
    assert secret["stringData"] == {"id": "7", "key.pem": PEM, "hook-secret": WEBHOOK_SECRET}
    assert secret["type"] == "Opaque"


# ---------------------------------------------------------------------------------- the flow, in-process


def _flow(conversions: Conversions, store: Any, tmp_path: Path, timeout: float = 30.0) -> tuple[Any, Any]:
    """run_flow in a thread (it waits for the browser), the browser in this one."""
    outcome: dict[str, Any] = {}
    server = ManifestServer({"name": "x", "hook_attributes": {"url": "https://h/"}}, "https://github.com/x")

    def fallback(obj: dict[str, Any], exc: Exception) -> Stored:
        outcome["fallback_because"] = exc
        return write_fallback_file(tmp_path / "app.secret.yaml", obj)

    def flow() -> None:
        try:
            outcome["result"] = run_flow(
                server,
                Transport(conversions.url, max_retries=0),
                lambda c: {"kind": "Secret", "stringData": {"pem": c.pem}},
                store,
                fallback,
                timeout,
            )
        except Exception as exc:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = exc

    with server:
        thread = threading.Thread(target=flow)
        thread.start()
        browser = Browser()
        _, manifest = browser.open(server.url)
        answer = browser.redirect(manifest, CODE, server.state)
        thread.join(timeout=30)
    return outcome, answer


def test_when_storing_fails_after_the_exchange_the_secret_goes_to_a_file_instead(
    conversions: Conversions, tmp_path: Path
) -> None:
    """The private key exists only in GitHub's one answer: a failed apply must not lose it."""

    def store(obj: dict[str, Any]) -> Stored:
        raise KubeForbidden(403, "creating Secret peribolos/peribolos-github-app: HTTP 403: forbidden")

    outcome, answer = _flow(conversions, store, tmp_path)
    assert "error" not in outcome, outcome
    stored = outcome["result"].stored
    assert isinstance(outcome["fallback_because"], KubeForbidden)
    assert stored.file is not None and stored.file.parent == tmp_path
    assert stat.S_IMODE(stored.file.stat().st_mode) == 0o600
    assert yaml.safe_load(stored.file.read_text())["stringData"]["pem"] == PEM
    assert answer.status_code == 200 and str(stored.file) in answer.text


def test_a_failed_exchange_is_an_error_for_the_terminal_and_the_browser(
    conversions: Conversions, tmp_path: Path
) -> None:
    conversions.codes.clear()
    outcome, answer = _flow(conversions, lambda obj: Stored("nowhere"), tmp_path)
    error = outcome["error"]
    assert isinstance(error, GitHubAppError)
    (line,) = error.problems
    assert line.startswith(
        "exchanging the code for the App's credentials failed: POST /app-manifests/{code}/conversions: HTTP "
        "404: Not Found; the code is unknown or used already"
    )
    assert CODE not in line
    assert answer.status_code == 502 and CODE not in answer.text
    assert list(tmp_path.iterdir()) == []


def test_without_a_redirect_the_flow_ends_at_its_timeout() -> None:
    server = ManifestServer({"name": "x"}, "https://github.com/x")
    with server, pytest.raises(GitHubAppError) as caught:
        run_flow(
            server, Transport("http://127.0.0.1:9"), dict, lambda o: Stored(""), lambda o, e: Stored(""), 0.2
        )
    assert caught.value.problems == [
        "no redirect from GitHub within 0s: nothing was created; run the command again and open the address "
        "it prints"
    ]


# ------------------------------------------------------------------------------ the command, end to end


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def _start(args: list[str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """Start `peribolos-generate github-app create ARGS`; return it and the address it says to open."""
    process = subprocess.Popen(
        [sys.executable, "-m", "generator.cli", "github-app", "create", *args],
        cwd=cwd,
        env={**_env(), "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    match = re.match(r"Open (http://127\.0\.0\.1:\d+/) in your browser", line)
    if not match:
        process.kill()
        _, err = process.communicate(timeout=10)
        pytest.fail(f"no address printed: {line}{err}")
    return process, match.group(1)


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, out + err


@pytest.mark.parametrize(
    ("api_path", "sets", "expected_action"),
    [
        pytest.param("", [], "https://github.com/organizations/acme/settings/apps/new", id="github.com"),
        pytest.param(
            "/api/v3",
            ["github.webUrl=", "namespace=org-admin", "githubApp.secretName=ghes-app"],
            "{api_host}/organizations/acme/settings/apps/new",
            id="enterprise-server",
        ),
    ],
)
def test_create_writes_the_app_secret_and_prints_no_secret(
    conversions: Conversions, tmp_path: Path, api_path: str, sets: list[str], expected_action: str
) -> None:
    conversions.prefix = api_path
    secret_file = tmp_path / "app.secret.yaml"
    args = [
        "--org",
        "acme",
        "-o",
        str(secret_file),
        "--set",
        WEBHOOK_URL,
        "--set",
        f"github.apiUrl={conversions.url}{api_path}",
    ]
    if not api_path:
        args += ["--set", "github.webUrl=https://github.com"]
    for item in sets:
        args += ["--set", item]
    process, url = _start(args, tmp_path)
    browser = Browser()
    action, manifest = browser.open(url)
    assert action.split("?")[0] == expected_action.format(api_host=conversions.url)
    assert manifest["redirect_url"] == f"{url}callback"
    assert manifest["hook_attributes"]["url"] == "https://hooks.example.com/peribolos"
    assert manifest["default_permissions"]["members"] == "write"
    # A redirect that is not from this flow (another state) is refused and changes nothing.
    assert browser.redirect(manifest, CODE, "forged").status_code == 400
    answer = browser.redirect(manifest, CODE, _state(action))
    assert answer.status_code == 200 and "acme-peribolos created" in answer.text
    code, output = _finish(process)
    assert code == 0, output
    for secret in (CODE, "MIIEfake", WEBHOOK_SECRET, CLIENT_SECRET):
        assert secret not in output and secret not in answer.text
    assert f"kubectl apply -f {secret_file} && shred -u {secret_file}" in output
    assert "https://github.com/apps/acme-peribolos/installations/new" in output
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = yaml.safe_load(secret_file.read_text())
    namespace, name = ("org-admin", "ghes-app") if api_path else ("peribolos", "peribolos-github-app")
    assert (secret["metadata"]["namespace"], secret["metadata"]["name"]) == (namespace, name)
    assert secret["stringData"] == {
        "app-id": "424242",
        "private-key.pem": PEM,
        "webhook-secret": WEBHOOK_SECRET,
    }
    (request,) = conversions.requests
    assert request["path"] == f"{api_path}/app-manifests/{CODE}/conversions"
    assert "Authorization" not in request["headers"]


def test_create_fails_with_exit_1_when_github_refuses_the_code(
    conversions: Conversions, tmp_path: Path
) -> None:
    conversions.status = 422
    process, url = _start(
        ["-o", "s.yaml", "--set", WEBHOOK_URL, "--set", f"github.apiUrl={conversions.url}"], tmp_path
    )
    browser = Browser()
    action, manifest = browser.open(url)
    assert browser.redirect(manifest, CODE, _state(action)).status_code == 502
    code, output = _finish(process)
    assert code == 1
    assert "error: exchanging the code for the App's credentials failed: POST /app-manifests/{code}" in output
    assert CODE not in output and not (tmp_path / "s.yaml").exists()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        pytest.param(["-o", "exists.yaml"], "exists.yaml: exists already; pass --force", id="file-exists"),
        pytest.param(["-o", "nowhere/s.yaml"], "nowhere/s.yaml: cannot write there", id="no-folder"),
        pytest.param(
            ["-o", "s.yaml", "--set", "githubApp.webhookUrl="],
            "githubApp.webhookUrl: required",
            id="no-webhook-url",
        ),
        pytest.param(
            ["--apply", "--kubeconfig", "missing.kubeconfig"],
            "cannot load Kubernetes credentials",
            id="no-kubeconfig",
        ),
    ],
)
def test_create_refuses_before_anything_is_created(tmp_path: Path, args: list[str], error: str) -> None:
    """What would make storing fail is checked first: a code is never spent on a Secret that cannot be."""
    (tmp_path / "exists.yaml").write_text("mine\n")
    done = subprocess.run(
        [sys.executable, "-m", "generator.cli", "github-app", "create", "--set", WEBHOOK_URL, *args],
        cwd=tmp_path,
        env={**_env(), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and error in done.stderr and "Open " not in done.stderr
    assert (tmp_path / "exists.yaml").read_text() == "mine\n"


def test_create_ends_at_its_timeout_without_a_redirect(tmp_path: Path) -> None:
    process, _ = _start(["--timeout", "1s", "--set", WEBHOOK_URL], tmp_path)
    code, output = _finish(process)
    assert code == 1 and "error: no redirect from GitHub within 1s: nothing was created" in output


def test_create_applies_the_secret_with_the_users_kubeconfig(
    conversions: Conversions, tmp_path: Path, kube_apiserver: Any, core_v1: Any, namespace: str
) -> None:
    import base64

    args = [
        "--apply",
        "--kubeconfig",
        str(kube_apiserver.kubeconfig),
        "--set",
        WEBHOOK_URL,
        "--set",
        f"github.apiUrl={conversions.url}",
        "--set",
        f"namespace={namespace}",
    ]
    process, url = _start(args, tmp_path)
    browser = Browser()
    action, manifest = browser.open(url)
    assert browser.redirect(manifest, CODE, _state(action)).status_code == 200
    code, output = _finish(process)
    assert code == 0, output
    assert f"applied to the cluster of your kubeconfig as Secret {namespace}/peribolos-github-app" in output
    secret = core_v1.read_namespaced_secret("peribolos-github-app", namespace)
    data = {key: base64.b64decode(value).decode() for key, value in secret.data.items()}
    assert data == {"app-id": "424242", "private-key.pem": PEM, "webhook-secret": WEBHOOK_SECRET}
    assert list(tmp_path.iterdir()) == []
    # A second run is refused before it starts (the Secret exists), unless --force.
    again = subprocess.run(
        [sys.executable, "-m", "generator.cli", "github-app", "create", *args],
        cwd=tmp_path,
        env={**_env(), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 2
    assert again.stderr == (
        f"error: Secret {namespace}/peribolos-github-app exists already; pass --force to replace it\n"
    )


def test_create_refuses_a_namespace_that_does_not_exist(kube_apiserver: Any, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "generator.cli",
            "github-app",
            "create",
            "--apply",
            "--kubeconfig",
            str(kube_apiserver.kubeconfig),
            "--set",
            WEBHOOK_URL,
            "--set",
            "namespace=no-such-namespace",
        ],
        cwd=tmp_path,
        env={**_env(), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(
        "error: creating Secret no-such-namespace/peribolos-github-app (dry run): "
        'HTTP 404: namespaces "no-such-namespace" not found'
    )
    assert done.stderr.endswith("(a dry run before creating the App: nothing was created)\n")
