"""The HTTP layer: uvicorn (asyncio loop, httptools parser) and a minimal ASGI app of our own.

uvicorn does the HTTP/1.1 work: parsing (llhttp through httptools), keep-alive, pipelining, chunked
bodies, ``Expect: 100-continue`` (sent on the app's first ``receive()``), malformed requests (400),
the idle keep-alive timeout, back-pressure and the graceful drain on SIGTERM. This module adds what is
ours: the request size limit (413 without reading the rest), a body-read timeout, ``/readyz`` turning
503 once a drain starts, and an exit status of 0 after a drain. A decision takes ~0.1 ms of CPU and
does no I/O, so it runs inline in the event loop: no thread pool. Chosen by measurement
(docs/performance.md, "Why this stack").

uvicorn's httptools protocol has no bound on a request head and no timer on it, and accepts any number of
connections, so :class:`GuardedProtocol` (a subclass) adds them: a request head (request line and headers)
over :attr:`Limits.max_head_bytes` or with more than :attr:`Limits.max_headers` headers gets 431 before
httptools buffers more of it; a head not complete within :attr:`Limits.head_timeout` gets 408 (or, when
nothing came at all, a close); a connection beyond :attr:`Limits.max_connections` gets 503 at once. Each
refusal writes its answer, half-closes and drops what else the client sends for a moment (so that the
client reads the answer instead of a reset), then closes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from peribolos_core.errors import ConfigError
from tekton.interceptor.service import MAX_REQUEST_BYTES, Interceptor, Response

KEEP_ALIVE_SECONDS = 120.0
"""Idle keep-alive connections are closed after this long: longer than Go's idle-connection timeout
(90 s), so the EventListener, not the server, closes idle connections and a POST never races a
server-side close on a reused connection. A request body that stops arriving for this long gets 408."""
GRACEFUL_SHUTDOWN_SECONDS = 20
"""After SIGTERM, requests in flight get this long to finish (keep it under terminationGracePeriodSeconds)."""
LINGER_SECONDS = 1.0
"""After a refusal (408, 431, 503) what the client still sends is read and dropped this long, then the
connection closes: closing at once with unread data would reset it before the client reads the answer."""


@dataclass(frozen=True)
class Limits:
    """What one client can hold of the server. The defaults fit the EventListener's requests many times."""

    max_request_bytes: int = MAX_REQUEST_BYTES
    """Largest request body read (413 beyond)."""
    max_head_bytes: int = 32 * 1024
    """Largest request line plus headers (431 beyond). The sink's are ~300 bytes; nginx allows 32 KiB."""
    max_headers: int = 100
    """Most header fields in one request (431 beyond); Go's sink sends about six."""
    head_timeout: float = 5.0
    """Seconds from a connection's start, or from the first byte of a request, until its head is complete
    (408 and close beyond): the sink writes a head in one go, a slowloris client one byte at a time."""
    body_timeout: float = KEEP_ALIVE_SECONDS
    """Seconds to receive a whole body once its head is in (408 beyond)."""
    keep_alive: float = KEEP_ALIVE_SECONDS
    """Idle keep-alive connections are closed after this long."""
    max_connections: int = 1000
    """Open connections at most; the next one is answered 503 at once and closed. Each costs ~10 KB while
    open, so the cap bounds memory whatever a client does; the sink needs one per request in flight."""

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
log = logging.getLogger("peribolos.interceptor")


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounds on request heads, their timing and the connection count."""

    def __init__(
        self, *args: Any, limits: Limits, on_refusal: Callable[[str, int], None], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.on_refusal = on_refusal
        self._head_bytes = 0
        self._in_head = True
        self._headers_seen = 0
        self._begun = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._refusing: tuple[str, int, str] | None = None
        self._refused = False
        self._linger: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            message = (
                f"too many connections: the interceptor serves at most {self.limits.max_connections} at "
                "once; retry later"
            )
            self._refuse("too_many_connections", 503, message)
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._linger):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: read and drop
        if not self._in_head:
            self._feed(data)
            return
        room = self.limits.max_head_bytes - self._head_bytes
        if len(data) <= room:
            self._head_bytes += len(data)
            self._feed(data)
            return
        # More than the head may still take: give the parser only that much; the rest goes on only if
        # the head ended within it (the rest is then body or the next request).
        self._head_bytes += room
        self._feed(data[:room])
        if self._refused:
            return
        if self._in_head:
            self._refuse_head_too_large(f"request line and headers over {self.limits.max_head_bytes} bytes")
            return
        self.data_received(data[room:])

    def _feed(self, data: bytes) -> None:
        """uvicorn's data_received, telling our own refusals (raised from a parser callback) apart."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            if self._refusing is None:
                raise  # uvicorn's own callbacks failed: a bug; the transport logs it and closes
            self._refuse(*self._refusing)
        except httptools.HttpParserError:
            self.on_refusal("bad_http", 400)
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()

    def _refuse_head_too_large(self, why: str) -> None:
        self._refuse("head_too_large", 431, f"{why}: the interceptor takes at most that much")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True  # a request has started: its head owes us an answer if it stalls
        self._arm_head_timer()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes, self._headers_seen = True, 0, 0  # what follows is the next head
        self._begun = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers_seen += 1
        if self._headers_seen > self.limits.max_headers:
            self._refusing = (
                "head_too_large",
                431,
                f"more than {self.limits.max_headers} header fields: the interceptor takes at most that many",
            )
            raise _Refused  # stops the parser at once; _feed answers
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._refused or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm_head_timer()  # a pipelined head behind a request still answering: wait for it first
            return
        if not self._begun:
            self.on_refusal("head_timeout", 408)
            self.transport.close()  # a connection that never sent a byte: nothing to answer
            return
        self._refuse("head_timeout", 408, f"request head not complete within {self.limits.head_timeout:g} s")

    def _refuse(self, reason: str, status: int, message: str) -> None:
        """Answer ``status`` with ``{"error": message}``, half-close, drop the rest for a moment, close."""
        self._refused = True
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self.on_refusal(reason, status)
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # an answer is still being written: no second one in the middle of it
            return
        body = json.dumps({"error": message}).encode("ascii")
        head = b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        self.transport.write(STATUS_LINE[status] + head % len(body) + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def shutdown(self) -> None:
        if self._refused:
            self.transport.close()
            return
        super().shutdown()


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request being refused."""


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
            self.interceptor.refused("body_timeout", 408)
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

    async def _read_body(self, receive: Receive) -> bytes | bytearray | int | None:
        """The whole body; its size so far once over the limit (the rest is not read); None on disconnect.

        A body in several chunks grows one bytearray (no list of chunks joined into a second copy: 60 MB
        less at the peak of a 60 MB request); the interceptor clears it once parsed."""
        message = await receive()
        if message["type"] != "http.request":
            return None
        first: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            return first if len(first) <= self.max_request_bytes else len(first)
        body = bytearray(first)
        while True:
            if len(body) > self.max_request_bytes:
                return len(body)
            message = await receive()
            if message["type"] != "http.request":
                return None
            body += message.get("body", b"")
            if not message.get("more_body", False):
                return body if len(body) <= self.max_request_bytes else len(body)


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


def build_server(interceptor: Interceptor, host: str, port: int, limits: Limits = Limits()) -> Server:
    """The configured server; ``await server.serve()`` runs it, ``server.should_exit = True`` drains it."""
    app = App(interceptor, limits.max_request_bytes, body_timeout=limits.body_timeout)
    protocol = functools.partial(GuardedProtocol, limits=limits, on_refusal=interceptor.refused)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="asyncio",  # not uvloop: it starved some of 256 connections for seconds
        http=protocol,  # type: ignore[arg-type]  # uvicorn calls it like a protocol class
        ws="none",
        lifespan="off",
        interface="asgi3",
        access_log=False,  # the interceptor logs each decision itself
        log_config=None,  # keep our JSON logging
        log_level=logging.WARNING,  # uvicorn's start-up banner says nothing our "listening" line does not
        server_header=False,
        timeout_keep_alive=limits.keep_alive,  # type: ignore[arg-type]  # a float works: call_later
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
    # proto=IPPROTO_TCP: asyncio turns Nagle off only on sockets that say so (socket.create_server's do
    # not: every keep-alive answer then waited ~40 ms for a delayed ACK); set on the listener, it is
    # inherited by every accepted connection as well.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
        return sock
    except OSError as exc:  # address in use, not an address of this machine, unknown host name
        sock.close()
        why = exc.strerror or str(exc)
        raise ConfigError(f"cannot listen on {host}:{port}: {why}; check --host and --port") from exc


def serve(interceptor: Interceptor, host: str, port: int, limits: Limits = Limits()) -> None:
    """Listen on ``host:port`` until SIGTERM or SIGINT; exit after the drain."""
    sock = listen(host, port)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exiting)
    build_server(interceptor, host, port, limits).run(sockets=[sock])
