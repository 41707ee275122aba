"""Structured logging: JSON lines with extra fields, and registered secrets never printed."""

from __future__ import annotations

import io
import json
import logging

import pytest

from peribolos_core import logs


@pytest.fixture
def log_stream() -> io.StringIO:
    stream = io.StringIO()
    logs.configure(level="debug", fmt="json", stream=stream)
    return stream


def test_json_line_carries_extra_fields(log_stream: io.StringIO) -> None:
    logging.getLogger("t").info("minted", extra={"installation_id": 42})
    entry = json.loads(log_stream.getvalue())
    assert entry["msg"] == "minted"
    assert entry["installation_id"] == 42
    assert entry["level"] == "info"


@pytest.mark.parametrize(
    ("secrets", "text", "expected"),
    [
        (["ghs_abcdefgh123"], "token ghs_abcdefgh123 here", "token [REDACTED] here"),
        (["ghs_abcdefgh123"], "ghs_abcdefgh123ghs_abcdefgh123", "[REDACTED][REDACTED]"),
        (["abcdefgh", "abcdefghIJKL"], "xabcdefghIJKLy", "x[REDACTED]y"),
        (["abcdefgh"], "abcdefg", "abcdefg"),
        (["short"], "a short word", "a short word"),
        (["ünïcødé-sécret"], "«ünïcødé-sécret»", "«[REDACTED]»"),
    ],
    ids=["inside", "adjacent", "longest-wins", "partial", "too-short-ignored", "unicode"],
)
def test_redact(secrets: list[str], text: str, expected: str) -> None:
    for secret in secrets:
        logs.register_secret(secret)
    assert logs.redact(text) == expected


def test_registered_secret_never_reaches_the_stream(log_stream: io.StringIO) -> None:
    secret = "ghs_" + "x" * 36
    logs.register_secret(secret)
    logging.getLogger("t").warning("got %s", secret, extra={"detail": f"Bearer {secret}"})
    assert secret not in log_stream.getvalue()
    assert logs.REDACTED in log_stream.getvalue()


def test_redact_among_many_registered_secrets() -> None:
    for n in range(20_000):
        logs.register_secret(f"token-{n:08d}-opaque")
    line = "refreshed installation " + "token-00019999-opaque" + " ok"
    assert logs.redact(line) == "refreshed installation [REDACTED] ok"
