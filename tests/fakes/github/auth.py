"""Who is calling, checked as GitHub checks it.

- :class:`JwtVerifier`: ``Authorization: Bearer <JWT>`` for the App endpoints: RS256 signed by a key of the
  App named by ``iss`` (app id or client id), ``iat`` not in the future, ``exp`` in the future and at most
  10 minutes after ``iat`` (GitHub's own 401 messages).
- :func:`check_mint_request` / :func:`scope_for`: what a token may be minted with (422 for a permission or
  a repository the installation lacks).
- :func:`authorize`: an installation token on an installation route: valid and unexpired (401), its
  installation not suspended (403), the route's account its own (404), the repository within the token's
  repositories and the permissions of :mod:`.permissions` held (403 ``Resource not accessible by
  integration``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from tests.fakes.github.models import App, FakeInstallation, FakeOrg, Repo, Token
from tests.fakes.github.permissions import ACCESS_LEVELS, Need, grants
from tests.fakes.github.replies import (
    MSG_BAD_CREDENTIALS,
    MSG_EXP_TOO_FAR,
    MSG_EXPIRED,
    MSG_IAT,
    MSG_INTEGRATION_NOT_FOUND,
    MSG_JWT_UNDECODABLE,
    MSG_NOT_ACCESSIBLE,
    MSG_PERMISSIONS_NOT_GRANTED,
    MSG_REPOS_NOT_ACCESSIBLE,
    MSG_REQUIRES_AUTH,
    MSG_SUSPENDED,
    Reply,
    error,
    not_found,
    validation_failed,
)

MAX_REPOSITORIES_PER_TOKEN = 500
"""GitHub takes at most 500 repositories in one access-token request."""


def credential(authorization: str | None, schemes: Sequence[str]) -> str:
    """The credential of an ``Authorization`` header whose scheme is one of ``schemes`` (any case)."""
    if not authorization:
        raise error(401, MSG_REQUIRES_AUTH)
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() not in schemes or not value.strip():
        raise error(401, MSG_JWT_UNDECODABLE if schemes == ("bearer",) else MSG_BAD_CREDENTIALS)
    return value.strip()


class JwtVerifier:
    """Checks App JWTs; decoded signatures are cached (claims are re-checked against the clock each time)."""

    def __init__(self, apps: Callable[[], Mapping[int, App]], clock: Callable[[], float]) -> None:
        self._apps = apps
        self._clock = clock
        self._cache: dict[str, tuple[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def verify(self, authorization: str | None) -> App:
        """The App that signed the JWT, or a 401 :class:`Reply` with GitHub's message."""
        token = credential(authorization, ("bearer",))
        with self._lock:
            cached = self._cache.get(token)
        app_id, claims = cached if cached else self._decode(token)
        app = self._apps().get(app_id)
        if app is None:
            raise error(401, MSG_INTEGRATION_NOT_FOUND)
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or isinstance(iat, bool):
            raise error(401, MSG_IAT)
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise error(401, MSG_EXPIRED)
        now = self._clock()
        if iat > now:
            raise error(401, MSG_IAT)
        if exp <= now:
            raise error(401, MSG_EXPIRED)
        if exp - iat > 600 or exp > now + 600:
            raise error(401, MSG_EXP_TOO_FAR)
        return app

    def _decode(self, token: str) -> tuple[int, dict[str, Any]]:
        try:
            if jwt.get_unverified_header(token).get("alg") != "RS256":
                raise error(401, MSG_JWT_UNDECODABLE)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise error(401, MSG_JWT_UNDECODABLE) from exc
        app = self._issuer(unverified.get("iss"))
        if app is None:
            raise error(401, MSG_INTEGRATION_NOT_FOUND)
        options = {"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_iss": False}
        for key in app.public_keys:
            try:
                claims = jwt.decode(token, key, algorithms=["RS256"], options=options)
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as exc:
                raise error(401, MSG_JWT_UNDECODABLE) from exc
            with self._lock:
                if len(self._cache) > 1000:
                    self._cache.clear()
                self._cache[token] = (app.id, claims)
            return app.id, claims
        raise error(401, MSG_JWT_UNDECODABLE)

    def _issuer(self, iss: Any) -> App | None:
        wanted = str(iss)
        return next((a for a in self._apps().values() if wanted in (str(a.id), a.client_id)), None)


