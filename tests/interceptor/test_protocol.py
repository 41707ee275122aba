"""Tekton's InterceptorRequest parsing (HTTP 400 for anything else) and InterceptorResponse shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tekton.interceptor import protocol
from tekton.interceptor.decision import Decision, stop
from tekton.interceptor.protocol import BadRequest, InterceptorRequest, build_response, parse_request


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
    assert (request.body, dict(request.headers), dict(request.interceptor_params)) == (b"", {}, {})


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


BAD += [
    ("context-too-large", {"context": {"k": "v" * 70_000}}),
    ("extensions-deep", {"extensions": {"a": json.loads("[" * 40 + "]" * 40)}}),
    ("unknown-member-too-large", {"body": "{}", "debug": ["x" * 70_000]}),
    ("too-many-members", {f"m{n}": n for n in range(40)}),
    ("trailing-garbage", b'{"body": "{}"} x'),
    ("body-unterminated", b'{"body": "abc'),
    ("body-bad-escape", b'{"body": "a\\qb"}'),
    ("body-control-character", b'{"body": "a\nb"}'),
    ("body-high-surrogate-alone", b'{"body": "\\ud83d"}'),
    ("missing-comma", b'{"body": "{}" "header": {}}'),
]


@pytest.fixture(params=["whole", "scanned"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test on both parsers: orjson on the whole request, and the member scanner of large ones
    (forced for every size, with tiny pieces so that the body is cut everywhere)."""
    if request.param == "scanned":
        monkeypatch.setattr(protocol, "SMALL_REQUEST_BYTES", 0)
        monkeypatch.setattr(protocol, "PIECE_BYTES", 7)
    return request.param


@pytest.mark.parametrize("raw", [b[1] for b in BAD], ids=[b[0] for b in BAD])
def test_not_an_interceptor_request(raw: Any, path: str) -> None:
    data = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    with pytest.raises(BadRequest):
        parse_request(data)


BODIES = [
    ("empty", ""),
    ("json", json.dumps({"ref": "refs/heads/main", "commits": [{"message": 'say "hi"\n\ttab'}]})),
    ("emoji", "😀 a 🏳️‍🌈 b " * 20),
    ("surrogate-pairs-escaped", None),
    ("backslashes", "\\" * 50 + '"' * 30),
    ("two-byte-and-three-byte", "é中" * 40 + "\u2028"),
    ("control-escapes", "\x00\x01\x1f" * 10),
]


@pytest.mark.parametrize("text", [b[1] for b in BODIES], ids=[b[0] for b in BODIES])
@pytest.mark.parametrize("ascii_only", [False, True], ids=["raw-utf8", "escaped"])
def test_the_body_comes_out_as_the_bytes_github_signed(path: str, text: str | None, ascii_only: bool) -> None:
    text = text if text is not None else "x😀" * 30
    header = {"X-Github-Event": ["push"]}
    raw = json.dumps({"body": text, "header": header, "context": {"a": 1}}, ensure_ascii=ascii_only).encode()
    request = parse_request(raw)
    assert bytes(request.body) == text.encode("utf-8")
    assert request.body_size == len(text.encode("utf-8"))
    assert request.header("x-github-event") == "push"
    assert request.context == {"a": 1}


@pytest.mark.parametrize("where", ["first", "last"])
def test_a_body_over_the_limit_is_measured_not_kept(path: str, where: str) -> None:
    members = {"body": "é" * 60, "header": {"X-Github-Event": ["push"]}}
    if where == "last":
        members = dict(reversed(members.items()))
    request = parse_request(json.dumps(members).encode(), max_body_bytes=100)
    assert (request.body, request.body_size) == (b"", 120)
    assert request.header("x-github-event") == "push"


def test_both_parsers_agree_on_null_and_missing_members(path: str) -> None:
    request = parse_request(b' { "body" : null , "header" : null, "context": {}, "x": [1, {"y": 2}] } ')
    assert (request.body, request.body_size, dict(request.headers)) == (b"", 0, {})


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


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(),
    ascii_only=st.booleans(),
    piece=st.integers(1, 40),
    extra=st.dictionaries(st.sampled_from(["header", "context", "extensions", "x"]), st.just({}), max_size=3),
)
def test_the_scanner_decodes_any_body_as_orjson_does(
    text: str, ascii_only: bool, piece: int, extra: dict[str, Any]
) -> None:
    raw = json.dumps({**extra, "body": text, "after": [1, "2"]}, ensure_ascii=ascii_only).encode()
    whole = parse_request(raw)
    old = protocol.SMALL_REQUEST_BYTES, protocol.PIECE_BYTES
    protocol.SMALL_REQUEST_BYTES, protocol.PIECE_BYTES = 0, piece
    try:
        scanned = parse_request(raw)
    finally:
        protocol.SMALL_REQUEST_BYTES, protocol.PIECE_BYTES = old
    assert bytes(scanned.body) == bytes(whole.body) == text.encode("utf-8")
    assert scanned == InterceptorRequest(
        body=scanned.body, headers=whole.headers, context=whole.context, body_size=whole.body_size
    )
