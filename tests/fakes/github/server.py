"""The socket server: HTTP/1.1 with keep-alive on a bind address (127.0.0.1 by default; a test's network
namespace may bind a bridge address so Pods reach it). It parses requests, asks the fake for a
:class:`~tests.fakes.github.replies.Reply` and writes it; it never connects anywhere itself."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.github.faults import TRUNCATE_HEADER
from tests.fakes.github.replies import Reply

Respond = Callable[[str, str, dict[str, str], bytes], Reply | None]
"""(method, raw path, lower-case headers, body) -> the reply, or None to drop the connection."""

MAX_BODY = 64 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    respond: Respond

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                self.send_error(413)
                return
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = self.respond(self.command, self.path, headers, body)
            if reply is None:
                self.close_connection = True
                return
            self._write(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _write(self, reply: Reply) -> None:
        if isinstance(reply.payload, bytes | bytearray):
            data, content_type = bytes(reply.payload), "application/octet-stream"
        elif reply.payload is None and reply.status in (204, 304):
            data, content_type = b"", None
        else:
            data, content_type = json.dumps(reply.payload).encode(), "application/json; charset=utf-8"
        out = {**({"content-type": content_type} if content_type else {}), **reply.headers}
        truncate = out.pop(TRUNCATE_HEADER, None)
        self.send_response(reply.status)
        for name, value in out.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if truncate:
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_PATCH = _serve
    do_PUT = _serve
    do_DELETE = _serve


class Server:
    """A threaded HTTP server on ``host:port`` (0: a free port) serving ``respond`` until :meth:`stop`."""

    def __init__(self, respond: Respond, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"respond": staticmethod(respond)})
        self._server = ThreadingHTTPServer((host, port), handler, bind_and_activate=False)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._server.request_queue_size = 512
        self._server.allow_reuse_address = True
        self._server.server_bind()
        self._server.server_activate()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