def check_mint_request(
    payload: Any, inst: FakeInstallation, account: FakeOrg
) -> tuple[dict[str, str], frozenset[str] | None]:
    """The permissions and repositories (lower-case names, None: all) a mint request asks for, checked
    against what the installation has; 422 as GitHub answers otherwise."""
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise validation_failed("Invalid request.\n\nFor 'properties', the body is not an object.")
    asked = payload.get("permissions")
    permissions = dict(inst.permissions)
    if asked is not None:
        if not isinstance(asked, dict) or not all(
            isinstance(v, str) and v in ACCESS_LEVELS for v in asked.values()
        ):
            raise validation_failed("Invalid request.\n\nFor 'permissions', values must be read or write.")
        for name, level in asked.items():
            if not grants(inst.permissions, Need(name, level)):
                raise validation_failed(MSG_PERMISSIONS_NOT_GRANTED)
        if asked:
            permissions = dict(asked)
    names = payload.get("repositories")
    ids = payload.get("repository_ids")
    if names is None and ids is None:
        return permissions, None
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise validation_failed(
            "Invalid request.\n\nFor 'repositories', the value is not an array of strings."
        )
    if ids is not None and not (
        isinstance(ids, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise validation_failed(
            "Invalid request.\n\nFor 'repository_ids', the value is not an array of integers."
        )
    if len(names or []) + len(ids or []) > MAX_REPOSITORIES_PER_TOKEN:
        raise validation_failed(f"Too many repositories (at most {MAX_REPOSITORIES_PER_TOKEN}).")
    by_id = {r.id: r for r in account.repos.values()}
    chosen: set[str] = set()
    for name in names or []:
        repo = account.repos.get(name.lower())
        if repo is None or not inst.can_reach(repo.name):
            raise validation_failed(MSG_REPOS_NOT_ACCESSIBLE)
        chosen.add(repo.name.lower())
    for repo_id in ids or []:
        repo = by_id.get(repo_id)
        if repo is None or not inst.can_reach(repo.name):
            raise validation_failed(MSG_REPOS_NOT_ACCESSIBLE)
        chosen.add(repo.name.lower())
    return permissions, frozenset(chosen)


@dataclass(frozen=True)
class Caller:
    """Who a request is from: an App (JWT), or an installation through one of its tokens."""

    app: App | None = None
    installation: FakeInstallation | None = None
    token: Token | None = None

    def reaches(self, repo: Repo) -> bool:
        """Whether this token may touch ``repo`` (its own repositories, and the installation's)."""
        if self.installation is None or self.token is None:
            return False
        if not self.installation.can_reach(repo.name):
            return False
        return self.token.repositories is None or repo.name.lower() in self.token.repositories


def authorize(
    token: Token | None,
    inst: FakeInstallation | None,
    now: float,
    owner: str | None,
    repo: Repo | str | None,
    needs: Sequence[Need],
) -> Caller:
    """Check an installation token for a route of ``owner`` (an account login, or None for routes without
    one) and ``repo`` (the repository, None for account routes, or the name when it does not exist)."""
    if token is None or inst is None or token.expires_at <= now:
        raise error(401, MSG_BAD_CREDENTIALS)
    if inst.suspended:
        raise error(403, MSG_SUSPENDED)
    if owner is not None and owner.lower() != inst.account_login.lower():
        raise not_found()
    if isinstance(repo, str):
        raise not_found()
    caller = Caller(installation=inst, token=token)
    for need in needs:
        if need.scope == "repo" and repo is not None and not caller.reaches(repo):
            raise forbidden()
        if not grants(token.permissions, need):
            raise forbidden()
    return caller


def forbidden() -> Reply:
    return error(403, MSG_NOT_ACCESSIBLE)
