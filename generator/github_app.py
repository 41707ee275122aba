"""``peribolos-generate github-app create``: GitHub's App-manifest flow, end to end, from one command.

1. A web server on 127.0.0.1 serves a page that posts the App manifest (the values' permissions, events
   and webhook URL) to GitHub's "new App" page of the organisation (or the user account), on GitHub.com or
   an Enterprise host (``github.webUrl``). The user presses *Create* there: one click.
2. GitHub sends the browser back to ``http://127.0.0.1:PORT/callback?code=…&state=…``; the state must be
   the one this run made (so no other page can hand it a code).
3. The code is exchanged at ``POST {github.apiUrl}/app-manifests/{code}/conversions`` (within the hour
   GitHub gives) for the App's id, private key and webhook secret.
4. They become the App Secret (``githubApp.secretName`` and its keys, in ``namespace``): a manifest file
   written with mode 0600, or applied with the user's kubeconfig. When applying fails, the file is written
   instead: the key exists only in this answer from GitHub, so it is never dropped.

The code, the key and the webhook secret are never printed, logged or put in an error message.
Pure parts: :func:`new_app_url`, :func:`form_page`, :func:`parse_conversion`, :func:`secret_object`.
"""

from __future__ import annotations

import html
import json
import os
import queue
import re
import secrets
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import yaml

from generator.errors import GitHubAppError, OutputError
from peribolos_core.errors import GitHubError, KubeConflict, KubeError
from peribolos_core.http import Transport
from peribolos_core.logs import register_secret

CALLBACK = "/callback"
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_EXISTS = "{path}: exists already; pass --force to replace it, or choose another --output"
ANSWER_TIMEOUT = 60.0
"""Seconds the browser's callback request waits for the exchange and the store to finish."""


@dataclass(frozen=True)
class AppCredentials:
    """What the conversion returns that this service keeps. ``repr`` leaves the secrets out."""

    app_id: str
    slug: str
    name: str
    html_url: str
    pem: str = field(repr=False)
    webhook_secret: str = field(repr=False)


PLACEHOLDER = AppCredentials(app_id="0", slug="", name="", html_url="", pem="", webhook_secret="")
"""Stands in for the credentials in the dry run that checks, before the flow, that the Secret can be made."""


def new_app_url(web_url: str, org: str | None) -> str:
    """GitHub's page that takes a manifest: the organisation's, or the signed-in user's without ``org``."""
    base = web_url.rstrip("/")
    if org:
        return f"{base}/organizations/{quote(org, safe='')}/settings/apps/new"
    return f"{base}/settings/apps/new"


def form_page(action: str, state: str, manifest: dict[str, Any]) -> str:
    """The page that posts the manifest to GitHub as soon as it loads (a button too, for no-script)."""
    target = html.escape(f"{action}?state={quote(state, safe='')}", quote=True)
    value = html.escape(json.dumps(manifest), quote=True)
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Create the GitHub App</title></head>"
        "<body><form id=\"manifest\" method=\"post\" action=\"" + target + "\">"
        "<input type=\"hidden\" name=\"manifest\" value=\"" + value + "\">"
        "<p>Sending the App manifest to GitHub...</p>"
        "<button type=\"submit\">Create the GitHub App on GitHub</button></form>"
        "<script>document.getElementById(\"manifest\").submit();</script></body></html>"
    )


def _message_page(title: str, text: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )


def parse_conversion(data: Any) -> AppCredentials:
    """The fields of GitHub's 201 answer this service needs; GitHubAppError naming what is missing."""
    if not isinstance(data, dict):
        raise GitHubAppError(["GitHub's answer to the manifest conversion is not a JSON object"])
    missing = [
        key for key in ("id", "pem", "webhook_secret")
        if not isinstance(data.get(key), str | int) or data.get(key) in ("", None)
    ]
    if missing:
        raise GitHubAppError([
            f"GitHub's answer to the manifest conversion lacks {', '.join(missing)}: the App may exist "
            "without them; open its settings on GitHub (Developer settings, GitHub Apps) to finish by hand"
        ])
    return AppCredentials(
        app_id=str(data["id"]),
        slug=str(data.get("slug") or ""),
        name=str(data.get("name") or ""),
        html_url=str(data.get("html_url") or ""),
        pem=str(data["pem"]),
        webhook_secret=str(data["webhook_secret"]),
    )


