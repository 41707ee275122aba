"""Tekton Triggers' interceptor wire format: parse an InterceptorRequest, build an InterceptorResponse.

Request (Go's ``InterceptorRequest``; every field is ``omitempty``)::

    {"body": "<raw webhook body as a string>", "header": {"X-Github-Event": ["push"], ...},
     "extensions": {...}, "interceptor_params": {...}, "context": {"event_url", "event_id", "trigger_id"}}

Header names arrive in Go's canonical form (``X-Github-Event``); they are lower-cased here, once, and
nothing further in looks at the original spelling. Anything that is not such an object raises
:class:`BadRequest`, which the server answers with HTTP 400; everything else gets HTTP 200 and a decision.

Memory is bounded by what is needed, not by what is sent. A request up to :data:`SMALL_REQUEST_BYTES` is
parsed whole (orjson, fast). A larger one is scanned member by member without building what is not
needed: every member but ``body`` must be small (:data:`MEMBER_LIMITS`) and shallow
(:data:`MAX_DEPTH`), and is refused before it is built; ``body`` is decoded piece by piece straight to
UTF-8 bytes, so its size is known before anything is encoded whole, and a body with one emoji never
becomes a Python string of 4 bytes per character; past the webhook limit its bytes are not kept at all.
Both paths apply the same rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from tekton.interceptor.decision import Decision

SMALL_REQUEST_BYTES = 1024 * 1024
"""Requests up to this size are parsed whole: whatever they hold, the parsed objects stay within ~40 MB."""
MEMBER_LIMITS = {"header": 1024 * 1024, "interceptor_params": 64 * 1024, "extensions": 64 * 1024}
"""Largest size (compact JSON) of each member but ``body``; any other member (``context``, unknown
ones) gets :data:`OTHER_MEMBER_LIMIT`. Tekton sends a few hundred bytes in each."""
OTHER_MEMBER_LIMIT = 64 * 1024
MAX_DEPTH = 32
"""Deepest nesting of objects and arrays in a member but ``body`` (Tekton's are 2 levels deep)."""
MAX_MEMBERS = 32
"""Most top-level members (Go's InterceptorRequest has five)."""
PIECE_BYTES = 1024 * 1024
"""The webhook body is decoded this much at a time."""
_WS = re.compile(rb"[ \t\n\r]*")
_NAME = re.compile(rb'"(?:[^"\\]|\\.){0,64}"[ \t\n\r]*:[ \t\n\r]*', re.S)
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.S)
_STRING_REST = re.compile(rb'[^"\\]*+(?:\\.[^"\\]*+)*+', re.S)  # up to an unescaped quote
_TOKEN = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[\]{}]', re.S)
_SCALAR = re.compile(rb"-?[0-9][0-9.eE+-]*|true|false|null")
_LONGEST_TOKEN = 12
"""Bytes of the longest indivisible part of a JSON string: a surrogate pair, ``\\ud83d\\ude00``."""


class BadRequest(ValueError):
    """The HTTP body is not an InterceptorRequest (the message says why; it never quotes the body)."""


@dataclass(frozen=True)
class InterceptorRequest:
    body: bytes | bytearray
    """The webhook body as the UTF-8 bytes GitHub signed; empty when over the limit (see ``body_size``)."""
    headers: Mapping[str, str]
    """Lower-cased header name → first value."""
    interceptor_params: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    body_size: int = -1
    """Size of the body in UTF-8 bytes, also when it was over the limit and not kept."""

    def __post_init__(self) -> None:
        if self.body_size < 0:
            object.__setattr__(self, "body_size", len(self.body))

    def header(self, name: str) -> str:
        """The first value of header ``name`` (any case), or ``""``."""
        return self.headers.get(name.lower(), "")


