"""The HTTP layer: uvicorn (asyncio loop, httptools parser) and a minimal ASGI app of our own.

uvicorn does the HTTP/1.1 work: parsing (llhttp through httptools), keep-alive, pipelining, chunked
bodies, ``Expect: 100-continue`` (sent on the app's first ``receive()``), malformed requests (400),
the idle keep-alive timeout, back-pressure and the graceful drain on SIGTERM. This module adds what is
ours: the request size limit (413 without reading the rest), a body-read timeout, ``/readyz`` turning
503 once a drain starts, and an exit status of 0 after a drain. A decision takes ~0.1 ms of CPU and
does no I/O, so it runs inline in the event loop: no thread pool. Chosen by measurement
(docs/performance.md, "Why this stack").

Known gap: uvicorn times out idle keep-alive connections and (through this app) stalled bodies, but not
a client that never finishes its request headers; such a connection is only closed by the drain. The one
client is the EventListener, inside the cluster.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from types import FrameType
from typing import Any

import uvicorn

from peribolos_core.errors import ConfigError
from tekton.interceptor.service import MAX_REQUEST_BYTES, Interceptor, Response

KEEP_ALIVE_SECONDS = 120.0
"""Idle keep-alive connections are closed after this long: longer than Go's idle-connection timeout
(90 s), so the EventListener, not the server, closes idle connections and a POST never races a
server-side close on a reused connection. A request body that stops arriving for this long gets 408."""
GRACEFUL_SHUTDOWN_SECONDS = 20
"""After SIGTERM, requests in flight get this long to finish (keep it under terminationGracePeriodSeconds)."""

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
log = logging.getLogger("peribolos.interceptor")


class App:
    """ASGI app: every HTTP request goes to ``Interceptor.handle``; no framework, no routing of our own."""

    def __init__(
        self,
        interceptor: Interceptor,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        body_timeout: float = KEEP_ALIVE_SECONDS,
    ) -> None:
        self.interceptor = interceptor
        self.max_request_bytes = max_request_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off and websockets are disabled
            return
        declared, close = None, False
        for name, value in scope["headers"]:  # names are lower-case; llhttp validated Content-Length
            if name == b"content-length" and value.isdigit():
                declared = int(value)
            elif name == b"connection" and b"upgrade" in value.lower():
                close = True  # answered as plain HTTP/1.1; what follows would be another protocol
        if declared is not None and declared > self.max_request_bytes:
            # Refused before the first receive(): no "100 Continue", and the body is never read.
            await _send(send, self.interceptor.too_large(declared), close=True)
            return
        try:
            async with asyncio.timeout(self.body_timeout):
                body = await self._read_body(receive)
        except TimeoutError:
            log.warning(
                "a client stopped sending its request body: answered HTTP 408 and closed the connection",
                extra={"timeout_seconds": self.body_timeout},
            )
            await _send(send, _error(408, "request body incomplete: timed out"), close=True)
            return
        if body is None:  # the client went away
            return
        if isinstance(body, int):
            await _send(send, self.interceptor.too_large(body), close=True)
            return
        try:
            response = self.interceptor.handle(scope["method"], scope["path"], body)
        except Exception:  # a bug: answer 500 and keep serving the other connections
            log.exception("the interceptor failed on a request; this is a bug, please report it")
            response = Response(500, "text/plain", b"internal error\n")
        await _send(send, response, close=close)

    async def _read_body(self, receive: Receive) -> bytes | int | None:
        """The whole body; its size so far once over the limit (the rest is not read); None on disconnect."""
        message = await receive()
        if message["type"] != "http.request":
            return None
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            return body if len(body) <= self.max_request_bytes else len(body)
        chunks, size = [body], len(body)
        while True:
            if size > self.max_request_bytes:
                return size
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks) if size <= self.max_request_bytes else size


async def _send(send: Send, response: Response, close: bool = False) -> None:
    headers = [
        (b"content-type", response.content_type.encode("ascii")),
        (b"content-length", b"%d" % len(response.body)),
    ]
    if close:
        headers.append((b"connection", b"close"))  # uvicorn closes the connection after this response
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def _error(status: int, message: str) -> Response:
    return Response(status, "application/json", json.dumps({"error": message}).encode("ascii"))


class Server(uvicorn.Server):
    """uvicorn's server, telling the interceptor when it is ready and when the drain starts."""

    def __init__(self, config: uvicorn.Config, interceptor: Interceptor) -> None:
        super().__init__(config)
        self.interceptor = interceptor

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            address = self.servers[0].sockets[0].getsockname()
            self.interceptor.ready = True
            log.info("listening", extra={"address": f"{address[0]}:{address[1]}"})

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.interceptor.ready = False  # /readyz answers 503 from the signal on (no logging here)
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        self.interceptor.ready = False
        log.info(
            "shutting down: finishing in-flight requests",
            extra={"connections": len(self.server_state.connections)},
        )
        await super().shutdown(sockets)
        log.info("stopped")


def build_server(
    interceptor: Interceptor,
    host: str,
    port: int,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    keep_alive: float = KEEP_ALIVE_SECONDS,
) -> Server:
    """The configured server; ``await server.serve()`` runs it, ``server.should_exit = True`` drains it."""
    app = App(interceptor, max_request_bytes, body_timeout=keep_alive)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="asyncio",  # not uvloop: it starved some of 256 connections for seconds
        http="httptools",
        ws="none",
        lifespan="off",
        interface="asgi3",
        access_log=False,  # the interceptor logs each decision itself
        log_config=None,  # keep our JSON logging
        log_level=logging.WARNING,  # uvicorn's start-up banner says nothing our "listening" line does not
        server_header=False,
        timeout_keep_alive=keep_alive,  # type: ignore[arg-type]  # a float works: it goes to call_later
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return Server(config, interceptor)


def _exiting(signum: int, frame: FrameType | None) -> None:
    """Installed around uvicorn's own handlers. uvicorn re-raises the SIGTERM it drained on once it has
    finished, which with the default action would turn a clean drain into "killed by signal"; this
    handler takes it (and any later SIGTERM while the process exits) so the exit status is 0."""


def listen(host: str, port: int) -> socket.socket:
    """The listening socket; :class:`ConfigError` (exit 2) when ``host:port`` cannot be bound, instead of
    uvicorn's own exit status 3."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:  # address in use, not an address of this machine, unknown host name
        why = exc.strerror or str(exc)
        raise ConfigError(f"cannot listen on {host}:{port}: {why}; check --host and --port") from exc


def serve(interceptor: Interceptor, host: str, port: int) -> None:
    """Listen on ``host:port`` until SIGTERM or SIGINT; exit after the drain."""
    sock = listen(host, port)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exiting)
    build_server(interceptor, host, port).run(sockets=[sock])
