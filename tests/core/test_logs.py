"""Structured logging: JSON lines with extra fields, and registered secrets never printed."""

from __future__ import annotations

import io
import json
import logging

import pytest

from peribolos_core import logs


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets registered here (some as short as "ab") are forgotten after each test."""
    monkeypatch.setattr(logs, "_secrets", {})
    monkeypatch.setattr(logs, "_short", set(), raising=False)
    monkeypatch.setattr(logs, "_short_pattern", None, raising=False)


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
        (["short"], "a short word", "a [REDACTED] word"),
        (["ab", "abc"], "xabcx ab", "x[REDACTED]x [REDACTED]"),
        (["RED"], "RED and [REDACTED]", "[REDACTED] and [REDACTED]"),
        (["ünïcødé-sécret"], "«ünïcødé-sécret»", "«[REDACTED]»"),
        (['a"b\\c-secret'], '{"msg": "a\\"b\\\\c-secret"}', '{"msg": "[REDACTED]"}'),
        (["clé-secrète"], '"cl\\u00e9-secr\\u00e8te"', '"[REDACTED]"'),
        (["tab\tsecret"], "'tab\\tsecret'", "'[REDACTED]'"),
        (["ab\"c"], '"ab\\"c"', '"[REDACTED]"'),
    ],
    ids=[
        "inside",
        "adjacent",
        "longest-wins",
        "partial",
        "short",
        "short-longest-wins",
        "short-not-inside-the-marker",
        "unicode",
        "json-escaped",
        "json-ascii-escaped",
        "repr-escaped",
        "short-json-escaped",
    ],
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


@pytest.mark.parametrize("fmt", ["json", "text"])
@pytest.mark.parametrize(
    "secret",
    ['quote"and\\backslash-secret', "new\nline-secret", "ü-secret-ünicode", "k1", "\x1b[31m-ansi-secret"],
    ids=["quote-backslash", "newline", "unicode", "two-characters", "escape-sequence"],
)
def test_no_form_of_a_secret_reaches_either_format(secret: str, fmt: str) -> None:
    stream = io.StringIO()
    logs.configure(level="info", fmt=fmt, stream=stream)
    logs.register_secret(secret)
    logging.getLogger("t").warning("got %s", secret, extra={"detail": {"nested": [secret]}, "raw": secret})
    line = stream.getvalue()
    assert all(form not in line for form in logs.printed_forms(secret)), line
    assert logs.REDACTED in line


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("abc\ndef", "abc\\ndef"),
        ("a\r\nFORGED b", "a\\r\\nFORGED b"),
        ("\x1b[2Jclear", "\\x1b[2Jclear"),
        ("nul\x00", "nul\\x00"),
        ("sep\u2028x", "sep\\u2028x"),
        ("c1\x85x", "c1\\x85x"),
        ("tab\tkept", "tab\\tkept"),
        ("plain ünicode", "plain ünicode"),
    ],
    ids=["newline", "crlf-forgery", "ansi", "nul", "line-separator", "c1-next-line", "tab", "plain"],
)
def test_text_format_escapes_control_characters(value: str, shown: str) -> None:
    stream = io.StringIO()
    logs.configure(level="info", fmt="text", stream=stream)
    logging.getLogger("t").warning("delivery %s", value, extra={"delivery_id": value})
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert f"delivery {shown}" in text and f"delivery_id={shown}" in text


def test_json_format_keeps_one_line_per_record() -> None:
    stream = io.StringIO()
    logs.configure(level="info", fmt="json", stream=stream)
    value = "a\nb\u2028c\u2029d\x1be"
    logging.getLogger("t").warning("x", extra={"delivery_id": value})
    text = stream.getvalue()
    assert text.count("\n") == 1 and "\u2028" not in text and "\u2029" not in text
    assert json.loads(text)["delivery_id"] == value


def test_text_format_gives_the_error_on_the_same_line() -> None:
    stream = io.StringIO()
    logs.configure(level="info", fmt="text", stream=stream)
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        logging.getLogger("t").exception("failed")
    assert stream.getvalue().count("\n") == 1
    assert "failed error=ValueError: bad\\nthing" in stream.getvalue()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("times", "allowed"),
    [
        ([0, 1, 2, 9.9], [0, None, None, None]),
        ([0, 1, 2, 10], [0, None, None, 2]),
        ([0, 10, 20], [0, 0, 0]),
        ([0, 5, 10.5, 11], [0, None, 1, None]),
    ],
    ids=["burst-in-one-interval", "count-on-the-next-line", "spaced-out", "two-intervals"],
)
def test_throttle_one_line_per_interval_with_the_count(times: list[float], allowed: list[int | None]) -> None:
    clock = FakeClock()
    throttle = logs.Throttle(interval=10, clock=clock)
    seen = []
    for t in times:
        clock.now = t
        seen.append(throttle.check("bad signature"))
    assert seen == allowed
    assert throttle.check("another reason") == 0  # keys are independent


def test_throttle_table_is_bounded() -> None:
    throttle = logs.Throttle(interval=10, clock=FakeClock(), max_keys=3)
    assert [throttle.check(k) for k in "abcde"] == [0, 0, 0, 0, None]  # d and e share one slot


def test_throttle_filter_drops_repeated_warnings_and_reports_the_count() -> None:
    stream = io.StringIO()
    logs.configure(level="info", fmt="json", stream=stream)
    clock = FakeClock()
    logs.throttle_warnings("t.throttled", interval=10, clock=clock)
    logger = logging.getLogger("t.throttled")
    try:
        for n in range(1000):
            logger.warning("rejected: bad signature", extra={"delivery_id": str(n)})
            logger.info("decided", extra={"n": n})
        clock.now = 11
        logger.warning("rejected: bad signature", extra={"delivery_id": "last"})
        logger.warning("another reason")
    finally:
        logger.filters[:] = []
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    warnings = [line for line in lines if line["level"] == "warning"]
    assert [(w["msg"], w.get("suppressed")) for w in warnings] == [
        ("rejected: bad signature", None),
        ("rejected: bad signature", 999),
        ("another reason", None),
    ]
    assert sum(line["level"] == "info" for line in lines) == 1000  # info lines are never held back