def secret_object(v: dict[str, Any], credentials: AppCredentials) -> dict[str, Any]:
    """The App Secret, named and keyed as the values say (``githubApp.*``), in the values' namespace."""
    app = v["githubApp"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": app["secretName"],
            "namespace": v["namespace"],
            "labels": {
                "app.kubernetes.io/instance": v["namespace"],
                "app.kubernetes.io/part-of": "peribolos-as-a-service",
                "app.kubernetes.io/component": "github-app",
            },
            "annotations": {"peribolos.dev/github-app": credentials.html_url or credentials.slug},
        },
        "type": "Opaque",
        "stringData": {
            app["appIdKey"]: credentials.app_id,
            app["privateKeyKey"]: credentials.pem,
            app["webhookSecretKey"]: credentials.webhook_secret,
        },
    }


def exchange_code(transport: Transport, code: str) -> AppCredentials:
    """``POST /app-manifests/{code}/conversions`` (no credentials: the code is one). Errors never hold it."""
    register_secret(code)  # a last line of defence, should a log line ever carry the request path
    try:
        response = transport.request(
            "POST", f"/app-manifests/{code}/conversions",
            authorization=None,  # no header: the code authenticates
        )
        data = response.json()
    except GitHubError as exc:
        message = exc.message.replace(code, "{code}")
        hint = (
            "the code is unknown or used already (it is valid once, for one hour)"
            if exc.status_code in (404, 422) else "GitHub could not be reached or failed"
        )
        raise GitHubAppError([
            f"exchanging the code for the App's credentials failed: {message}; {hint}. The App may exist on "
            "GitHub now: delete it there (Developer settings, GitHub Apps) and run github-app create again"
        ]) from None
    except ValueError:
        raise GitHubAppError(["GitHub's answer to the manifest conversion is not JSON"]) from None
    credentials = parse_conversion(data)
    register_secret(credentials.webhook_secret)
    return credentials


@dataclass(frozen=True)
class Stored:
    """Where the Secret went: in words for the user, and the file when it is one."""

    where: str
    file: Path | None = None


def _dump(descriptor: int, obj: dict[str, Any]) -> None:
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        yaml.safe_dump(obj, handle, sort_keys=False, default_flow_style=False)


def write_secret_file(path: Path, obj: dict[str, Any], force: bool) -> Stored:
    """Write the Secret manifest with mode 0600 (created so: never readable by others, not even briefly)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        _dump(os.open(path, flags, 0o600), obj)
    except FileExistsError:
        raise OutputError([_EXISTS.format(path=path)]) from None
    except OSError as exc:
        raise OutputError([f"{path}: cannot write the Secret: {exc.strerror or exc}"]) from None
    return Stored(f"written to {path} (mode 0600)", path)


def write_fallback_file(wanted: Path, obj: dict[str, Any]) -> Stored:
    """When the Secret could not go where asked: a new file (mode 0600) beside ``wanted``, else in the home
    or temp folder, so the key GitHub sent once is kept."""
    stem = wanted.name.removesuffix(".yaml")
    for folder in (wanted.parent, Path.home(), Path(tempfile.gettempdir())):
        try:
            descriptor, name = tempfile.mkstemp(prefix=f"{stem}-", suffix=".yaml", dir=folder)
        except OSError:
            continue
        _dump(descriptor, obj)
        return Stored(f"written to {name} (mode 0600)", Path(name))
    raise GitHubAppError(["no folder could take the App Secret (the folder asked for, home, temp)"])


def check_output_file(path: Path, force: bool) -> None:
    """Before the flow: the file can be written (so a code is never spent on a store that must fail)."""
    if path.exists() and not force:
        raise OutputError([_EXISTS.format(path=path)])
    if path.is_dir():
        raise OutputError([f"{path}: is a directory; --output names the Secret manifest file to write"])
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError([f"{path}: cannot write there ({parent} is no writable folder)"])


class KubeSecretStore:
    """Creates (or, with force, replaces) the App Secret through the user's kubeconfig."""

    def __init__(self, core_v1: Any, force: bool) -> None:
        self.core_v1 = core_v1
        self.force = force

    def check(self, obj: dict[str, Any]) -> None:
        """A server-side dry run: the namespace exists, RBAC lets us create Secrets, none is in the way."""
        from peribolos_core.kube import kube_errors  # imports the kubernetes client: only when applying

        meta = obj["metadata"]
        where = f"Secret {meta['namespace']}/{meta['name']}"
        try:
            with kube_errors(f"creating {where} (dry run)"):
                self.core_v1.create_namespaced_secret(meta["namespace"], obj, dry_run="All")
        except KubeConflict:
            if not self.force:
                raise OutputError([f"{where} exists already; pass --force to replace it"]) from None
        except KubeError as exc:
            message = f"{exc.message} (a dry run before creating the App: nothing was created)"
            raise OutputError([message]) from None

    def store(self, obj: dict[str, Any]) -> Stored:
        from peribolos_core.kube import kube_errors

        meta = obj["metadata"]
        where = f"Secret {meta['namespace']}/{meta['name']}"
        try:
            with kube_errors(f"creating {where}"):
                self.core_v1.create_namespaced_secret(meta["namespace"], obj)
        except KubeConflict:
            if not self.force:
                raise
            with kube_errors(f"replacing {where}"):
                self.core_v1.replace_namespaced_secret(meta["name"], meta["namespace"], obj)
        return Stored(f"applied to the cluster of your kubeconfig as {where}")


