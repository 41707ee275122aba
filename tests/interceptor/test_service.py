"""The interceptor without a server: signature first, then the decision; metrics and one log line each."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from peribolos_core import logs
from tekton.interceptor.decision import Config
from tekton.interceptor.service import Interceptor, Settings
from tests.interceptor.conftest import SECRET, config_push, interceptor_request, metric, org_installation


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logs.configure(level="info", fmt="json", stream=stream)
    yield stream
    logging.getLogger().handlers[:] = []


def make(secrets: tuple[str, ...] = (SECRET,), **config: Any) -> Interceptor:
    return Interceptor(Settings(secrets=tuple(s.encode() for s in secrets), config=Config(**config)))


def post(interceptor: Interceptor, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = interceptor.handle("POST", "/", json.dumps(request).encode())
    return response.status, json.loads(response.body)


def test_signed_push_syncs() -> None:
    status, body = post(make(), interceptor_request("push", config_push()))
    assert status == 200
    assert body["continue"] is True
    assert body["extensions"]["peribolos"]["action"] == "sync"
    assert body["extensions"]["peribolos"]["delivery_id"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958"


SIGNATURE_ROWS = [
    ("missing", None, "header is missing"),
    ("wrong-secret", "not the secret", "does not match"),
]


@pytest.mark.parametrize(
    ("secret", "why"), [r[1:] for r in SIGNATURE_ROWS], ids=[r[0] for r in SIGNATURE_ROWS]
)
def test_bad_signature_is_unauthenticated_before_anything_else(secret: str | None, why: str) -> None:
    # Even a body that is not JSON is refused for its signature first.
    request = interceptor_request("push", None, secret=secret, body="not json")
    status, body = post(make(), request)
    assert status == 200
    assert body == {"continue": False, "status": {"code": 16, "message": body["status"]["message"]}}
    assert why in body["status"]["message"]


def test_rotation_any_configured_secret_signs() -> None:
    interceptor = make(secrets=("new-secret-0001", SECRET))
    assert post(interceptor, interceptor_request("push", config_push()))[1]["continue"] is True


def test_insecure_mode_skips_the_signature() -> None:
    interceptor = Interceptor(Settings(insecure_skip_signature=True))
    request = interceptor_request("installation", org_installation("installation/created"), secret=None)
    assert post(interceptor, request)[1]["extensions"]["peribolos"]["action"] == "install"


def test_settings_repr_hides_the_secrets() -> None:
    assert SECRET not in repr(Settings(secrets=(SECRET.encode(),)))


def test_settings_refuse_no_secret_without_insecure() -> None:
    with pytest.raises(ValueError, match="webhook secret is required"):
        Settings()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("", "not JSON"),
        ("{'a': 1}", "not JSON"),
        ("{} {}", "not JSON"),
        ('{"a":' * 100_000, "not JSON"),
    ],
    ids=["empty", "python-repr", "trailing-data", "deep"],
)
def test_body_that_is_not_json_is_invalid_argument(body: str, why: str) -> None:
    request = interceptor_request("push", None, body=body, secret=None)
    status, answer = post(Interceptor(Settings(insecure_skip_signature=True)), request)
    assert status == 200
    assert answer["continue"] is False and answer["status"]["code"] == 3
    assert why in answer["status"]["message"]


def test_interceptor_params_override_the_config_repo() -> None:
    payload = config_push()
    payload["repository"].update(name="org-config", full_name="Octo-Org/org-config")
    payload["commits"][0]["modified"] = ["o.yaml"]
    request = interceptor_request(
        "push", payload, params={"config_repo": "org-config", "config_path": "o.yaml"}
    )
    assert post(make(), request)[1]["extensions"]["peribolos"]["config_path"] == "o.yaml"
    assert post(make(), interceptor_request("push", payload))[1]["status"]["code"] == 9


def test_bad_interceptor_params_are_invalid_argument() -> None:
    request = interceptor_request("push", config_push(), params={"config_repo": 7})
    assert post(make(), request)[1]["status"] == {
        "code": 3,
        "message": "interceptor_params.config_repo must be a non-empty string",
    }


def test_webhook_over_the_limit_is_invalid_argument() -> None:
    interceptor = Interceptor(Settings(secrets=(SECRET.encode(),), max_webhook_bytes=1000))
    payload = config_push()
    payload["commits"][0]["message"] = "x" * 1000
    status, body = post(interceptor, interceptor_request("push", payload))
    assert status == 200 and body["status"]["code"] == 3
    assert "over GitHub's 1000-byte limit" in body["status"]["message"]


def test_not_an_interceptor_request_is_http_400() -> None:
    response = make().handle("POST", "/", b"[1, 2]")
    assert response.status == 400
    assert "InterceptorRequest" in json.loads(response.body)["error"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/readyz", 503),
        ("GET", "/metrics", 200),
        ("GET", "/", 404),
        ("PUT", "/", 405),
        ("DELETE", "/healthz", 405),
    ],
    ids=["healthz", "readyz-before-start", "metrics", "unknown-path", "put", "delete"],
)
def test_routes(method: str, path: str, status: int) -> None:
    assert make().handle(method, path, b"").status == status


def test_metrics_count_by_event_decision_and_code() -> None:
    interceptor = make()
    post(interceptor, interceptor_request("push", config_push()))
    post(interceptor, interceptor_request("push", config_push()))
    post(interceptor, interceptor_request("ping", {"zen": "Keep it logically awesome."}))
    post(interceptor, interceptor_request("some_new_event_" + "x" * 50, {}))
    post(interceptor, interceptor_request("push", config_push(), secret="wrong"))
    interceptor.handle("POST", "/", b"nope")
    text = interceptor.handle("GET", "/metrics", b"").body.decode()
    requests = "peribolos_interceptor_requests_total"
    assert metric(text, requests, event="push", decision="sync", code="0") == 2
    assert metric(text, requests, event="ping", decision="stop", code="9") == 1
    assert metric(text, requests, event="other", decision="stop", code="9") == 1
    assert metric(text, requests, event="push", decision="stop", code="16") == 1
    assert metric(text, requests, event="none", decision="bad_request", code="400") == 1
    decisions = "peribolos_interceptor_decisions_total"
    assert metric(text, decisions, event="push", action="sync", code="0") == 2
    assert metric(text, decisions, event="ping", action="none", code="9") == 1
    assert metric(text, decisions, event="push", action="none", code="16") == 1
    assert metric(text, decisions, event="none", action="none", code="400") == 0  # no decision: HTTP 400
    assert metric(text, "peribolos_interceptor_request_duration_seconds_bucket", le="+Inf") == 5
    assert metric(text, "peribolos_interceptor_request_duration_seconds_count") == 5
    assert "# TYPE peribolos_interceptor_request_duration_seconds histogram" in text


def test_one_log_line_per_decision_without_body_or_secret(log_stream: io.StringIO) -> None:
    interceptor = make()
    payload = config_push()
    payload["commits"][0]["message"] = "a commit message that must not be logged"
    post(interceptor, interceptor_request("push", payload))
    post(interceptor, interceptor_request("push", payload, secret="wrong-secret-value"))
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert [(line["event"], line["decision"], line["code"]) for line in lines] == [
        ("push", "sync", 0),
        ("push", "stop", 16),
    ]
    assert all(line["delivery_id"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958" for line in lines)
    assert "does not match" in lines[1]["reason"]
    text = log_stream.getvalue()
    assert "must not be logged" not in text
    assert SECRET not in text and "sha256=" not in text


def test_a_large_signed_body_of_countless_objects_is_refused_before_parsing() -> None:
    body = "[" + ",".join(["{}"] * 600_000) + "]"  # 1.8 MB, would be 600,000 dicts
    status, answer = post(make(), interceptor_request("push", None, body=body))
    assert status == 200 and answer["status"]["code"] == 3
    assert "over 500000 JSON objects and arrays" in answer["status"]["message"]


def test_the_request_buffer_is_cleared_once_parsed() -> None:
    raw = bytearray(json.dumps(interceptor_request("push", config_push())).encode())
    response = make().handle("POST", "/", raw)
    assert json.loads(response.body)["continue"] is True
    assert raw == bytearray()  # handed over: not kept beside the parsed payload
