"""The HTTP server: a minimal ASGI app on uvicorn (httptools parser, asyncio event loop).

Chosen over the stdlib ``ThreadingHTTPServer`` by measurement (docs/performance.md). The app only moves
bytes between uvicorn and :class:`~tekton.interceptor.service.Interceptor`; uvicorn gives HTTP/1.1
keep-alive, and on SIGTERM stops accepting, lets in-flight requests finish, then exits.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

from tekton.interceptor.service import MAX_REQUEST_BYTES, Interceptor, Response

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

KEEP_ALIVE_SECONDS = 120
"""Longer than Go's idle-connection timeout (90 s): the EventListener, not the server, closes idle
connections, so a POST never races a server-side close on a reused connection."""
GRACEFUL_SHUTDOWN_SECONDS = 20
"""In-flight requests get this long after SIGTERM (keep it under the pod's terminationGracePeriodSeconds)."""

log = logging.getLogger("peribolos.interceptor")


class App:
    """ASGI application around an :class:`Interceptor`."""

    def __init__(self, interceptor: Interceptor, max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.interceptor = interceptor
        self.max_request_bytes = max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_request_bytes:
            await _send(send, self.interceptor.too_large(declared), close=True)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_request_bytes:
                await _send(send, self.interceptor.too_large(size), close=True)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        await _send(send, self.interceptor.handle(scope["method"], scope["path"], body))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.interceptor.ready = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.interceptor.ready = False
                await send({"type": "lifespan.shutdown.complete"})
                return


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send(send: Send, response: Response, close: bool = False) -> None:
    headers = [
        (b"content-type", response.content_type.encode("ascii")),
        (b"content-length", str(len(response.body)).encode("ascii")),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


class _Server(uvicorn.Server):
    """uvicorn's server, telling the app to fail /readyz as soon as SIGTERM arrives."""

    def __init__(self, config: uvicorn.Config, interceptor: Interceptor) -> None:
        super().__init__(config)
        self._interceptor = interceptor

    def handle_exit(self, sig: int, frame: Any) -> None:
        # Not super(): uvicorn re-raises the signal after shutting down, so the process would die "killed by
        # SIGTERM" even after a clean drain. Here a drained shutdown exits 0; a second SIGINT forces it.
        self._interceptor.ready = False
        log.info("shutting down: finishing in-flight requests", extra={"signal": sig})
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


class _DropColour(logging.Filter):
    """uvicorn adds a ``color_message`` with terminal escapes to its records: noise in a JSON line."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)
        return True


def serve(interceptor: Interceptor, host: str, port: int) -> None:
    """Listen on ``host:port`` until SIGTERM or SIGINT."""
    logging.getLogger("uvicorn.error").addFilter(_DropColour())
    config = uvicorn.Config(
        App(interceptor),
        host=host,
        port=port,
        loop="asyncio",  # not uvloop: under 256 connections it starved some of them for seconds
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        date_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        backlog=2048,
    )
    _Server(config, interceptor).run()
