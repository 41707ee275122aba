"""Interceptor throughput and tail latency: an 8 KB signed push that decides ``sync``, over loopback.

For each server stack (the shipped uvicorn + httptools server behind our ASGI app, run as
``peribolos-interceptor``, and the stdlib ``ThreadingHTTPServer`` baseline with
``disable_nagle_algorithm``), start it as its own process, then drive it from another process with
keep-alive connections at 1, 32 and 256 concurrent connections and print requests/s, p50/p99 latency,
the server's CPU time per request and its peak RSS (``VmHWM`` from ``/proc``). The load generator is
``wrk`` when it is on PATH (``make bench`` tries to apt-get it), else a Python asyncio client in its own
process (heavier: it takes CPU from the server on a 2-core machine, so its figures are lower). Every run
is bounded in time; only 127.0.0.1 is contacted.

    python -m tests.bench interceptor
    BENCH_SECONDS=2 BENCH_STACKS=shipped BENCH_CLIENT=python python -m tests.bench interceptor
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.helpers import free_port, sign

FIXTURE = (
    Path(__file__).parents[1] / "fixtures" / "github-webhooks" / "push" / "with-installation.payload.json"
)
SECRET = "bench-webhook-secret-0123456789"
CONCURRENCY = (1, 32, 256)
PAYLOAD_BYTES = 8 * 1024


def push_payload(size: int = PAYLOAD_BYTES) -> bytes:
    """The real push fixture, turned into a push to Octo-Org/.github's default branch touching peribolos.yaml,
    padded with commit messages to ``size`` bytes."""
    payload = json.loads(FIXTURE.read_text(encoding="utf-8"))
    repo = payload["repository"]
    repo.update(name=".github", full_name="Octo-Org/.github", default_branch="main")
    repo["owner"].update(login="Octo-Org", type="Organization")
    payload.update(
        ref="refs/heads/main",
        deleted=False,
        created=False,
        forced=False,
        after="a" * 40,
        organization={"login": "Octo-Org", "id": 1},
    )
    commit = {"id": "a" * 40, "message": "", "added": [], "modified": ["peribolos.yaml"], "removed": []}
    payload["commits"] = [commit]
    body = json.dumps(payload).encode()
    commit["message"] = "x" * max(0, size - len(body))
    return json.dumps(payload).encode()


def interceptor_request(body: bytes) -> bytes:
    signature = sign(body, SECRET)
    return json.dumps(
        {
            "body": body.decode(),
            "header": {
                "X-Github-Event": ["push"],
                "X-Hub-Signature-256": [signature],
                "X-Github-Delivery": ["72d3162e-cc78-11e3-81ab-4c9367dc0958"],
                "Content-Type": ["application/json"],
            },
            "extensions": {},
            "interceptor_params": {},
            "context": {"event_url": "http://el/", "event_id": "e1", "trigger_id": "t1"},
        }
    ).encode()


# --- the baseline measured against the shipped server ---------------------------------------------


def _interceptor() -> Any:
    from peribolos_core import logs
    from tekton.interceptor.service import Interceptor, Settings

    logs.configure()
    interceptor = Interceptor(Settings(secrets=(SECRET.encode(),)))
    interceptor.ready = True
    return interceptor


def serve_stdlib(port: int) -> None:
    """The same Interceptor behind http.server's ThreadingHTTPServer (HTTP/1.1 keep-alive, Nagle off)."""
    interceptor = _interceptor()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # cpython#108736: else ~40 ms per keep-alive response

        def _answer(self, body: bytes) -> None:
            response = interceptor.handle(self.command, self.path, body)
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        def do_POST(self) -> None:
            self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def do_GET(self) -> None:
            self._answer(b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 2048

    Server(("127.0.0.1", port), Handler).serve_forever()


# --- the load generator (runs in its own process) ------------------------------------------------


class _Connection(asyncio.Protocol):
    def __init__(
        self,
        request: bytes,
        deadline: float,
        latencies: list[float],
        errors: list[str],
        done: asyncio.Future[None],
    ) -> None:
        self.request, self.deadline, self.latencies, self.errors, self.done = (
            request,
            deadline,
            latencies,
            errors,
            done,
        )
        self.buffer = b""
        self.sent = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def _send(self) -> None:
        self.sent = time.perf_counter()
        self.transport.write(self.request)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            eol = head.find(b"\r\n", at)
            length = int(head[at + 15 : eol if eol > 0 else len(head)])
            if len(self.buffer) < end + 4 + length:
                return
            now = time.perf_counter()
            if self.buffer[9:12] != b"200":
                self.errors.append(self.buffer[:12].decode(errors="replace"))
            self.latencies.append(now - self.sent)
            self.buffer = self.buffer[end + 4 + length :]
            if now >= self.deadline:
                self.transport.close()  # type: ignore[union-attr]
                return
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _drive(port: int, connections: int, seconds: float, request: bytes) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + 3600.0
    waits, protocols = [], []
    for _ in range(connections):  # connect every connection first, like wrk, then start them together
        done: asyncio.Future[None] = loop.create_future()
        _, protocol = await loop.create_connection(
            lambda d=done: _Connection(request, deadline, latencies, errors, d), "127.0.0.1", port
        )
        waits.append(done)
        protocols.append(protocol)
    started = time.perf_counter()
    for protocol in protocols:
        protocol.deadline = started + seconds
        protocol._send()
    await asyncio.wait_for(asyncio.gather(*waits), timeout=seconds + 30)
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")
        )

    return {
        "connections": connections,
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000 if latencies else 0,
        "errors": len(errors),
    }


