"""A strict fake of the GitHub REST API: a real HTTP server on 127.0.0.1 that checks what GitHub checks.

Used by the tests (through the fixtures in :mod:`tests.fakes.fixtures`) and by the benchmarks, which run it
with thousands of installations and added latency. Never imported by product code.

What it checks, like GitHub:
- App endpoints (``/app``, ``/app/installations...``): ``Authorization: Bearer <JWT>``, RS256 signature
  against the App's public key, ``iss`` = app id (or client id), ``iat`` not in the future, ``exp`` in the
  future and at most 10 minutes after ``iat`` (GitHub's own messages on 401).
- Installation endpoints (contents, check-runs, and the org endpoints peribolos calls: org, members,
  invitations, memberships, teams and their members/invitations/repos): ``token X`` or ``Bearer X`` with an
  unexpired token this server minted, for a repository or org of that installation's account, with the
  permission the endpoint needs. Orgs with membership state are set up with :meth:`FakeGitHub.add_org`.
- 404 for unknown installations, 403 "This installation has been suspended" for suspended ones, ``Link``
  pagination with ``per_page`` capped at 100, ``x-ratelimit-*`` headers on every answer.

What it can be told to do: add latency, fail the next matching requests (:class:`Fault`: 5xx, timeout,
disconnect, 429 + retry-after, secondary-limit 403, primary-limit 403), fail a fraction of all requests at
random, and enforce GitHub's mint budget (token POSTs per rolling minute). It records every request
(method, path, query, headers without Authorization, auth scheme, body, time, status) and every mint.
"""

from __future__ import annotations

import base64
import json
import random
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

DOCS = "https://docs.github.com/rest"
MSG_JWT_UNDECODABLE = "A JSON web token could not be decoded"
MSG_EXP_TOO_FAR = "'Expiration time' claim ('exp') is too far in the future"
MSG_EXPIRED = (
    "'Expiration time' claim ('exp') must be a numeric value representing the future time at which "
    "the assertion expires"
)
MSG_IAT = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
MSG_BAD_CREDENTIALS = "Bad credentials"
MSG_SUSPENDED = "This installation has been suspended"
MSG_NOT_ACCESSIBLE = "Resource not accessible by integration"
MSG_SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID ABCD:1234."
)
MSG_PRIMARY = "API rate limit exceeded for installation. Check out the documentation for more information."
DEFAULT_PERMISSIONS = {
    "administration": "write",
    "members": "write",
    "organization_administration": "write",
    "contents": "read",
    "checks": "write",
    "metadata": "read",
}
CONCLUSIONS = {
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
}


@dataclass
class FakeInstallation:
    """An installation as the fake stores it; :meth:`to_json` gives GitHub's shape."""

    id: int
    account_login: str
    account_type: str = "Organization"
    account_id: int = 0
    suspended: bool = False
    permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))
    repository_selection: str = "all"

    def to_json(self, app_id: str, api_url: str) -> dict[str, Any]:
        account_id = self.account_id or 1000 + self.id
        return {
            "id": self.id,
            "account": {
                "login": self.account_login,
                "id": account_id,
                "node_id": f"MDEyOk9yZ2FuaXphdGlvbnt{account_id}",
                "type": self.account_type,
                "url": f"{api_url}/users/{self.account_login}",
                "site_admin": False,
            },
            "repository_selection": self.repository_selection,
            "access_tokens_url": f"{api_url}/app/installations/{self.id}/access_tokens",
            "repositories_url": f"{api_url}/installation/repositories",
            "app_id": int(app_id) if app_id.isdigit() else app_id,
            "target_id": account_id,
            "target_type": self.account_type,
            "permissions": dict(self.permissions),
            "events": ["installation", "push", "pull_request", "check_run"],
            "created_at": "2024-01-02T03:04:05Z",
            "updated_at": "2024-01-02T03:04:05Z",
            "single_file_name": None,
            "suspended_by": {"login": "octocat", "id": 1, "type": "User"} if self.suspended else None,
            "suspended_at": "2024-02-03T04:05:06Z" if self.suspended else None,
        }


