"""The GitHub App's JWT: RS256, ``iat`` = now - 60 s, ``exp`` = ``iat`` + lifetime (<= 600 s), iss = app id.

GitHub refuses a JWT whose ``exp`` lies more than 10 minutes ahead, and one issued "in the future" by a
clock running ahead; back-dating ``iat`` by 60 s absorbs small clock drift. One JWT is signed and reused
until :data:`REFRESH_MARGIN` seconds before its ``exp``, so a refresher minting thousands of tokens signs
a JWT every few minutes, not once per request.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import logs
from .errors import ConfigError

BACKDATE = 60
"""Seconds ``iat`` is set in the past, against clock drift between us and GitHub."""
MAX_LIFETIME = 600
"""GitHub's limit on ``exp - iat`` (10 minutes)."""
REFRESH_MARGIN = 60
"""A cached JWT is replaced once it has less than this many seconds left, so none expires in flight."""


def load_private_key_pem(data: bytes, source: str = "private key") -> rsa.RSAPrivateKey:
    """Parse a PEM RSA private key, PKCS#1 (``BEGIN RSA PRIVATE KEY``, as GitHub hands it out) or PKCS#8."""
    if b"-----BEGIN" not in data:
        raise ConfigError(
            f"{source} is not a PEM private key: download the GitHub App's .pem file and mount it unchanged"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        # cryptography's messages say what is wrong with the structure and never echo the key bytes.
        raise ConfigError(
            f"{source} is a malformed or encrypted PEM private key ({type(exc).__name__}): "
            "use the unencrypted .pem file GitHub generated for the App"
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{source} is a {type(key).__name__}, not an RSA key: GitHub Apps sign with RS256")
    return key


def load_private_key(path: str | Path) -> rsa.RSAPrivateKey:
    """Read the App's private key from ``path``; ConfigError naming the path when missing or malformed."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"private key file {path} does not exist: set --private-key-file / GITHUB_APP_PRIVATE_KEY_FILE "
            "to the mounted GitHub App .pem file"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"private key file {path} cannot be read: {exc.strerror}") from exc
    return load_private_key_pem(data, source=f"private key file {path}")


class AppJWT:
    """Signs the App's JWT and caches it; :meth:`token` is safe to call from many threads."""

    def __init__(self, issuer: str | int, private_key: rsa.RSAPrivateKey, lifetime: int = 540) -> None:
        if not str(issuer).strip():
            raise ConfigError("GitHub App id (or client id) is empty: set --app-id / GITHUB_APP_ID")
        if not 2 * REFRESH_MARGIN < lifetime <= MAX_LIFETIME:
            raise ConfigError(
                f"JWT lifetime must be in ({2 * REFRESH_MARGIN}, {MAX_LIFETIME}] seconds, got {lifetime}"
            )
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise ConfigError("the GitHub App private key must be an RSA private key (use load_private_key)")
        self.issuer = str(issuer).strip()
        self.lifetime = lifetime
        self._key = private_key
        self._lock = threading.Lock()
        self._cached: str | None = None
        self._cached_exp = 0
        self.signed_count = 0
        """How many JWTs were signed (for tests and benchmarks)."""

    def claims(self, now: float) -> dict[str, Any]:
        """The claims a JWT signed at ``now`` carries (pure)."""
        iat = int(now) - BACKDATE
        return {"iat": iat, "exp": iat + self.lifetime, "iss": self.issuer}

    def token(self, now: float) -> str:
        """A JWT valid for at least :data:`REFRESH_MARGIN` more seconds at ``now``, re-signed when needed."""
        with self._lock:
            cached_iat = self._cached_exp - self.lifetime
            if self._cached is None or now >= self._cached_exp - REFRESH_MARGIN or now < cached_iat:
                # Re-sign when close to expiry, or when the clock went back before the cached iat.
                claims = self.claims(now)
                self._cached = jwt.encode(claims, self._key, algorithm="RS256")
                logs.register_secret(self._cached)  # before anyone can print it
                self._cached_exp = claims["exp"]
                self.signed_count += 1
            return self._cached

    def __repr__(self) -> str:
        return f"AppJWT(issuer={self.issuer!r}, lifetime={self.lifetime})"