def run_client(port: int, connections: int, seconds: float, request_file: str) -> None:
    payload = Path(request_file).read_bytes()
    request = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(_drive(port, connections, seconds, request))))


# --- orchestration ---------------------------------------------------------------------------------


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if sock.recv(64).startswith(b"HTTP/1.1 200"):
                return
        time.sleep(0.1)
    raise RuntimeError("server did not become ready")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_command(stack: str, port: int) -> list[str]:
    if stack == "stdlib":
        return [sys.executable, "-m", "tests.bench.bench_interceptor", "--serve-stdlib", str(port)]
    return [
        sys.executable,
        "-c",
        "from tekton.interceptor.cli import main; main()",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


_WRK_SCRIPT = """
local f = io.open("{path}", "rb")
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "application/json"
"""


def _wrk_ms(text: str) -> float:
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
    number = text.rstrip("usm")
    return float(number) * units[text[len(number) :]]


def run_wrk(wrk: str, port: int, connections: int, seconds: float, request_file: str) -> dict[str, Any]:
    """One wrk run (C load generator, far lighter than a Python client on a 2-core machine)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_WRK_SCRIPT.format(path=request_file))
        script.flush()
        threads = 1  # one wrk thread keeps up and leaves the other core to the server
        out = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--latency",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}/",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        ).stdout
    row: dict[str, Any] = {"connections": connections, "errors": 0}
    for line in out.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            row["rps"] = float(words[1])
        elif words[:1] == ["50%"]:
            row["p50_ms"] = _wrk_ms(words[1])
        elif words[:1] == ["99%"]:
            row["p99_ms"] = _wrk_ms(words[1])
        elif words[:1] == ["Latency"] and len(words) >= 4:
            row["max_ms"] = _wrk_ms(words[3])
        elif line.strip().startswith(("Non-2xx", "Socket errors")):
            row["errors"] += sum(int(w.strip(",")) for w in words if w.strip(",").isdigit())
    return row


def run_python_client(port: int, connections: int, seconds: float, request_file: str) -> dict[str, Any]:
    client = [sys.executable, "-m", "tests.bench.bench_interceptor", "--client", str(port)]
    out = subprocess.run(
        [*client, str(connections), str(seconds), request_file],
        check=True,
        capture_output=True,
        timeout=seconds + 60,
    )
    return json.loads(out.stdout)


def bench_stack(stack: str, request_file: str, seconds: float, wrk: str | None) -> list[dict[str, Any]]:
    port = free_port()
    env = {**os.environ, "WEBHOOK_SECRET": SECRET}
    server = subprocess.Popen(
        _server_command(stack, port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    rows = []
    try:
        _wait_ready(port, server)
        load = (
            (lambda c, s: run_wrk(wrk, port, c, s, request_file))
            if wrk
            else (lambda c, s: run_python_client(port, c, s, request_file))
        )
        load(8, 1)  # warm-up
        for connections in CONCURRENCY:
            cpu_before = _cpu_seconds(server.pid)
            row = load(connections, seconds)
            requests = row["rps"] * max(1, round(seconds)) if wrk else row["requests"]
            row["cpu_us"] = (_cpu_seconds(server.pid) - cpu_before) / max(1, requests) * 1e6
            row["rss_mb"] = _peak_rss_mb(server.pid)
            rows.append(row)
            print(
                f"  {stack:8} {connections:4} conns  {row['rps']:8.0f} req/s  p50 {row['p50_ms']:7.2f} ms  "
                f"p99 {row['p99_ms']:7.2f} ms  max {row.get('max_ms', float('nan')):7.2f} ms  "
                f"errors {row['errors']}  server CPU {row['cpu_us']:4.0f} us/req  "
                f"peak RSS {row['rss_mb']:.1f} MB",
                flush=True,
            )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return rows


def main() -> int:
    seconds = float(os.environ.get("BENCH_SECONDS", "5"))
    stacks = os.environ.get("BENCH_STACKS", "shipped,stdlib").split(",")
    wrk = None if os.environ.get("BENCH_CLIENT") == "python" else shutil.which("wrk")
    body = push_payload()
    request = interceptor_request(body)
    with open("/proc/loadavg") as handle:
        load = handle.read().split()[0]
    print(
        f"payload {len(body)} bytes (InterceptorRequest {len(request)} bytes), decision sync, "
        f"{seconds:g} s per row, load generator {'wrk' if wrk else 'Python asyncio (wrk not found)'}, "
        f"{os.cpu_count()} CPUs shared with it, load average {load} before the run"
    )
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(request)
        handle.flush()
        for stack in stacks:
            bench_stack(stack, handle.name, seconds, wrk)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-stdlib":
        serve_stdlib(int(sys.argv[2]))
    elif len(sys.argv) > 5 and sys.argv[1] == "--client":
        run_client(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(main())
