"""One HTTP request in, one response out: the interceptor without any server around it.

``Interceptor.handle(method, path, body)`` routes ``POST`` (any path) to the interceptor protocol and
``GET /healthz``, ``/readyz``, ``/metrics`` to the operational endpoints. The server module only moves
bytes; this module counts, times and logs each decision (one JSON line: delivery id, event, decision, code,
reason; never the body, never a header value other than those two).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

from tekton.interceptor import protocol, signature
from tekton.interceptor.decision import (
    INVALID_ARGUMENT,
    KNOWN_EVENTS,
    UNAUTHENTICATED,
    Config,
    Decision,
    decide,
    stop,
)
from tekton.interceptor.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from tekton.interceptor.metrics import Metrics

MAX_WEBHOOK_BYTES = 25 * 1024 * 1024
"""GitHub caps webhook payloads at 25 MB; a larger body cannot be a real delivery."""
MAX_CONTAINERS = 500_000
"""Most ``{`` and ``[`` in a large webhook body before it is parsed: each becomes a Python object of ~100
bytes, so this bounds the parsed payload (~50 MB) even for a body signed with the secret. A real 25 MB
push has a few tens of thousands (the count includes brackets inside strings)."""
MAX_REQUEST_BYTES = 64 * 1024 * 1024
"""Largest HTTP request read: the webhook body travels as a JSON string, so escaping (``\\"`` doubles a
quote, Go's encoder writes ``<`` as six bytes) makes the request larger than the payload. 64 MiB fits a
25 MiB payload unless more than ~30 % of it needs escaping; anything larger gets HTTP 413."""

JSON = "application/json"
_HINTS = {
    UNAUTHENTICATED: "signature check failed; the App's webhook secret (GitHub App settings) must be one "
    "of the lines of --webhook-secret-file",
    INVALID_ARGUMENT: "malformed event; compare it with the delivery in the App's Advanced settings",
}
_REFUSALS = {
    "too_many_connections": "too many connections: answered HTTP 503 and closed the new one",
    "head_too_large": "request head over the limit: answered HTTP 431 and closed the connection",
    "head_timeout": "request head not complete in time: answered HTTP 408 and closed the connection",
    "body_timeout": "a client stopped sending its request body: answered HTTP 408 and closed the connection",
    "bad_http": "malformed HTTP request: answered HTTP 400 and closed the connection",
}
log = logging.getLogger("peribolos.interceptor")


class Response(NamedTuple):
    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Settings:
    """Validated at start-up by the CLI."""

    secrets: Sequence[bytes] = field(default=(), repr=False)
    """Webhook secrets, any of which may sign a delivery; empty only with ``insecure_skip_signature``."""
    insecure_skip_signature: bool = False
    config: Config = field(default_factory=Config)
    max_webhook_bytes: int = MAX_WEBHOOK_BYTES

    def __post_init__(self) -> None:
        if not self.secrets and not self.insecure_skip_signature:
            raise ValueError("a webhook secret is required unless signature checks are skipped")


class Interceptor:
    def __init__(
        self,
        settings: Settings,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics(KNOWN_EVENTS)
        self.clock = clock
        self.ready = False
        """Set by the server once it listens, cleared when it starts shutting down."""

    def handle(self, method: str, path: str, body: bytes | bytearray) -> Response:
        if method == "POST":
            return self.intercept(body)
        if method in ("GET", "HEAD"):
            if path == "/healthz":
                return Response(200, "text/plain", b"ok\n")
            if path == "/readyz":
                return (
                    Response(200, "text/plain", b"ready\n")
                    if self.ready
                    else Response(503, "text/plain", b"not ready: starting or shutting down\n")
                )
            if path == "/metrics":
                return Response(200, METRICS_CONTENT_TYPE, self.metrics.render())
            return _error(404, f"no such endpoint {path[:100]!r}: try /healthz, /readyz or /metrics")
        return _error(405, "method not allowed: the interceptor takes POST, the probes GET")

    def refused(self, reason: str, status: int) -> None:
        """A request the server refused before it reached :meth:`handle` (``reason`` from a fixed set)."""
        self.metrics.observe("", reason, status, None)
        log.warning(_REFUSALS.get(reason, "refused a request"), extra={"reason": reason, "status": status})

    def too_large(self, size: int | None) -> Response:
        """The answer for a request whose body is over :data:`MAX_REQUEST_BYTES` (HTTP 413)."""
        self.metrics.observe("", "too_large", 413, None)
        log.warning(
            "refused an interceptor request over the size limit",
            extra={"size": size, "limit": MAX_REQUEST_BYTES},
        )
        return _error(413, f"request is over {MAX_REQUEST_BYTES} bytes; GitHub never sends such a webhook")

    def intercept(self, raw: bytes | bytearray) -> Response:
        """Decide one InterceptorRequest. A bytearray ``raw`` is cleared once parsed: the server hands its
        buffer over, and a 60 MB request need not stay in memory beside the payload parsed from it."""
        started = self.clock()
        try:
            request = protocol.parse_request(raw, self.settings.max_webhook_bytes)
        except protocol.BadRequest as exc:
            self.metrics.observe("", "bad_request", 400, None)
            log.warning("not an InterceptorRequest: answered HTTP 400", extra={"reason": str(exc)})
            return _error(400, str(exc))
        finally:
            if isinstance(raw, bytearray):
                with contextlib.suppress(BufferError):  # a view of it kept by an error: freed soon anyway
                    raw.clear()
        event = request.header("x-github-event")
        delivery_id = request.header("x-github-delivery")
        decision = self._decide(request, event, delivery_id)
        body = protocol.build_response(decision)
        self.metrics.observe(event, decision.label, decision.code, self.clock() - started)
        self.metrics.decided(event, decision.action if decision.proceed else "", decision.code)
        fields = {
            "delivery_id": delivery_id[:100],
            "event": event[:100],
            "decision": decision.label,
            "code": decision.code,
            "reason": decision.reason,
        }
        if self.settings.insecure_skip_signature:
            fields["signature"] = "NOT CHECKED (--insecure-skip-signature)"
        if decision.proceed:
            log.info(f"{decision.action} for {decision.extensions.get('org')}", extra=fields)
        elif decision.code in _HINTS:
            log.warning(f"no trigger: {_HINTS[decision.code]}", extra=fields)
        else:
            log.info("no trigger: nothing for peribolos to do", extra=fields)
        return Response(200, JSON, body)

    def _decide(self, request: protocol.InterceptorRequest, event: str, delivery_id: str) -> Decision:
        settings = self.settings
        try:
            config = settings.config.with_params(request.interceptor_params)
        except ValueError as exc:
            return stop(INVALID_ARGUMENT, str(exc))
        body = request.body
        if request.body_size > settings.max_webhook_bytes:
            return stop(
                INVALID_ARGUMENT,
                f"webhook body is {request.body_size} bytes, over GitHub's "
                f"{settings.max_webhook_bytes}-byte limit",
            )
        if not settings.insecure_skip_signature:
            verdict = signature.verify(body, request.header("x-hub-signature-256") or None, settings.secrets)
            if verdict is not signature.Verdict.VALID:
                return stop(UNAUTHENTICATED, verdict.message)
        if len(body) > protocol.SMALL_REQUEST_BYTES:
            containers = body.count(b"{") + body.count(b"[")
            if containers > MAX_CONTAINERS:
                return stop(
                    INVALID_ARGUMENT,
                    f"webhook body has over {MAX_CONTAINERS} JSON objects and arrays; no GitHub webhook has",
                )
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return stop(INVALID_ARGUMENT, f"webhook body is not JSON: {type(exc).__name__}")
        return decide(event, payload, config, delivery_id)


def _error(status: int, message: str) -> Response:
    return Response(status, JSON, json.dumps({"error": message}).encode("ascii"))
