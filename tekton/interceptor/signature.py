"""GitHub webhook signatures (``X-Hub-Signature-256``): pure HMAC-SHA256, constant-time compare.

GitHub signs the raw request body; the interceptor gets that body as a JSON string, so the bytes to
verify are the string's UTF-8 encoding. Several secrets may be configured (rotation without downtime):
a signature matching any of them is accepted, and every secret is tried so that the time taken does not
say which one matched.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Sequence

PREFIX = "sha256="
_HEX = frozenset("0123456789abcdef")


class Verdict(enum.Enum):
    """Outcome of a check; ``message`` is safe to log and to return to the caller."""

    VALID = "signature valid"
    MISSING = "X-Hub-Signature-256 header is missing"
    MALFORMED = "X-Hub-Signature-256 is not 'sha256=' followed by 64 hex digits"
    MISMATCH = "X-Hub-Signature-256 does not match the body with any configured webhook secret"

    @property
    def message(self) -> str:
        return self.value


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub would send for ``body`` signed with ``secret``."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secrets: Sequence[bytes]) -> Verdict:
    """Check ``header`` against ``body`` for each of ``secrets`` (at least one must be given)."""
    if not secrets:
        raise ValueError("verify() needs at least one secret")
    if not header:
        return Verdict.MISSING
    if not header.startswith(PREFIX):
        return Verdict.MALFORMED
    given = header[len(PREFIX) :].strip().lower()
    if len(given) != 64 or not _HEX.issuperset(given):
        return Verdict.MALFORMED
    given_bytes = given.encode("ascii")
    matched = False
    for secret in secrets:
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode("ascii")
        # No short-circuit: the loop takes the same time whichever secret matches.
        matched |= hmac.compare_digest(expected, given_bytes)
    return Verdict.VALID if matched else Verdict.MISMATCH
