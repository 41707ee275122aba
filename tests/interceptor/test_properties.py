"""Property tests: whatever arrives (bytes, headers, InterceptorRequests, mangled real payloads), the
interceptor answers a well-formed response, never a 5xx, and never raises."""

from __future__ import annotations

import http.client
import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tekton.interceptor.decision import KNOWN_EVENTS
from tekton.interceptor.service import Interceptor, Response, Settings
from tests.helpers import sign
from tests.interceptor.conftest import (
    FIXTURES,
    SECRET,
    Running,
    config_check_run,
    config_pull_request,
    config_push,
    start_interceptor,
)

PAYLOADS = [
    *[("push", config_push()), ("pull_request", config_pull_request()), ("check_run", config_check_run())]
    * 4,
    *[(path.parent.name, json.loads(path.read_text())) for path in sorted(FIXTURES.glob("*/*.payload.json"))],
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:3]):
            yield from _paths(child, (*prefix, index))


@st.composite
def mangled_payloads(draw: st.DrawFn) -> tuple[str, Any]:
    """A real payload with a few fields replaced by arbitrary JSON, or deleted."""
    event, payload = draw(st.sampled_from(PAYLOADS))
    payload = json.loads(json.dumps(payload))
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
        paths = [p for p in _paths(payload) if p]
        if not paths:
            break
        *parents, last = draw(st.sampled_from(paths))
        node = payload
        for part in parents:
            node = node[part]
        if draw(st.booleans()) and isinstance(node, dict):
            del node[last]
        else:
            node[last] = draw(json_values)
    return event, payload


@st.composite
def interceptor_requests(draw: st.DrawFn) -> bytes:
    event, payload = draw(mangled_payloads())
    body = json.dumps(payload) if draw(st.integers(0, 4)) else draw(st.text(max_size=200))
    if draw(st.integers(0, 5)) == 0:
        event = draw(st.sampled_from(sorted(KNOWN_EVENTS)) | st.text(max_size=30))
    header: dict[str, Any] = {
        draw(st.sampled_from(["X-Github-Event", "x-github-event", "X-GITHUB-EVENT"])): [event]
    }
    signature = draw(
        st.sampled_from(["good"] * 6 + ["bad", "none", "garbage"]).map(
            lambda kind: {
                "good": [sign(body.encode("utf-8", "surrogatepass"), SECRET)],
                "bad": [sign(body.encode("utf-8", "surrogatepass"), "other")],
                "none": None,
                "garbage": [draw(st.text(max_size=80))],
            }[kind]
        )
    )
    if signature is not None:
        header["X-Hub-Signature-256"] = signature
    header.update(
        draw(st.dictionaries(st.text(max_size=20), st.lists(st.text(max_size=20), max_size=2), max_size=3))
    )
    request: dict[str, Any] = {"body": body, "header": header}
    if draw(st.booleans()):
        request["interceptor_params"] = draw(
            st.dictionaries(st.sampled_from(["config_repo", "config_path", "other"]), json_values, max_size=2)
        )
    if draw(st.booleans()):
        request["extensions"] = draw(st.dictionaries(st.text(max_size=10), json_values, max_size=2))
    if draw(st.integers(0, 7)) == 0:  # a field of the wrong type: no longer an InterceptorRequest
        request[draw(st.sampled_from(["body", "header", "context", "interceptor_params"]))] = draw(
            json_values
        )
    return json.dumps(request).encode()


any_http_body = st.one_of(
    interceptor_requests(),
    interceptor_requests(),
    interceptor_requests(),
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
)


def check_well_formed(status: int, body: bytes) -> None:
    assert status in (200, 400), status
    answer = json.loads(body)
    if status == 400:
        assert isinstance(answer["error"], str) and answer["error"]
        return
    assert isinstance(answer["continue"], bool)
    code, message = answer["status"]["code"], answer["status"]["message"]
    assert isinstance(message, str)
    if answer["continue"]:
        assert code == 0
        values = answer["extensions"]["peribolos"]
        assert values["action"] in ("install", "uninstall", "sync", "dry-run")
        assert all(isinstance(v, str) for v in values.values())
        assert values["installation_id"].isdigit()
        assert values["secret_name"] == f"peribolos-token-{values['installation_id']}"
    else:
        assert code in (3, 9, 16) and message
        assert "extensions" not in answer


INTERCEPTOR = Interceptor(Settings(secrets=(SECRET.encode(),)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=any_http_body)
def test_in_process_every_request_gets_a_well_formed_answer(raw: bytes) -> None:
    response = INTERCEPTOR.handle("POST", "/", raw)
    assert isinstance(response, Response)
    check_well_formed(response.status, response.body)
    event(f"HTTP {response.status} " + (response.body[12:40].decode() if response.status == 200 else ""))


@pytest.fixture(scope="module")
def live_server() -> Iterator[Running]:
    server = start_interceptor([], env={"WEBHOOK_SECRET": SECRET})
    yield server
    assert server.stop() == 0


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(raw=any_http_body)
def test_over_http_never_a_5xx(live_server: Running, raw: bytes) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=10)
    try:
        conn.request("POST", "/", body=raw, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        check_well_formed(response.status, response.read())
    finally:
        conn.close()


raw_http = st.one_of(
    st.binary(max_size=400),
    st.builds(
        lambda method, target, headers, body: (
            f"{method} {target} HTTP/1.1\r\n".encode() + headers + b"\r\n" + body
        ),
        st.sampled_from(["GET", "POST", "PUT", "HEAD", "OPTIONS", "G\x00T"]),
        st.sampled_from(["/", "/healthz", "/metrics", "*", "http://x/readyz", "/%zz", "/" + "a" * 300]),
        st.lists(
            st.sampled_from(
                [
                    b"Host: t\r\n",
                    b"Content-Length: 5\r\n",
                    b"Content-Length: -1\r\n",
                    b"Transfer-Encoding: chunked\r\n",
                    b"Connection: close\r\n",
                    b"Expect: 100-continue\r\n",
                    b"X: \xff\r\n",
                    b"Bad Header\r\n",
                ]
            ),
            max_size=4,
        ).map(b"".join),
        st.binary(max_size=50),
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=raw_http)
def test_raw_bytes_never_get_a_5xx_or_break_the_server(live_server: Running, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # end of input: the server answers what it can, then closes
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", answer):
        assert not status.startswith(b"5"), answer[:200]
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 200 OK")
