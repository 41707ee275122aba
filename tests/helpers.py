"""Small helpers that several test folders and benchmarks need, written once: a free loopback port, GitHub's
webhook signature, and the JSON log lines a program wrote.

``sign`` is written here on purpose, not taken from :mod:`tekton.interceptor.signature`: the tests of the
signature check must not sign their requests with the code they check.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Iterable
from typing import Any


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the usual small race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sign(body: bytes, secret: str | bytes) -> str:
    """``X-Hub-Signature-256`` of ``body``, as GitHub computes it (a text secret is UTF-8)."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def json_lines(text: str | Iterable[str]) -> list[dict[str, Any]]:
    """The JSON log lines of a program's output (a text, or its lines): those starting with ``{``; the
    others (a plain error line, a traceback) are left out."""
    lines = text.splitlines() if isinstance(text, str) else text
    return [json.loads(line) for line in lines if line.startswith("{")]
