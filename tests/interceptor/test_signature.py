"""X-Hub-Signature-256 verification over the raw UTF-8 bytes, with one or several secrets."""

from __future__ import annotations

import pytest

from tekton.interceptor.signature import Verdict, sign, verify

# GitHub's documented test vector (docs: "Validating webhook deliveries").
GITHUB_SECRET = b"It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_test_vector() -> None:
    assert sign(GITHUB_SECRET, GITHUB_PAYLOAD) == GITHUB_SIGNATURE
    assert verify(GITHUB_PAYLOAD, GITHUB_SIGNATURE, [GITHUB_SECRET]) is Verdict.VALID


@pytest.mark.parametrize(
    ("header", "secrets", "verdict"),
    [
        (GITHUB_SIGNATURE, [b"old-secret", GITHUB_SECRET], Verdict.VALID),
        (GITHUB_SIGNATURE, [GITHUB_SECRET, b"new-secret"], Verdict.VALID),
        (GITHUB_SIGNATURE.upper().replace("SHA256=", "sha256="), [GITHUB_SECRET], Verdict.VALID),
        (GITHUB_SIGNATURE, [b"It's a secret to everybody"], Verdict.MISMATCH),
        (GITHUB_SIGNATURE[:-1] + "f", [GITHUB_SECRET], Verdict.MISMATCH),
        (None, [GITHUB_SECRET], Verdict.MISSING),
        ("", [GITHUB_SECRET], Verdict.MISSING),
        ("sha1=" + "0" * 40, [GITHUB_SECRET], Verdict.MALFORMED),
        ("sha256=" + "z" * 64, [GITHUB_SECRET], Verdict.MALFORMED),
        ("sha256=" + "0" * 63, [GITHUB_SECRET], Verdict.MALFORMED),
        ("sha256=" + "é" * 64, [GITHUB_SECRET], Verdict.MALFORMED),
        (GITHUB_SIGNATURE[7:], [GITHUB_SECRET], Verdict.MALFORMED),
    ],
    ids=[
        "second-secret",
        "first-of-two",
        "upper-case-hex",
        "wrong-secret",
        "one-digit-off",
        "missing",
        "empty",
        "sha1",
        "not-hex",
        "short",
        "non-ascii",
        "no-prefix",
    ],
)
def test_verify(header: str | None, secrets: list[bytes], verdict: Verdict) -> None:
    assert verify(GITHUB_PAYLOAD, header, secrets) is verdict


def test_unicode_body_is_signed_as_utf8() -> None:
    body = '{"message": "Équipe 🚀 新しい"}'.encode()
    assert verify(body, sign(b"s", body), [b"s"]) is Verdict.VALID
    assert verify(body.decode().encode("utf-16"), sign(b"s", body), [b"s"]) is Verdict.MISMATCH


def test_no_secret_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        verify(GITHUB_PAYLOAD, GITHUB_SIGNATURE, [])


def test_messages_never_quote_the_header() -> None:
    for verdict in Verdict:
        assert "757107" not in verdict.message
