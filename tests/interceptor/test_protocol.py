"""Tekton's InterceptorRequest parsing (HTTP 400 for anything else) and InterceptorResponse shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tekton.interceptor.decision import Decision, stop
from tekton.interceptor.protocol import BadRequest, build_response, parse_request


def test_headers_are_canonicalised_once_first_value_wins() -> None:
    request = parse_request(
        json.dumps(
            {
                "body": "{}",
                "header": {
                    "X-Github-Event": ["push", "ping"],
                    "x-hub-signature-256": ["sha256=ab"],
                    "Empty": [],
                },
                "interceptor_params": {"config_repo": "org-config"},
                "context": {"event_id": "e"},
            }
        ).encode()
    )
    assert request.headers == {"x-github-event": "push", "x-hub-signature-256": "sha256=ab"}
    assert request.header("X-GitHub-Event") == "push"
    assert request.header("X-HUB-SIGNATURE-256") == "sha256=ab"
    assert request.header("X-GitHub-Delivery") == ""
    assert request.interceptor_params == {"config_repo": "org-config"}


def test_omitted_fields_are_empty() -> None:
    """Go's InterceptorRequest marks every field omitempty: an empty body is simply absent."""
    request = parse_request(b"{}")
    assert (request.body, dict(request.headers), dict(request.interceptor_params)) == ("", {}, {})


BAD: list[tuple[str, Any]] = [
    ("not-json", b"GET / HTTP/1.1"),
    ("not-utf8", b"\xff\xfe{"),
    ("array", b"[]"),
    ("number", b"42"),
    ("body-object", {"body": {"a": 1}}),
    ("header-list", {"header": ["X-Github-Event"]}),
    ("header-values-numbers", {"header": {"X-Github-Event": [1]}}),
    ("params-string", {"interceptor_params": "config_repo=x"}),
    ("extensions-list", {"extensions": []}),
    ("context-string", {"context": "c"}),
    ("deep-nesting", b"[" * 100_000),
    ("lone-surrogate-in-body", b'{"body": "\\ud800"}'),
]


@pytest.mark.parametrize("raw", [b[1] for b in BAD], ids=[b[0] for b in BAD])
def test_not_an_interceptor_request(raw: Any) -> None:
    data = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    with pytest.raises(BadRequest):
        parse_request(data)


def test_response_when_proceeding_carries_the_extensions() -> None:
    decision = Decision(
        proceed=True,
        code=0,
        reason="push means sync for o",
        action="sync",
        extensions={"action": "sync", "org": "o"},
    )
    assert json.loads(build_response(decision)) == {
        "continue": True,
        "status": {"code": 0, "message": "push means sync for o"},
        "extensions": {"peribolos": {"action": "sync", "org": "o"}},
    }


def test_response_when_stopping_has_continue_false_code_and_message() -> None:
    body = json.loads(build_response(stop(9, "ping event: the webhook works, nothing to do")))
    assert body == {
        "continue": False,
        "status": {"code": 9, "message": "ping event: the webhook works, nothing to do"},
    }


def test_response_is_ascii_json_even_for_lone_surrogates() -> None:
    raw = build_response(stop(3, "field '\ud800' is odd"))
    raw.decode("ascii")
    assert json.loads(raw)["continue"] is False