@dataclass
class FakeTeam:
    """A team of a :class:`FakeOrg`; ``repos`` maps repository name to permission (pull, push, admin...)."""

    id: int
    name: str
    slug: str
    description: str = ""
    privacy: str = "closed"
    maintainers: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    repos: dict[str, str] = field(default_factory=dict)

    def to_json(self, org: str, api_url: str) -> dict[str, Any]:
        url = f"{api_url}/orgs/{org}/teams/{self.slug}"
        return {
            "id": self.id,
            "node_id": f"T_{self.id}",
            "name": self.name,
            "slug": self.slug,
            "description": self.description,
            "privacy": self.privacy,
            "permission": "pull",
            "parent": None,
            "url": url,
            "members_url": f"{url}/members{{/member}}",
            "repositories_url": f"{url}/repos",
        }


@dataclass
class FakeOrg:
    """An organisation's membership state: admins, plain members, pending invitations (login -> role)."""

    login: str
    id: int
    admins: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    invitations: dict[str, str] = field(default_factory=dict)
    teams: dict[str, FakeTeam] = field(default_factory=dict)
    """By slug."""

    def to_json(self, api_url: str) -> dict[str, Any]:
        return {
            "login": self.login,
            "id": self.id,
            "node_id": f"O_{self.id}",
            "url": f"{api_url}/orgs/{self.login}",
            "name": self.login,
            "company": "",
            "blog": "",
            "location": "",
            "email": "",
            "billing_email": "",
            "description": "",
            "type": "Organization",
            "has_organization_projects": True,
            "has_repository_projects": True,
            "default_repository_permission": "read",
            "members_can_create_repositories": True,
        }


def _user(login: str) -> dict[str, Any]:
    return {"login": login, "id": 10_000 + sum(map(ord, login)), "type": "User", "site_admin": False}


