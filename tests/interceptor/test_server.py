"""The real ``peribolos-interceptor`` process over HTTP on 127.0.0.1 (started as a subprocess)."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tekton.interceptor.server import listen
from tekton.interceptor.service import MAX_REQUEST_BYTES
from tests.interceptor.conftest import (
    SECRET,
    Running,
    config_push,
    interceptor_request,
    metric,
    org_installation,
    start_interceptor,
)

Start = Callable[..., Running]


def call(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, response.read()


def test_probes_and_metrics(interceptor_process: Start) -> None:
    server = interceptor_process(secrets=[SECRET])
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    assert call(conn, "GET", "/healthz") == (200, b"ok\n")
    assert call(conn, "GET", "/readyz") == (200, b"ready\n")
    status, body = call(conn, "GET", "/metrics")
    assert status == 200
    assert b"# TYPE peribolos_interceptor_requests_total counter" in body


def test_decisions_over_one_keep_alive_connection(interceptor_process: Start) -> None:
    server = interceptor_process("--allowed-orgs", "octo-org,other", secrets=["old-secret-1234567", SECRET])
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    answers = []
    for event, payload, secret in [
        ("push", config_push(), SECRET),
        ("installation", org_installation("installation/deleted"), "old-secret-1234567"),
        ("push", config_push(), "not-a-configured-secret"),
        ("ping", {"zen": "Design for failure."}, SECRET),
    ]:
        status, body = call(conn, "POST", "/", interceptor_request(event, payload, secret=secret))
        assert status == 200
        answers.append(json.loads(body))
    assert [(a["continue"], a["status"]["code"]) for a in answers] == [
        (True, 0),
        (True, 0),
        (False, 16),
        (False, 9),
    ]
    assert answers[0]["extensions"]["peribolos"]["action"] == "sync"
    assert answers[1]["extensions"]["peribolos"]["action"] == "uninstall"
    status, metrics = call(conn, "GET", "/metrics")
    labels = {"event": "push", "decision": "sync", "code": "0"}
    assert metric(metrics, "peribolos_interceptor_requests_total", **labels) == 1
    decided = {"event": "push", "action": "sync", "code": "0"}
    assert metric(metrics, "peribolos_interceptor_decisions_total", **decided) == 1
    assert server.stop() == 0
    lines = [json.loads(line) for line in server.log.splitlines()]
    decisions = [line for line in lines if "decision" in line]
    assert [d["decision"] for d in decisions] == ["sync", "uninstall", "stop", "stop"]
    assert SECRET not in server.log and "old-secret-1234567" not in server.log


def test_a_flood_of_rejections_writes_a_few_lines_with_the_count(interceptor_process: Start) -> None:
    server = interceptor_process(secrets=[SECRET])

    def post(body: bytes) -> bytes:
        return b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    unsigned = json.dumps(interceptor_request("push", config_push(), secret="not-the-secret")).encode()
    data = (post(unsigned) + post(b"not json")) * 300 + b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(data)  # pipelined: all 601 in one go
        answers = b""
        while chunk := sock.recv(1 << 20):
            answers += chunk
    assert answers.count(b"HTTP/1.1 200 ") == 301 and answers.count(b"HTTP/1.1 400 ") == 300
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"NOT HTTP\r\n\r\n")
        sock.recv(100)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    _, metrics = call(conn, "GET", "/metrics")
    assert server.stop() == 0
    warnings = [json.loads(line) for line in server.log.splitlines() if '"warning"' in line]
    assert 3 <= len(warnings) <= 6, warnings  # one per reason (and per 10 s), not 601
    rejected = "peribolos_interceptor_requests_total"
    assert metric(metrics, rejected, event="push", decision="stop", code="16") == 300  # every one counted
    assert metric(metrics, rejected, event="none", decision="bad_request", code="400") == 300


def test_not_an_interceptor_request_is_400(interceptor_process: Start) -> None:
    server = interceptor_process(secrets=[SECRET])
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    status, body = call(conn, "POST", "/", b"this is not JSON")
    assert status == 400
    assert "not JSON" in json.loads(body)["error"]
    assert call(conn, "GET", "/healthz")[0] == 200  # the connection survives


def test_request_over_the_size_limit_is_413_without_reading_it(interceptor_process: Start) -> None:
    server = interceptor_process(secrets=[SECRET])
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {MAX_REQUEST_BYTES + 1}\r\n\r\n".encode()
        )
        sock.sendall(b"{" * 4096)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"connection: close" in answer.lower()


def test_a_25_mb_webhook_is_accepted(interceptor_process: Start) -> None:
    server = interceptor_process(secrets=[SECRET])
    payload = config_push()
    payload["commits"][0]["message"] = "m" * (25 * 1000 * 1000 - 4000)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    status, body = call(conn, "POST", "/", interceptor_request("push", payload))
    assert status == 200
    assert json.loads(body)["extensions"]["peribolos"]["action"] == "sync"


def test_insecure_mode_warns_loudly_and_accepts_unsigned(interceptor_process: Start) -> None:
    server = interceptor_process("--insecure-skip-signature")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    request = interceptor_request("installation", org_installation("installation/created"), secret=None)
    status, body = call(conn, "POST", "/", request)
    assert status == 200
    assert json.loads(body)["extensions"]["peribolos"]["action"] == "install"
    server.stop()
    assert "SIGNATURE CHECKS ARE OFF" in server.log
    decision = next(json.loads(line) for line in server.log.splitlines() if '"decision"' in line)
    assert decision["signature"] == "NOT CHECKED (--insecure-skip-signature)"


def test_webhook_secret_from_the_environment(interceptor_process: Start) -> None:
    server = interceptor_process(env={"WEBHOOK_SECRET": SECRET})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    status, body = call(conn, "POST", "/", interceptor_request("push", config_push()))
    assert (status, json.loads(body)["continue"]) == (200, True)


def test_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    empty = tmp_path / "secret"
    empty.write_text("\n\n", encoding="utf-8")
    for args in ([], ["--webhook-secret-file", str(empty)]):
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "peribolos-interceptor"), "--port", "0", *args],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": "/usr/bin:/bin"},
        )
        assert proc.returncode == 2
        assert "no webhook secret" in proc.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "192.0.2.1"], ids=["port-in-use", "not-our-address"])
def test_a_failed_bind_exits_2_with_one_line(interceptor_process: Start, host: str) -> None:
    taken = interceptor_process(secrets=[SECRET])
    command = str(Path(sys.executable).parent / "peribolos-interceptor")
    proc = subprocess.run(
        [command, "--host", host, "--port", str(taken.port)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "WEBHOOK_SECRET": SECRET, "GITHUB_APP_ID": "2"},
    )
    assert proc.returncode == 2, proc.stderr
    assert f"cannot listen on {host}:{taken.port}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_accepted_connections_have_nagle_off() -> None:
    """Without TCP_NODELAY every keep-alive answer waits ~40 ms for the client's delayed ACK."""
    listener = listen("127.0.0.1", 0)
    with listener, socket.create_connection(listener.getsockname()[:2]):
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.proto == socket.IPPROTO_TCP  # what asyncio checks before its own setsockopt
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_sigterm_finishes_the_request_in_flight(tmp_path: Path) -> None:
    server = start_interceptor([], env={"WEBHOOK_SECRET": SECRET})
    raw = json.dumps(interceptor_request("push", config_push())).encode()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(f"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {len(raw)}\r\n\r\n".encode())
            sock.sendall(raw[:100])
            time.sleep(0.3)  # the request is now in flight: headers read, body half sent
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            sock.sendall(raw[100:])
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")
        assert b'"continue":true' in answer
        code = server.proc.wait(timeout=30)  # exits by itself once drained
    finally:
        server.stop()
    assert code == 0
    assert "finishing in-flight requests" in server.log
