"""The HTTP layer (uvicorn + our ASGI app) in-process on 127.0.0.1: framing, limits, keep-alive, drain."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tekton.interceptor.server import Limits, build_server
from tekton.interceptor.service import Interceptor, Settings
from tests.helpers import free_port
from tests.interceptor.conftest import SECRET, config_push, interceptor_request, metric

LIMIT = 4096
PUSH = json.dumps(interceptor_request("push", config_push())).encode()


def post(body: bytes, extra: str = "") -> bytes:
    return f"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def run(
    scenario: Callable[..., Awaitable[None]], limit: int = 1 << 20, keep_alive: float = 120, **limits: Any
) -> Interceptor:
    """Serve on a free port, run ``scenario(port, interceptor, stop)`` against it, then drain and stop;
    ``stop()`` starts the drain as SIGTERM does. ``limits`` override :class:`Limits` fields."""
    interceptor = Interceptor(Settings(secrets=(SECRET.encode(),)))
    bounds = Limits(max_request_bytes=limit, keep_alive=keep_alive, body_timeout=keep_alive, **limits)

    async def main() -> None:
        server = build_server(interceptor, "127.0.0.1", free_port(), bounds)
        serving = asyncio.create_task(server.serve())
        for _ in range(500):
            if interceptor.ready:
                break
            await asyncio.sleep(0.01)
        port = server.config.port

        def stop() -> None:  # what SIGTERM does, without sending a signal to the test process
            server.should_exit = True

        try:
            await asyncio.wait_for(scenario(port, interceptor, stop), 20)
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, 30)

    asyncio.run(main())
    return interceptor


async def exchange(port: int, data: bytes, read_until_close: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await reader.read() if read_until_close else await reader.read(65536)
    writer.close()
    return answer


def responses(raw: bytes) -> list[tuple[int, bytes]]:
    """Split concatenated HTTP/1.1 responses (content-length framed) into (status, body)."""
    out = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next(int(v) for k, _, v in (h.partition(b": ") for h in lines[1:]) if k == b"content-length")
        out.append((int(lines[0].split()[1]), rest[:length]))
        raw = rest[length:]
    return out


def test_pipelined_requests_are_answered_in_order_and_http10_closes() -> None:
    async def scenario(port: int, *_: object) -> None:
        data = post(PUSH) + b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n" + b"GET /readyz HTTP/1.0\r\n\r\n"
        answers = responses(await exchange(port, data))  # HTTP/1.0 without keep-alive: server closes
        assert [status for status, _ in answers] == [200, 200, 200]
        assert json.loads(answers[0][1])["extensions"]["peribolos"]["action"] == "sync"
        assert answers[1][1] == b"ok\n"

    run(scenario)


def test_chunked_body_and_expect_100_continue() -> None:
    async def scenario(port: int, *_: object) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
        )
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        half = len(PUSH) // 2
        for chunk in (PUSH[:half], PUSH[half:]):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        writer.write(b"0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        answers = responses(await reader.read())
        writer.close()
        assert [status for status, _ in answers] == [200, 200]
        assert json.loads(answers[0][1])["continue"] is True

    run(scenario)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999\r\n\r\n{",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        + (b"400\r\n" + b"x" * 1024 + b"\r\n") * 5,
    ],
    ids=["declared-length", "chunked-stream"],
)
def test_over_the_limit_is_413_and_the_connection_closes(request_bytes: bytes) -> None:
    async def scenario(port: int, *_: object) -> None:
        answer = await exchange(port, request_bytes)
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert b"connection: close" in answer

    interceptor = run(scenario, limit=LIMIT)
    labels = {"event": "none", "decision": "too_large", "code": "413"}
    assert metric(interceptor.metrics.render(), "peribolos_interceptor_requests_total", **labels) == 1


@pytest.mark.parametrize(
    ("request_bytes", "answer"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 400 "),
        (b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", b"HTTP/1.1 400 "),
        (
            b"GET /healthz HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\nPRI * HTTP/2.0",
            b"HTTP/1.1 200 ",
        ),
    ],
    ids=["garbage", "bad-length", "upgrade-ignored-then-closed"],
)
def test_malformed_http_gets_an_answer_and_a_close(request_bytes: bytes, answer: bytes) -> None:
    async def scenario(port: int, *_: object) -> None:
        raw = await exchange(port, request_bytes)  # reads until the server closes
        assert raw.startswith(answer)
        assert raw.count(b"HTTP/1.1") == 1

    run(scenario)


def test_head_has_no_body_and_unknown_paths_are_404() -> None:
    async def scenario(port: int, *_: object) -> None:
        data = b"HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
        data += b"GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        head, _, rest = (await exchange(port, data)).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"\r\ncontent-length: 3" in head  # the length of the body GET would have had
        assert rest.startswith(b"HTTP/1.1 404")  # and no body before the next response

    run(scenario)


def test_expect_100_continue_over_the_limit_is_413_without_a_continue() -> None:
    async def scenario(port: int, *_: object) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999\r\nExpect: 100-continue\r\n\r\n")
        answer = await reader.read()  # the server answers and closes: the client never sends the body
        writer.close()
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert b"100 Continue" not in answer

    run(scenario, limit=LIMIT)


def test_drain_finishes_the_request_in_flight_and_closes_idle_connections() -> None:
    async def scenario(port: int, interceptor: Interceptor, stop: Callable[[], None]) -> None:
        busy_reader, busy = await asyncio.open_connection("127.0.0.1", port)
        idle_reader, idle = await asyncio.open_connection("127.0.0.1", port)
        idle.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        await idle_reader.readuntil(b"ok\n")
        busy.write(post(PUSH)[:200])  # headers and part of the body: a request in flight
        await asyncio.sleep(0.05)
        stop()  # what SIGTERM does
        assert await idle_reader.read() == b""  # the idle keep-alive connection is closed at once
        assert not interceptor.ready
        busy.write(post(PUSH)[200:])
        answer = await busy_reader.read()
        assert answer.startswith(b"HTTP/1.1 200 OK")
        assert b"connection: close" in answer
        assert json.loads(responses(answer)[0][1])["continue"] is True
        busy.close()
        idle.close()

    run(scenario)


def test_a_stalled_body_gets_408_and_idle_connections_are_closed_after_the_keep_alive_timeout() -> None:
    async def scenario(port: int, *_: object) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n{")  # then nothing more
        answer = await asyncio.wait_for(reader.read(), 5)
        assert answer.startswith(b"HTTP/1.1 408 ")
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")  # keep-alive, then silence
        assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 200 OK")  # then closed
        writer.close()

    run(scenario, keep_alive=0.2)


# --- bounds on what one client can hold: request heads, their timing, connections --------------------


def refusals(interceptor: Interceptor, reason: str, status: int) -> float:
    labels = {"event": "none", "decision": reason, "code": str(status)}
    return metric(interceptor.metrics.render(), "peribolos_interceptor_requests_total", **labels)


HEAD_ROWS = [
    ("header-line-never-ends", b"POST / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 200_000),
    ("url-never-ends", b"GET /" + b"a" * 200_000),
    ("head-over-the-limit", b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 3000 + b"\r\n"),
    ("too-many-headers", b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % n for n in range(101)) + b"\r\n"),
]


@pytest.mark.parametrize("request_bytes", [r[1] for r in HEAD_ROWS], ids=[r[0] for r in HEAD_ROWS])
def test_a_head_over_the_limits_is_431_and_closed(request_bytes: bytes) -> None:
    async def scenario(port: int, *_: object) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request_bytes)
        answer = await asyncio.wait_for(reader.read(), 5)  # the server half-closes after its answer
        writer.close()
        assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
        assert b"connection: close" in answer
        assert b"at most" in responses(answer)[0][1]

    interceptor = run(scenario, max_head_bytes=16 * 1024)
    assert refusals(interceptor, "head_too_large", 431) == 1


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-%d: v\r\n" % n for n in range(98)), 200),
        (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX: " + b"v" * (16 * 1024 - 80) + b"\r\n", 200),
    ],
    ids=["100-headers", "just-under-the-bytes"],
)
def test_heads_at_the_limits_are_served(head: bytes, status: int) -> None:
    async def scenario(port: int, *_: object) -> None:
        answer = await exchange(port, head + b"Connection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 %d " % status)

    run(scenario, max_head_bytes=16 * 1024)


def test_a_head_and_body_arriving_together_across_the_head_limit_are_served() -> None:
    """The head ends inside the data that crosses the limit: what follows it is body, and is read."""
    async def scenario(port: int, *_: object) -> None:
        head_padding = "X-Pad: " + "p" * (16 * 1024 - 200) + "\r\n"
        data = post(PUSH, extra=head_padding + "Connection: close\r\n")
        assert len(data) > 16 * 1024 > data.index(b"\r\n\r\n")
        answer = await exchange(port, data)
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert json.loads(responses(answer)[0][1])["extensions"]["peribolos"]["action"] == "sync"

    run(scenario, max_head_bytes=16 * 1024)


def test_slowloris_heads_get_408_and_silent_connections_are_closed() -> None:
    async def scenario(port: int, *_: object) -> None:
        loop = asyncio.get_running_loop()
        silent_reader, silent = await asyncio.open_connection("127.0.0.1", port)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = loop.time()
        writer.write(b"POST / HTTP/1.1\r\nHost: t\r\n")
        answer = b""
        for n in range(40):  # one header line every 0.1 s: bytes keep coming, the head never ends
            await asyncio.sleep(0.1)
            if writer.is_closing() or reader.at_eof():
                break
            try:
                writer.write(b"X-%d: v\r\n" % n)
            except ConnectionError:
                break
            with contextlib.suppress(TimeoutError):
                answer += await asyncio.wait_for(reader.read(65536), 0.01)
            if answer:
                break
        answer += await asyncio.wait_for(reader.read(), 5)
        took = loop.time() - started
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"not complete within 0.5 s" in answer
        assert 0.4 < took < 3
        assert await asyncio.wait_for(silent_reader.read(), 5) == b""  # closed without a word
        assert loop.time() - started < 3
        silent.close()
        writer.close()

    interceptor = run(scenario, head_timeout=0.5)
    assert refusals(interceptor, "head_timeout", 408) == 2


def test_an_idle_keep_alive_connection_is_not_hurried_by_the_head_timeout() -> None:
    async def scenario(port: int, *_: object) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(2):
            writer.write(post(PUSH))
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            await asyncio.sleep(0.6)  # idle longer than the head timeout, shorter than keep-alive
        writer.close()

    run(scenario, head_timeout=0.3, keep_alive=5)


def test_connections_beyond_the_cap_get_503_at_once() -> None:
    async def scenario(port: int, *_: object) -> None:
        held = []
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            await reader.readuntil(b"ok\n")
            held.append((reader, writer))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post(PUSH))
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert b"at most 3 at once" in answer
        held.pop()[1].close()
        await asyncio.sleep(0.2)
        answer = await exchange(port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 ")  # room again
        for _, w in held:
            w.close()

    interceptor = run(scenario, max_connections=3)
    assert refusals(interceptor, "too_many_connections", 503) == 1


def test_a_stalled_pipelined_head_gets_408_after_the_answer_before_it() -> None:
    async def scenario(port: int, *_: object) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post(PUSH) + b"POST / HTTP/1.1\r\nHost: t\r\n")  # then the second head stalls
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        first, _, second = answer.partition(b"HTTP/1.1 408 ")
        assert first.startswith(b"HTTP/1.1 200 ") and b"408" not in first
        assert json.loads(responses(first)[0][1])["continue"] is True
        assert b"not complete within 0.3 s" in second

    run(scenario, head_timeout=0.3)
