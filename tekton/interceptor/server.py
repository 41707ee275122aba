"""The HTTP server: asyncio + httptools (llhttp, Node's parser), one write per response.

Chosen by measurement over the stdlib ``ThreadingHTTPServer`` and over uvicorn (docs/performance.md).
A decision takes ~0.1 ms of CPU and does no I/O, so each request is answered inside ``data_received``:
no task, no thread, no ASGI message per request, and the status line, headers and body leave in one
``write`` (uvicorn writes headers and body separately: two syscalls, two TCP segments with Nagle off).
httptools does the parsing (chunked bodies, keep-alive, pipelining, HTTP/1.0); this module adds the size
limit, ``Expect: 100-continue``, idle timeouts, back-pressure and the SIGTERM drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import httptools

from tekton.interceptor.service import MAX_REQUEST_BYTES, Interceptor, Response

KEEP_ALIVE_SECONDS = 120.0
"""Idle keep-alive connections are closed after this long: longer than Go's idle-connection timeout
(90 s), so the EventListener, not the server, closes idle connections and a POST never races a
server-side close on a reused connection. A request whose bytes stop arriving for this long is dropped."""
GRACEFUL_SHUTDOWN_SECONDS = 20.0
"""After SIGTERM, requests in flight get this long to finish (keep it under terminationGracePeriodSeconds)."""

_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    413: b"Content Too Large",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}
log = logging.getLogger("peribolos.interceptor")


class _State:
    """What the connections share: the interceptor, the open connections, whether we are draining."""

    def __init__(self, interceptor: Interceptor, max_request_bytes: int, keep_alive: float) -> None:
        self.interceptor = interceptor
        self.max_request_bytes = max_request_bytes
        self.keep_alive = keep_alive
        self.connections: set[_Connection] = set()
        self.draining = False
        self.all_closed = asyncio.Event()


class _Connection(asyncio.Protocol):
    """One client connection; httptools calls the ``on_*`` methods as it parses."""

    def __init__(self, state: _State) -> None:
        self.state = state
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.last_active = self.loop.time()
        self.in_request = False
        self.hung_up = False
        self.url = b""
        self.chunks: list[bytes] = []
        self.size = 0
        self.expect_continue = False
        self.declared: int | None = None

    # --- asyncio.Protocol ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.state.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections.discard(self)
        if self.state.draining and not self.state.connections:
            self.state.all_closed.set()

    def data_received(self, data: bytes) -> None:
        self.last_active = self.loop.time()
        if self.hung_up:
            return  # a 413 or 400 is on its way out; ignore the rest of that request
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # The request was answered as plain HTTP/1.1; what follows would be another protocol: hang up.
            self.hung_up = True
            self.transport.close()  # type: ignore[union-attr]
        except httptools.HttpParserError:
            self._respond(Response(400, "text/plain", b"malformed HTTP request\n"), close=True)

    def pause_writing(self) -> None:  # the client does not read its answers: stop reading its requests
        self.transport.pause_reading()  # type: ignore[union-attr]

    def resume_writing(self) -> None:
        self.transport.resume_reading()  # type: ignore[union-attr]

    # --- httptools callbacks -------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.in_request = True
        self.url = b""
        self.chunks = []
        self.size = 0
        self.expect_continue = False
        self.declared = None

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" and value.isdigit():
            self.declared = int(value)
        elif name == b"expect" and value.lower() == b"100-continue":
            self.expect_continue = True

    def on_headers_complete(self) -> None:
        if self.declared is not None and self.declared > self.state.max_request_bytes:
            self._refuse_too_large(self.declared)
        elif self.expect_continue:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # type: ignore[union-attr]

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.state.max_request_bytes:
            self._refuse_too_large(self.size)
            return
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.in_request = False
        if self.hung_up:
            return
        method = self.parser.get_method().decode("ascii", "replace")
        try:
            path = httptools.parse_url(self.url).path.decode("latin-1")
        except httptools.HttpParserInvalidURLError:
            self._respond(Response(400, "text/plain", b"malformed request target\n"), close=True)
            return
        body = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks = []
        try:
            response = self.state.interceptor.handle(method, path, body)
        except Exception:  # a bug: answer 500 and keep serving the other connections
            log.exception("the interceptor failed on a request; this is a bug, please report it")
            response = Response(500, "text/plain", b"internal error\n")
        close = not self.parser.should_keep_alive() or self.state.draining
        self._respond(response, close=close, head=method == "HEAD")

    # --- helpers -------------------------------------------------------------------------------------

    def _refuse_too_large(self, size: int) -> None:
        self._respond(self.state.interceptor.too_large(size), close=True)

    def _respond(self, response: Response, close: bool = False, head: bool = False) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        header = b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n%s\r\n" % (
            response.status,
            _REASONS.get(response.status, b"Unknown"),
            response.content_type.encode("ascii"),
            len(response.body),
            b"connection: close\r\n" if close else b"",
        )
        transport.write(header if head else header + response.body)
        if close:
            self.hung_up = True
            transport.close()

    def close_if_idle(self, now: float, drain: bool) -> None:
        """Close a connection with no request in flight (on drain), or one silent for too long."""
        if (drain and not self.in_request) or now - self.last_active > self.state.keep_alive:
            self.transport.close()  # type: ignore[union-attr]


async def serve_async(
    interceptor: Interceptor,
    host: str,
    port: int,
    stop: asyncio.Event | None = None,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    handle_signals: bool = True,
    keep_alive: float = KEEP_ALIVE_SECONDS,
) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop`` is set), then drain: stop accepting, finish requests in
    flight, close idle keep-alive connections, return."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    if handle_signals:
        _on_signals(loop, stop)
    state = _State(interceptor, max_request_bytes, keep_alive)
    server = await loop.create_server(
        lambda: _Connection(state), host, port, backlog=2048, reuse_address=True
    )
    address = server.sockets[0].getsockname()
    interceptor.ready = True
    log.info("listening", extra={"address": f"{address[0]}:{address[1]}"})
    sweeper = loop.create_task(_sweep(state))
    await stop.wait()

    interceptor.ready = False
    state.draining = True
    log.info("shutting down: finishing in-flight requests", extra={"connections": len(state.connections)})
    server.close()
    sweeper.cancel()
    for connection in list(state.connections):
        connection.close_if_idle(loop.time(), drain=True)
    if state.connections:
        try:
            await asyncio.wait_for(state.all_closed.wait(), GRACEFUL_SHUTDOWN_SECONDS)
        except TimeoutError:
            log.warning(
                "drain timed out; closing connections with requests still in flight",
                extra={"connections": len(state.connections)},
            )
    log.info("stopped")


def _on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """SIGTERM/SIGINT start the drain. Not ``loop.add_signal_handler``: asyncio removes those handlers when
    the loop closes, and a second SIGTERM arriving while the process exits would then kill it with the
    default action, turning a clean drain into "killed by signal". These stay installed until exit."""

    def handler(signum: int, frame: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed: we are exiting anyway
            loop.call_soon_threadsafe(stop.set)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


async def _sweep(state: _State) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(min(10.0, state.keep_alive / 4))
        now = loop.time()
        for connection in list(state.connections):
            connection.close_if_idle(now, drain=False)


def serve(interceptor: Interceptor, host: str, port: int) -> None:
    """Listen on ``host:port`` until SIGTERM or SIGINT; exit after the drain."""
    asyncio.run(serve_async(interceptor, host, port))
