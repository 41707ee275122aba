"""Raw HTTP to the fake GitHub for its own suite: App JWTs, minted tokens and requests through plain
``requests``, not the project's client, so the fake is checked independently of the code it tests."""

from __future__ import annotations

import time
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub


def app_jwt(
    key: rsa.RSAPrivateKey, iat_offset: int = -60, lifetime: int = 540, iss: str = APP_ID, alg: str = "RS256"
) -> str:
    now = int(time.time())
    claims = {"iat": now + iat_offset, "exp": now + iat_offset + lifetime, "iss": iss}
    return jwt.encode(claims, key, algorithm=alg)


def call(
    gh: FakeGitHub,
    method: str,
    path: str,
    token: str | None = None,
    app_key: rsa.RSAPrivateKey | None = None,
    **kw: Any,
) -> requests.Response:
    """``method`` ``path`` (below the API URL) with an installation ``token`` or as the App (``app_key``)."""
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"token {token}"
    elif app_key is not None:
        headers["Authorization"] = f"Bearer {app_jwt(app_key)}"
    kw.setdefault("timeout", 10)
    return requests.request(method, gh.api_url + path, headers=headers, **kw)


def mint(gh: FakeGitHub, key: rsa.RSAPrivateKey, installation_id: int = 1, **body: Any) -> str:
    """A token of ``installation_id`` (``permissions=``, ``repositories=``... narrow it)."""
    answer = call(
        gh, "POST", f"/app/installations/{installation_id}/access_tokens", app_key=key, json=body or None
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]
