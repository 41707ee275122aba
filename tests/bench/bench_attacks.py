"""Peak memory of the interceptor under the attacks of issue 14, each against a fresh server process.

Every attack is sent to a real ``peribolos-interceptor`` on 127.0.0.1, which is then asked for
``/healthz`` (still serving?) and its peak RSS (``VmHWM``) is read from ``/proc``. Target: < 200 MB for
any request accepted or refused (the pod's limit is 256 Mi). Bounded: each attack sends at most ~64 MiB
and waits at most 60 s.

    python -m tests.bench attacks
    BENCH_ATTACKS=emoji,context python -m tests.bench attacks
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

from tests.bench.bench_interceptor import SECRET, _peak_rss_mb, interceptor_request, push_payload
from tests.helpers import free_port

MIB = 1024 * 1024


def _post(body: bytes) -> bytes:
    return b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body)


def header_line(size: int = 256 * MIB) -> Iterator[bytes]:
    """An unfinished header line of ``size`` bytes, sent 1 MiB at a time."""
    yield b"POST / HTTP/1.1\r\nHost: t\r\nX-Big: "
    chunk = b"a" * MIB
    for _ in range(size // MIB):
        yield chunk


def nested_context(size: int = 32 * MIB) -> Iterator[bytes]:
    """An InterceptorRequest whose ``context`` is ``size`` bytes of empty objects."""
    members = b'"k":{},' * (size // 7)
    body = b'{"body": "{}", "header": {}, "context": {' + members + b'"end": {}}}'
    yield _post(body) + body


def emoji_body(size: int = 60 * MIB) -> Iterator[bytes]:
    """A request whose body string is ``size`` bytes of raw 4-byte UTF-8 emoji."""
    text = "😀" * (size // 4)
    body = json.dumps({"body": text, "header": {"X-Github-Event": ["push"]}}, ensure_ascii=False).encode()
    yield _post(body) + body


def ascii_and_one_emoji(size: int = 60 * MIB) -> Iterator[bytes]:
    """ASCII with a single emoji: as a Python str it would take 4 bytes a character."""
    body = json.dumps({"body": "😀" + "a" * size, "header": {}}, ensure_ascii=False).encode()
    yield _post(body) + body


def push_25_mb_with_emoji() -> Iterator[bytes]:
    """What the interceptor must accept: a signed 25 MB push whose commit message holds an emoji."""
    payload = json.loads(push_payload())
    payload["commits"][0]["message"] = "🚀 " + "m" * (25 * 1000 * 1000 - 5000)
    body = interceptor_request(json.dumps(payload, ensure_ascii=False).encode())
    yield _post(body) + body


def many_connections(count: int = 5000) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", PORT[0]), timeout=10) for _ in range(count)]


ATTACKS: dict[str, tuple[str, Callable[[], Iterator[bytes]]]] = {
    "header": ("unfinished 256 MiB header line", header_line),
    "context": ("32 MiB of nested empty objects in context", nested_context),
    "emoji": ("60 MiB body of emoji", emoji_body),
    "ascii-emoji": ("60 MiB ASCII body with one emoji", ascii_and_one_emoji),
    "push": ("accepted: signed 25 MB push with an emoji", push_25_mb_with_emoji),
}
PORT = [0]


def _healthy(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return sock.recv(64).startswith(b"HTTP/1.1 200")
    return False


def start_server(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from tekton.interceptor.cli import main; main()",
               "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, env={**os.environ, "WEBHOOK_SECRET": SECRET},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not _healthy(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("interceptor did not start")
        time.sleep(0.1)
    return proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def attack(parts: Iterator[bytes], port: int) -> str:
    """Send the parts (stopping when the server refuses), return the status line it answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        try:
            for part in parts:
                sock.sendall(part)
        except OSError:
            pass  # the server answered and closed while we were still sending
        answer = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
            _, _, rest = answer.partition(b"\r\n\r\n")
            body = rest[:200]
    status = answer.split(b"\r\n", 1)[0].decode(errors="replace") or "(connection closed)"
    if b'"status"' in body or b'"error"' in body:
        status += " " + body.decode(errors="replace")[:90]
    return status


def run_connections(port: int, count: int) -> str:
    held = many_connections(count)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            return sock.recv(200).split(b"\r\n", 1)[0].decode()
    finally:
        for sock in held:
            sock.close()


def main() -> int:
    wanted = [w for w in os.environ.get("BENCH_ATTACKS", "").split(",") if w]
    names = [n for n in [*ATTACKS, "connections"] if not wanted or n in wanted]
    print(f"{'attack':<44} {'answer':<64} {'healthy':>7} {'peak RSS MB':>11}")
    worst = 0.0
    for name in names:
        port = free_port()
        PORT[0] = port
        proc = start_server(port)
        try:
            idle = _peak_rss_mb(proc.pid)
            if name == "connections":
                what, answer = "5,000 idle connections, then one more", run_connections(port, 5000)
            else:
                what, make = ATTACKS[name]
                answer = attack(make(), port)
            time.sleep(0.3)
            healthy = _healthy(port)
            peak = _peak_rss_mb(proc.pid)
        finally:
            stop_server(proc)
        worst = max(worst, peak)
        print(f"{what:<44} {answer[:64]:<64} {'yes' if healthy else 'NO':>7} {peak:>6.1f} (idle {idle:.0f})",
              flush=True)
    print(f"worst peak RSS {worst:.1f} MB (target < 200 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