@dataclass(frozen=True)
class Fault:
    """One way to fail a request. Build with the class methods."""

    kind: str
    status: int = 502
    retry_after: float | None = None
    delay: float = 0.0
    reset_in: float = 60.0

    @classmethod
    def server_error(cls, status: int = 502) -> Fault:
        return cls("status", status=status)

    @classmethod
    def timeout(cls, delay: float) -> Fault:
        """Answer only after ``delay`` seconds (longer than the client's timeout)."""
        return cls("timeout", delay=delay)

    @classmethod
    def disconnect(cls) -> Fault:
        """Close the connection without an answer."""
        return cls("disconnect")

    @classmethod
    def truncated(cls) -> Fault:
        """Send a 200's headers and half its body, then close the connection."""
        return cls("truncated", status=200)

    @classmethod
    def too_many_requests(cls, retry_after: float | None = 1) -> Fault:
        return cls("too_many", status=429, retry_after=retry_after)

    @classmethod
    def secondary_limit(cls, retry_after: float | None = None) -> Fault:
        return cls("secondary", status=403, retry_after=retry_after)

    @classmethod
    def primary_limit(cls, reset_in: float = 60.0) -> Fault:
        """403 with ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset`` ``reset_in`` seconds ahead."""
        return cls("primary", status=403, reset_in=reset_in)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-case names; Authorization is left out (see ``auth_scheme``)."""
    auth_scheme: str | None
    body: Any
    timestamp: float
    status: int


@dataclass
class _Token:
    installation_id: int
    expires_at: float
    permissions: dict[str, str]
    repositories: frozenset[str] | None


@dataclass
class _QueuedFault:
    fault: Fault
    remaining: int
    method: str | None
    path: re.Pattern[str] | None


class _Reply(Exception):
    """Raised inside a handler to send an answer early (auth failures, 404s)."""

    def __init__(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = headers or {}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, {"message": message, "documentation_url": DOCS, "status": str(status)}, headers)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeGitHub:
    """The fake server. ``with FakeGitHub(app_id, public_key) as gh: gh.api_url ...``"""

    def __init__(
        self,
        app_id: str | int,
        public_key: rsa.RSAPublicKey,
        *,
        client_id: str | None = None,
        path_prefix: str = "",
        clock: Callable[[], float] = time.time,
        token_ttl: float = 3600.0,
        latency: float = 0.0,
        fault_probability: float = 0.0,
        random_faults: Iterable[Fault] = (Fault.server_error(502), Fault.server_error(503)),
        mint_budget_per_minute: int | None = None,
        rate_limit: int = 1_000_000,
        seed: int = 0,
        record: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        """Address to listen on: loopback, or an address inside the test's own network namespace."""
        self.app_id = str(app_id)
        self.client_id = client_id
        self.public_keys: list[rsa.RSAPublicKey] = [public_key]
        self.path_prefix = path_prefix.rstrip("/")
        self.clock = clock
        self.token_ttl = token_ttl
        self.latency = latency
        self.fault_probability = fault_probability
        self.random_faults = tuple(random_faults)
        self.mint_budget_per_minute = mint_budget_per_minute
        self.rate_limit = rate_limit
        self.record = record
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.installations: dict[int, FakeInstallation] = {}
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.check_runs: list[dict[str, Any]] = []
        self.orgs: dict[str, FakeOrg] = {}
        """By lower-case login."""
        self._tokens: dict[str, _Token] = {}
        self._jwt_cache: dict[str, dict[str, Any]] = {}
        self._faults: list[_QueuedFault] = []
        self._requests: list[RecordedRequest] = []
        self.mint_times: list[float] = []
        self._recent_mints: deque[float] = deque()
        self._rate_used = 0
        self._rate_reset = clock() + 3600
        self.in_flight = 0
        self.max_in_flight = 0
        self.handler_errors: list[str] = []
        """Bugs of the fake itself (a handler crashed); tests can assert this stays empty."""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> FakeGitHub:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        server = ThreadingHTTPServer((self.host, 0), Handler, bind_and_activate=False)
        server.daemon_threads = True
        server.block_on_close = False
        server.request_queue_size = 512
        server.allow_reuse_address = True
        server.server_bind()
        server.server_activate()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "FakeGitHub is not started"
        return f"http://{self.host}:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        """Base URL to configure clients with (``.../api/v3`` when ``path_prefix`` mimics GHES)."""
        return self.url + self.path_prefix

    # -- set-up ----------------------------------------------------------------------------------------
    def add_installation(
        self, installation_id: int, account_login: str, account_type: str = "Organization", **kw: Any
    ) -> FakeInstallation:
        inst = FakeInstallation(installation_id, account_login, account_type, **kw)
        with self._lock:
            self.installations[installation_id] = inst
        return inst

    def add_installations(self, count: int, start_id: int = 1, prefix: str = "org") -> None:
        """``count`` organisations ``org1``, ``org2``... with ids from ``start_id`` (for benchmarks)."""
        with self._lock:
            for i in range(start_id, start_id + count):
                self.installations[i] = FakeInstallation(i, f"{prefix}{i}")

    def remove_installation(self, installation_id: int) -> None:
        with self._lock:
            self.installations.pop(installation_id, None)

    def set_suspended(self, installation_id: int, suspended: bool = True) -> None:
        with self._lock:
            self.installations[installation_id].suspended = suspended

    def add_org(
        self,
        login: str,
        admins: Iterable[str],
        members: Iterable[str] = (),
        teams: Iterable[FakeTeam] = (),
    ) -> FakeOrg:
        """Give org ``login`` (an installation's account) membership state for the ``/orgs/...`` endpoints."""
        with self._lock:
            org = FakeOrg(login, 5000 + len(self.orgs), set(admins), set(members) - set(admins))
            org.teams = {t.slug: t for t in teams}
            self.orgs[login.lower()] = org
        return org

    def add_file(self, repo: str, ref: str, path: str, content: bytes | str) -> None:
        data = content.encode() if isinstance(content, str) else content
        with self._lock:
            self.files[(repo.lower(), ref, path.strip("/"))] = data

    def inject(
        self, fault: Fault, times: int = 1, method: str | None = None, path: str | None = None
    ) -> None:
        """Fail the next ``times`` requests matching ``method`` and the ``path`` regex (search, no prefix)."""
        with self._lock:
            self._faults.append(_QueuedFault(fault, times, method, re.compile(path) if path else None))

    # -- inspection ------------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def mint_count(self) -> int:
        with self._lock:
            return len(self.mint_times)

    def max_mints_in_window(self, seconds: float = 60.0) -> int:
        """The most tokens minted within any ``seconds``-long window (GitHub's budget is per minute)."""
        with self._lock:
            times = sorted(self.mint_times)
        best, start = 0, 0
        for end, t in enumerate(times):
            while t - times[start] >= seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def mints_per_minute(self) -> list[int]:
        """Mints in each minute since the first one."""
        with self._lock:
            times = sorted(self.mint_times)
        if not times:
            return []
        counts = [0] * (int((times[-1] - times[0]) // 60) + 1)
        for t in times:
            counts[int((t - times[0]) // 60)] += 1
        return counts

    def token_is_valid(self, token: str) -> bool:
        with self._lock:
            entry = self._tokens.get(token)
        return entry is not None and entry.expires_at > self.clock()

    # -- request handling (called from handler threads) ------------------------------------------------
    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for queued in self._faults:
                if queued.remaining <= 0:
                    continue
                if queued.method and queued.method != method:
                    continue
                if queued.path and not queued.path.search(path):
                    continue
                queued.remaining -= 1
                return queued.fault
            self._faults = [q for q in self._faults if q.remaining > 0]
            if self.fault_probability and self._rng.random() < self.fault_probability:
                return self._rng.choice(self.random_faults)
        return None

    def _rate_headers(self, count: bool) -> dict[str, str]:
        with self._lock:
            now = self.clock()
            if now >= self._rate_reset:
                self._rate_reset, self._rate_used = now + 3600, 0
            if count:
                self._rate_used += 1
            remaining = max(0, self.rate_limit - self._rate_used)
            return {
                "x-ratelimit-limit": str(self.rate_limit),
                "x-ratelimit-remaining": str(remaining),
                "x-ratelimit-reset": str(int(self._rate_reset)),
                "x-ratelimit-used": str(self._rate_used),
                "x-ratelimit-resource": "core",
            }

    def _fault_reply(self, fault: Fault) -> _Reply:
        if fault.kind == "status":
            return _error(fault.status, "Server Error" if fault.status >= 500 else "Fault")
        headers = {"retry-after": str(int(fault.retry_after))} if fault.retry_after is not None else {}
        if fault.kind == "too_many":
            return _error(429, "Too Many Requests", headers)
        if fault.kind == "secondary":
            return _error(403, MSG_SECONDARY, headers)
        if fault.kind == "primary":
            reset = int(self.clock() + fault.reset_in)
            return _error(
                403,
                MSG_PRIMARY,
                {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset), "x-ratelimit-limit": "5000"},
            )
        raise AssertionError(f"unknown fault kind {fault.kind}")

    def _check_jwt(self, authorization: str | None) -> None:
        if not authorization:
            raise _error(401, "Requires authentication")
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential:
            raise _error(401, MSG_JWT_UNDECODABLE)
        credential = credential.strip()
        with self._lock:
            claims = self._jwt_cache.get(credential)
        if claims is None:
            try:
                if jwt.get_unverified_header(credential).get("alg") != "RS256":
                    raise _error(401, MSG_JWT_UNDECODABLE)
            except jwt.PyJWTError as exc:
                raise _error(401, MSG_JWT_UNDECODABLE) from exc
            options = {"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_iss": False}
            for key in self.public_keys:
                try:
                    claims = jwt.decode(credential, key, algorithms=["RS256"], options=options)
                    break
                except jwt.InvalidSignatureError:
                    continue
                except jwt.PyJWTError as exc:
                    raise _error(401, MSG_JWT_UNDECODABLE) from exc
            if claims is None:
                raise _error(401, MSG_JWT_UNDECODABLE)
            with self._lock:
                if len(self._jwt_cache) > 1000:
                    self._jwt_cache.clear()
                self._jwt_cache[credential] = claims
        iss, iat, exp = claims.get("iss"), claims.get("iat"), claims.get("exp")
        if str(iss) not in {self.app_id, self.client_id}:
            raise _error(401, "Integration not found")
        if not isinstance(iat, int) or isinstance(iat, bool):
            raise _error(401, MSG_IAT)
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise _error(401, MSG_EXPIRED)
        now = self.clock()
        if iat > now:
            raise _error(401, MSG_IAT)
        if exp <= now:
            raise _error(401, MSG_EXPIRED)
        if exp - iat > 600 or exp > now + 600:
            raise _error(401, MSG_EXP_TOO_FAR)

    def _check_token(
        self, authorization: str | None, owner: str, repo: str | None, permission: tuple[str, str]
    ) -> None:
        """``repo`` None: an org endpoint of ``owner`` (the token's installation must be on that org)."""
        if not authorization:
            raise _error(401, "Requires authentication")
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() not in ("token", "bearer") or not credential:
            raise _error(401, MSG_BAD_CREDENTIALS)
        with self._lock:
            entry = self._tokens.get(credential.strip())
            inst = self.installations.get(entry.installation_id) if entry else None
        if entry is None or entry.expires_at <= self.clock() or inst is None:
            raise _error(401, MSG_BAD_CREDENTIALS)
        if inst.suspended:
            raise _error(403, MSG_SUSPENDED)
        if owner.lower() != inst.account_login.lower() or (
            repo is not None and entry.repositories is not None and repo.lower() not in entry.repositories
        ):
            raise _error(404, "Not Found")
        name, level = permission
        have = entry.permissions.get(name)
        if have is None or (level == "write" and have != "write"):
            raise _error(403, MSG_NOT_ACCESSIBLE)

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> _Reply | None:
        """Decide the answer to one request; None means "drop the connection"."""
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        auth = headers.get("authorization")
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(method, path)
        if fault is not None:
            if fault.kind == "disconnect":
                return None
            if fault.kind == "truncated":
                return _Reply(200, {"message": "x" * 200}, {"x-fake-truncate": "1"})
            if fault.kind == "timeout":
                time.sleep(fault.delay)
            else:
                return self._fault_reply(fault)
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return _error(400, "Problems parsing JSON")
        if not path.startswith(self.path_prefix + "/"):
            return _error(404, "Not Found")
        route = path[len(self.path_prefix) :]
        try:
            return self._route(method, route, query, headers, auth, payload)
        except _Reply as reply:
            return reply

    def _route(
        self,
        method: str,
        route: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        auth: str | None,
        payload: Any,
    ) -> _Reply:
        if route == "/app" and method == "GET":
            self._check_jwt(auth)
            return _Reply(
                200,
                {
                    "id": int(self.app_id) if self.app_id.isdigit() else self.app_id,
                    "slug": "peribolos-test",
                    "client_id": self.client_id,
                    "name": "peribolos",
                },
            )
        if route == "/app/installations" and method == "GET":
            self._check_jwt(auth)
            return self._list_installations(query)
        match = re.fullmatch(r"/app/installations/(\d+)(/access_tokens)?", route)
        if match:
            self._check_jwt(auth)
            with self._lock:
                inst = self.installations.get(int(match.group(1)))
            if inst is None:
                raise _error(404, "Not Found")
            if match.group(2) is None and method == "GET":
                return _Reply(200, inst.to_json(self.app_id, self.api_url))
            if match.group(2) is not None and method == "POST":
                return self._mint(inst, payload)
            raise _error(404, "Not Found")
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)/contents/(.+)", route)
        if match and method == "GET":
            owner, repo, file_path = match.group(1), match.group(2), unquote(match.group(3))
            self._check_token(auth, owner, repo, ("contents", "read"))
            return self._contents(owner, repo, file_path, query, headers)
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)/check-runs", route)
        if match and method == "POST":
            owner, repo = match.group(1), match.group(2)
            self._check_token(auth, owner, repo, ("checks", "write"))
            return self._create_check_run(f"{owner}/{repo}", payload)
        match = re.fullmatch(r"/orgs/([^/]+)(/.*)?", route)
        if match:
            return self._org_route(method, match.group(1), match.group(2) or "", query, auth, payload)
        raise _error(404, "Not Found")

    def _org_route(
        self,
        method: str,
        login: str,
        rest: str,
        query: dict[str, list[str]],
        auth: str | None,
        payload: Any,
    ) -> _Reply:
        """The org endpoints peribolos uses for members and teams (GitHub's shapes and permissions)."""
        write = method in ("PUT", "POST", "PATCH", "DELETE")
        self._check_token(auth, login, None, ("members", "write" if write else "read"))
        with self._lock:
            org = self.orgs.get(login.lower())
        if org is None:
            raise _error(404, "Not Found")
        base = f"/orgs/{login}{rest}"
        if rest == "" and method == "GET":
            return _Reply(200, org.to_json(self.api_url))
        if rest == "/members" and method == "GET":
            role = query.get("role", ["all"])[0]
            if role not in ("all", "admin", "member"):
                raise _error(422, f"Validation Failed: role {role!r} is not one of all, admin, member")
            with self._lock:
                logins = (org.admins if role != "member" else set()) | (
                    org.members if role != "admin" else set()
                )
            return self._page(base, query, [_user(u) for u in sorted(logins)])
        if rest == "/invitations" and method == "GET":
            with self._lock:
                invited = sorted(org.invitations.items())
            items = [
                {
                    **_user(u),
                    "email": None,
                    "role": r,
                    "created_at": "2024-01-02T03:04:05Z",
                    "inviter": _user("octocat"),
                }
                for u, r in invited
            ]
            return self._page(base, query, items)
        match = re.fullmatch(r"/memberships/([^/]+)", rest)
        if match and method == "PUT":
            return self._put_membership(org, match.group(1), payload)
        if match and method == "DELETE":
            with self._lock:
                user = match.group(1)
                found = user in org.admins | org.members | set(org.invitations)
                org.admins.discard(user)
                org.members.discard(user)
                org.invitations.pop(user, None)
            if not found:
                raise _error(404, "Not Found")
            return _Reply(204, b"")
        if rest == "/teams" and method == "GET":
            with self._lock:
                teams = [org.teams[k].to_json(org.login, self.api_url) for k in sorted(org.teams)]
            return self._page(base, query, teams)
        match = re.fullmatch(r"/teams/([^/]+)/(members|invitations|repos)", rest)
        if match and method == "GET":
            with self._lock:
                team = org.teams.get(match.group(1))
            if team is None:
                raise _error(404, "Not Found")
            what = match.group(2)
            if what == "members":
                role = query.get("role", ["all"])[0]
                if role not in ("all", "member", "maintainer"):
                    raise _error(
                        422, f"Validation Failed: role {role!r} is not one of all, member, maintainer"
                    )
                logins = (team.maintainers if role != "member" else set()) | (
                    team.members if role != "maintainer" else set()
                )
                return self._page(base, query, [_user(u) for u in sorted(logins)])
            if what == "invitations":
                return self._page(base, query, [])
            repos = [
                {
                    "name": name,
                    "full_name": f"{org.login}/{name}",
                    "owner": {"login": org.login, "type": "Organization"},
                    "permissions": {
                        p: p == permission for p in ("pull", "triage", "push", "maintain", "admin")
                    },
                    "role_name": permission,
                }
                for name, permission in sorted(team.repos.items())
            ]
            return self._page(base, query, repos)
        raise _error(404, "Not Found")

    def _put_membership(self, org: FakeOrg, user: str, payload: Any) -> _Reply:
        """Members change role at once; others get an invitation (state pending), as on GitHub."""
        role = (payload or {}).get("role", "member")
        if role not in ("admin", "member"):
            raise _error(422, f"Validation Failed: role {role!r} is not one of admin, member")
        with self._lock:
            if user in org.admins | org.members:
                org.admins.discard(user)
                org.members.discard(user)
                (org.admins if role == "admin" else org.members).add(user)
                state = "active"
            else:
                org.invitations[user] = "admin" if role == "admin" else "direct_member"
                state = "pending"
        return _Reply(
            200,
            {
                "url": f"{self.api_url}/orgs/{org.login}/memberships/{user}",
                "state": state,
                "role": role,
                "organization": {"login": org.login, "id": org.id},
                "user": _user(user),
            },
        )

    def _page(self, path: str, query: dict[str, list[str]], items: list[Any]) -> _Reply:
        """One page of ``items`` with GitHub's ``Link`` header (``per_page`` at most 100, default 30);
        the links keep the request's other query parameters."""
        try:
            per_page = min(100, max(1, int(query.get("per_page", ["30"])[0])))
            page = max(1, int(query.get("page", ["1"])[0]))
        except ValueError as exc:
            raise _error(422, "Invalid pagination parameters") from exc
        last = max(1, -(-len(items) // per_page))
        others = "".join(f"{k}={v[0]}&" for k, v in sorted(query.items()) if k not in ("per_page", "page"))
        base = f"{self.api_url}{path}?{others}per_page={per_page}&page="
        links = []
        if page < last:
            links += [f'<{base}{page + 1}>; rel="next"', f'<{base}{last}>; rel="last"']
        if page > 1:
            links += [f'<{base}1>; rel="first"', f'<{base}{page - 1}>; rel="prev"']
        extra = {"link": ", ".join(links)} if links else {}
        return _Reply(200, items[(page - 1) * per_page : page * per_page], extra)

    def _list_installations(self, query: dict[str, list[str]]) -> _Reply:
        with self._lock:
            ordered = [self.installations[k] for k in sorted(self.installations)]
        return self._page(
            "/app/installations", query, [i.to_json(self.app_id, self.api_url) for i in ordered]
        )

    def _mint(self, inst: FakeInstallation, payload: Any) -> _Reply:
        if inst.suspended:
            raise _error(403, MSG_SUSPENDED)
        payload = payload or {}
        permissions = dict(inst.permissions)
        if payload.get("permissions"):
            asked = payload["permissions"]
            for name, level in asked.items():
                granted = inst.permissions.get(name)
                if granted is None or (level == "write" and granted != "write"):
                    raise _error(422, "The permissions requested are not granted to this installation.")
            permissions = dict(asked)
        repositories = payload.get("repositories")
        now = self.clock()
        with self._lock:
            if self.mint_budget_per_minute is not None:
                while self._recent_mints and now - self._recent_mints[0] >= 60:
                    self._recent_mints.popleft()
                if len(self._recent_mints) >= self.mint_budget_per_minute:
                    raise _error(403, MSG_SECONDARY, {"retry-after": "60"})
                self._recent_mints.append(now)
            token = "ghs_" + secrets.token_urlsafe(387)
            expires = now + self.token_ttl
            self._tokens[token] = _Token(
                inst.id,
                expires,
                permissions,
                frozenset(r.lower() for r in repositories) if repositories else None,
            )
            self.mint_times.append(now)
        answer: dict[str, Any] = {
            "token": token,
            "expires_at": _iso(expires),
            "permissions": permissions,
            "repository_selection": "selected" if repositories else inst.repository_selection,
        }
        if repositories:
            answer["repositories"] = [
                {"name": r, "full_name": f"{inst.account_login}/{r}"} for r in repositories
            ]
        return _Reply(201, answer)

    def _contents(
        self, owner: str, repo: str, file_path: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> _Reply:
        ref = query.get("ref", ["main"])[0]
        with self._lock:
            data = self.files.get((f"{owner}/{repo}".lower(), ref, file_path.strip("/")))
        if data is None:
            raise _error(404, "Not Found")
        if "raw" in headers.get("accept", ""):
            return _Reply(200, data, {"content-type": "application/vnd.github.raw; charset=utf-8"})
        encoded = base64.encodebytes(data).decode()
        name = file_path.rsplit("/", 1)[-1]
        return _Reply(
            200,
            {
                "type": "file",
                "encoding": "base64",
                "size": len(data),
                "name": name,
                "path": file_path,
                "content": encoded,
                "sha": secrets.token_hex(20),
            },
        )

    def _create_check_run(self, repo: str, payload: Any) -> _Reply:
        if not isinstance(payload, dict) or not payload.get("name") or not payload.get("head_sha"):
            raise _error(422, "Invalid request. name and head_sha are required.")
        status = payload.get("status", "queued")
        if status not in ("queued", "in_progress", "completed"):
            raise _error(422, f"Invalid request. status {status!r} is not a member of the enum.")
        conclusion = payload.get("conclusion")
        if status == "completed" and conclusion not in CONCLUSIONS:
            raise _error(422, "Invalid request. conclusion is required when status is completed.")
        output = payload.get("output")
        if output is not None and (not output.get("title") or not output.get("summary")):
            raise _error(422, "Invalid request. output requires title and summary.")
        for key in ("summary", "text"):
            if output and len(output.get(key) or "") > 65535:
                raise _error(422, f"Invalid request. output.{key} is too long (maximum is 65535 characters).")
        with self._lock:
            run_id = len(self.check_runs) + 1
            run = {"id": run_id, "repo": repo, **payload, "status": status}
            self.check_runs.append(run)
        return _Reply(201, {**run, "html_url": f"https://github.com/{repo}/runs/{run_id}"})

    def _record(self, entry: RecordedRequest) -> None:
        if self.record:
            with self._lock:
                self._requests.append(entry)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_fake: FakeGitHub

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        fake = self.server_fake
        started = fake.clock()
        with fake._lock:
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        try:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                reply = fake.handle(self.command, self.path, headers, body)
            except Exception as exc:  # noqa: BLE001 (a bug in the fake: answer 500 and remember it)
                fake.handler_errors.append(f"{type(exc).__name__}: {exc}")
                reply = _error(500, f"fake GitHub bug: {type(exc).__name__}")
            # Recorded before answering, so a test reading ``requests`` after its call sees this one.
            parts = urlsplit(self.path)
            auth = headers.get("authorization")
            fake._record(
                RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k: v for k, v in headers.items() if k != "authorization"},
                    auth_scheme=auth.partition(" ")[0] if auth else None,
                    body=_safe_json(body),
                    timestamp=started,
                    status=reply.status if reply is not None else -1,
                )
            )
            if reply is None:
                self.close_connection = True
                return
            if isinstance(reply.payload, bytes | bytearray):
                data = bytes(reply.payload)
                content_type = "application/octet-stream"
            else:
                data = json.dumps(reply.payload).encode()
                content_type = "application/json; charset=utf-8"
            rate = fake._rate_headers(count=reply.status != 401)
            out = {"content-type": content_type, **rate, **reply.headers}
            truncate = out.pop("x-fake-truncate", None)
            self.send_response(reply.status)
            for name, value in out.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if truncate:
                self.wfile.write(data[: len(data) // 2])
                self.close_connection = True
                return
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            with fake._lock:
                fake.in_flight -= 1

    do_GET = _serve
    do_POST = _serve
    do_PATCH = _serve
    do_PUT = _serve
    do_DELETE = _serve


def _safe_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body
