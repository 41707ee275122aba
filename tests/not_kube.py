"""Kubeconfigs that lead nowhere useful: to a server that is no kube-apiserver (a proxy's HTML page, a
truncated body), or to a loopback port where nothing listens.

``not_a_kube_apiserver(directory, body, content_type)`` answers every request on 127.0.0.1 with HTTP 200
and ``body``; it yields the kubeconfig's path and stops when the block ends. ``dead_kubeconfig(path)``
writes one naming a free port.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.helpers import free_port

ANSWERS = {
    "html": (b"<html><body>Sign in to the proxy</body></html>", "text/html; charset=utf-8"),
    "broken-json": (b"{not json", "application/json"),
    "json-list": (b"[1, 2]", "application/json"),
}
"""Answers a misconfigured kubeconfig meets, by name."""


@contextmanager
def not_a_kube_apiserver(directory: Path, body: bytes, content_type: str) -> Iterator[Path]:
    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = _kubeconfig(directory / "not-kube.kubeconfig", {"server": f"http://127.0.0.1:{server.server_port}"})
    try:
        yield kubeconfig
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def dead_kubeconfig(path: Path) -> Path:
    """A kubeconfig naming a loopback port where nothing listens."""
    return _kubeconfig(path, {"server": f"https://127.0.0.1:{free_port()}", "insecure-skip-tls-verify": True})


def _kubeconfig(path: Path, cluster: dict[str, object]) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }))
    return path