@dataclass
class _Callback:
    """What the browser's callback hands the main thread, and the page it gets back."""

    code: str
    answer: queue.Queue[tuple[int, str]] = field(default_factory=lambda: queue.Queue(maxsize=1))


class ManifestServer:
    """The local web server of the flow, on 127.0.0.1 only. It serves the form page and takes one callback
    whose state matches; it logs no request (the callback's query holds the code)."""

    def __init__(
        self, manifest: dict[str, Any], action: str, port: int = 0, state: str | None = None
    ) -> None:
        self.state = state or secrets.token_urlsafe(24)
        self.callbacks: queue.Queue[_Callback] = queue.Queue()
        self._taken = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        host, bound = self._httpd.server_address[:2]
        self.url = f"http://{host}:{bound}/"
        manifest = {**manifest, "redirect_url": f"http://{host}:{bound}{CALLBACK}"}
        self.page = form_page(action, self.state, manifest)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="app-manifest", daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "peribolos-generate"
            sys_version = ""

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: the callback's query string holds the code."""

            def _send(self, status: int, page: str) -> None:
                body = page.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Referrer-Policy", "no-referrer")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/":
                    self._send(200, server.page)
                    return
                if parts.path != CALLBACK:
                    self._send(404, _message_page("Not found", "Open the address the command printed."))
                    return
                query = parse_qs(parts.query)
                state = (query.get("state") or [""])[0]
                code = (query.get("code") or [""])[0]
                if not secrets.compare_digest(state.encode(), server.state.encode()):
                    self._send(400, _message_page(
                        "Wrong state", "This redirect is not from the flow this command started; ignored."
                    ))
                    return
                if not _CODE.match(code):
                    self._send(400, _message_page("No code", "GitHub's redirect carries no usable code."))
                    return
                if server._taken.is_set():
                    self._send(409, _message_page("Done already", "This flow has taken its code already."))
                    return
                server._taken.set()
                callback = _Callback(code)
                server.callbacks.put(callback)
                try:
                    status, page = callback.answer.get(timeout=ANSWER_TIMEOUT)
                except queue.Empty:
                    status, page = 504, _message_page("Still working", "See the terminal for the result.")
                self._send(status, page)

        return Handler

    def __enter__(self) -> ManifestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@dataclass(frozen=True)
class CreateResult:
    credentials: AppCredentials
    stored: Stored


def run_flow(
    server: ManifestServer,
    transport: Transport,
    secret_for: Callable[[AppCredentials], dict[str, Any]],
    store: Callable[[dict[str, Any]], Stored],
    fallback: Callable[[dict[str, Any], Exception], Stored],
    timeout: float,
) -> CreateResult:
    """Wait (at most ``timeout`` seconds) for GitHub's redirect, exchange its code, store the Secret.

    ``store`` puts it where the user asked; when that fails after the exchange, ``fallback`` writes it
    elsewhere and says where (the key exists nowhere else). The browser's page tells the outcome too.
    """
    try:
        callback = server.callbacks.get(timeout=timeout)
    except queue.Empty:
        raise GitHubAppError([
            f"no redirect from GitHub within {timeout:.0f}s: nothing was created; run the command again "
            "and open the address it prints"
        ]) from None
    try:
        credentials = exchange_code(transport, callback.code)
    except GitHubAppError as exc:
        callback.answer.put((502, _message_page("Not created", exc.problems[0])))
        raise
    obj = secret_for(credentials)
    try:
        stored = store(obj)
    except (KubeError, OutputError) as exc:
        stored = fallback(obj, exc)
    callback.answer.put((200, _message_page(
        f"GitHub App {credentials.name} created",
        f"App id {credentials.app_id}; its Secret: {stored.where}. You can close this tab; the terminal says "
        "what comes next.",
    )))
    return CreateResult(credentials, stored)