def parse_request(raw: bytes | bytearray, max_body_bytes: int | None = None) -> InterceptorRequest:
    """Parse the HTTP body of a POST from the EventListener; a body over ``max_body_bytes`` is measured,
    not kept."""
    limit = max_body_bytes if max_body_bytes is not None else len(raw)
    if len(raw) <= SMALL_REQUEST_BYTES:
        data = _loads(raw)  # 3x faster than json on these documents (docs/performance.md)
        if not isinstance(data, dict):
            raise BadRequest("request must be a JSON object (an InterceptorRequest)")
        text = data.pop("body", None)
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise BadRequest("request field 'body' must be a string")
        body = text.encode("utf-8")  # cannot fail: orjson refused lone surrogates
        size = len(body)
        sizes_matter = len(raw) > min(OTHER_MEMBER_LIMIT, *MEMBER_LIMITS.values())  # else none can be over
        for name, value in data.items():
            _check_member(name, value, len(orjson.dumps(value)) if sizes_matter else 0)
    else:
        data, body, size = _scan(raw, limit)
    if len(data) + 1 > MAX_MEMBERS:
        raise BadRequest(f"request has more than {MAX_MEMBERS} members; an InterceptorRequest has five")
    _object(data, "extensions")
    return InterceptorRequest(
        body=body if size <= limit else b"",
        headers=_headers(data.get("header")),
        interceptor_params=_object(data, "interceptor_params"),
        context=_object(data, "context"),
        body_size=size,
    )


def _loads(raw: bytes | bytearray | memoryview) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:  # also invalid UTF-8, lone surrogates, nesting over 1024
        raise BadRequest(f"request is not JSON in UTF-8: {str(exc)[:120]}") from exc


def _check_member(name: str, value: Any, size: int) -> None:
    """A member but ``body``: small and shallow, or BadRequest naming it."""
    limit = MEMBER_LIMITS.get(name, OTHER_MEMBER_LIMIT)
    if size > limit:
        raise BadRequest(f"request member {_name(name)} is over {limit} bytes; Tekton sends far less")
    if name != "header" and _depth(value) > MAX_DEPTH:  # header's shape is checked on its own
        raise BadRequest(f"request member {_name(name)} is nested deeper than {MAX_DEPTH} levels")


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _name(name: str) -> str:
    return repr(name[:40])


def _scan(raw: bytes | bytearray, max_body_bytes: int) -> tuple[dict[str, Any], bytes | bytearray, int]:
    """A large request, member by member: (the members but body, the body's bytes, the body's size)."""
    view = memoryview(raw)
    pos = _skip_ws(raw, 0)
    if raw[pos : pos + 1] != b"{":
        raise BadRequest("request must be a JSON object (an InterceptorRequest)")
    pos = _skip_ws(raw, pos + 1)
    data: dict[str, Any] = {}
    body: bytes | bytearray = b""
    size = 0
    closed = raw[pos : pos + 1] == b"}"
    if closed:
        pos += 1
    while not closed:
        match = _NAME.match(raw, pos)
        if match is None:
            raise BadRequest(f"request is not JSON in UTF-8: no member name (at most 64 characters) at {pos}")
        name = _loads(view[match.start() : match.group().rindex(b'"') + match.start() + 1])
        if len(data) + 1 >= MAX_MEMBERS:
            raise BadRequest(f"request has more than {MAX_MEMBERS} members; an InterceptorRequest has five")
        pos = match.end()
        if name == "body":
            body, size, pos = _body(raw, pos, max_body_bytes)
        else:
            end = _value_end(raw, pos, name)
            value = _loads(view[pos:end])
            _check_member(name, value, len(orjson.dumps(value)))
            data[name] = value
            pos = end
        pos = _skip_ws(raw, pos)
        separator = raw[pos : pos + 1]
        if separator not in (b",", b"}"):
            raise BadRequest(f"request is not JSON in UTF-8: expected ',' or '}}' at {pos}")
        pos = _skip_ws(raw, pos + 1)
        closed = separator == b"}"
    if _skip_ws(raw, pos) != len(raw):
        raise BadRequest("request is not JSON in UTF-8: trailing data after the object")
    return data, body, size


def _skip_ws(raw: bytes | bytearray, pos: int) -> int:
    match = _WS.match(raw, pos)
    return match.end() if match else pos


def _value_end(raw: bytes | bytearray, pos: int, name: str) -> int:
    """Where the JSON value at ``pos`` ends, looking at most a few times its member's limit ahead."""
    window = min(len(raw), pos + 4 * MEMBER_LIMITS.get(name, OTHER_MEMBER_LIMIT))
    first = raw[pos : pos + 1]
    if first == b'"':
        match = _STRING.match(raw, pos, window)
        if match is None:
            raise BadRequest(f"request member {_name(name)} is too large or not a JSON string")
        return match.end()
    if first not in (b"{", b"["):
        match = _SCALAR.match(raw, pos, window)
        if match is None:
            raise BadRequest(f"request is not JSON in UTF-8: bad value of member {_name(name)}")
        return match.end()
    depth = 0
    for token in _TOKEN.finditer(raw, pos, window):
        char = raw[token.start()]
        if char == 0x22:  # a string: brackets inside it do not count
            continue
        depth += 1 if char in (0x7B, 0x5B) else -1
        if depth > MAX_DEPTH:
            raise BadRequest(f"request member {_name(name)} is nested deeper than {MAX_DEPTH} levels")
        if depth == 0:
            return token.end()
    limit = MEMBER_LIMITS.get(name, OTHER_MEMBER_LIMIT)
    raise BadRequest(f"request member {_name(name)} is over {limit} bytes; Tekton sends far less")


def _body(raw: bytes | bytearray, pos: int, max_bytes: int) -> tuple[bytes | bytearray, int, int]:
    """Decode the body string at ``pos`` a piece at a time: (its UTF-8 bytes, or b"" once over
    ``max_bytes``; its size; the position after it)."""
    if raw[pos : pos + 4] == b"null":
        return b"", 0, pos + 4
    if raw[pos : pos + 1] != b'"':
        raise BadRequest("request field 'body' must be a string")
    out: bytearray | None = bytearray()
    size = 0
    start = pos + 1
    while True:
        text, cut = _piece(raw, start)
        closing = None
        if text is None:
            # The closing quote is in this piece, or the string is malformed.
            closing = _STRING_REST.match(raw, start, cut).end()  # type: ignore[union-attr]  # always matches
            if raw[closing : closing + 1] != b'"':
                raise BadRequest("request is not JSON in UTF-8: field 'body' is not a valid string")
            text = _loads(b'"' + raw[start:closing] + b'"')
        elif cut == len(raw):
            raise BadRequest("request is not JSON in UTF-8: field 'body' is not closed")
        encoded = text.encode("utf-8")
        del text
        size += len(encoded)
        if out is not None:
            if size <= max_bytes:
                out += encoded
            else:
                out = None  # over the limit: measure the rest, keep nothing
        if closing is not None:
            return (out if out is not None else b""), size, closing + 1
        start = cut


def _piece(raw: bytes | bytearray, start: int) -> tuple[str | None, int]:
    """The next piece of a string's contents from ``start``, decoded, and where it ends; None when no
    piece of about :data:`PIECE_BYTES` decodes (the closing quote is in it, or it is malformed).

    A cut that decodes is a cut between two characters or escapes: one inside an escape, a UTF-8
    sequence or a surrogate pair leaves a piece orjson refuses (a trailing backslash escapes the added
    quote, a lone surrogate, invalid UTF-8). So a cut that fails is moved back a byte at a time, at most
    the length of the longest such part (then forward, for pieces shorter than that)."""
    end = start + PIECE_BYTES
    if end >= len(raw):
        cuts: list[int] = [len(raw)]
    else:
        back = range(end, max(start + 1, end - _LONGEST_TOKEN) - 1, -1)  # never an empty piece
        cuts = [*back, *range(end + 1, min(len(raw), end + _LONGEST_TOKEN) + 1)]
    for cut in cuts:
        try:
            return orjson.loads(b'"' + raw[start:cut] + b'"'), cut
        except orjson.JSONDecodeError:
            continue
    return None, cuts[0]


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("request field 'header' must be an object of header name to list of values")
    headers: dict[str, str] = {}
    for name, values in value.items():
        if isinstance(values, str):  # lenient: a single value instead of a list
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise BadRequest("request field 'header' must map each name to a list of strings")
        key = name.lower()
        if values and key not in headers:
            headers[key] = values[0]
    return headers


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"request field {key!r} must be an object")
    return value


def build_response(decision: Decision) -> bytes:
    """The InterceptorResponse JSON; ``continue`` and ``status`` are always present."""
    response: dict[str, Any] = {
        "continue": decision.proceed,
        "status": {"code": decision.code, "message": decision.reason},
    }
    if decision.proceed:
        response["extensions"] = {"peribolos": dict(decision.extensions)}
    try:
        return orjson.dumps(response)
    except orjson.JSONEncodeError:  # a lone surrogate in a message built from a hand-made request
        return json.dumps(response, separators=(",", ":")).encode("ascii")
