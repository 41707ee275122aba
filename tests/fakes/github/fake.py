"""The facade tests use: :class:`FakeGitHub` starts the server, sets up state, injects faults and reads back
what happened. Request handling: latency and faults first, then the route, its caller (JWT, token or
none) and the route's handler under the state lock; every request is recorded with its route and token.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.github import shapes
from tests.fakes.github.auth import Caller, JwtVerifier, authorize, credential
from tests.fakes.github.faults import Fault, Faults, fault_reply
from tests.fakes.github.models import App, FakeInstallation, FakeOrg, FakeTeam, ManifestCode, Repo
from tests.fakes.github.permissions import ROUTE_PERMISSIONS
from tests.fakes.github.replies import MSG_BAD_JSON, Reply, error, not_found
from tests.fakes.github.router import Call, Context, Route, find
from tests.fakes.github.routes import ALL
from tests.fakes.github.server import Server
from tests.fakes.github.state import GitHubState, Push, is_sha
from tests.fakes.github.ui import GitHubUI


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
    route: str | None = None
    """The route template that answered (``/repos/{owner}/{repo}/check-runs``), None when none did."""
    token_id: int | None = None
    """Which installation token (1 = the first minted) it carried; see :meth:`FakeGitHub.token_id`."""


def _safe_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body


def new_rsa_key() -> tuple[rsa.RSAPublicKey, str]:
    """A fresh App key: the public half and the private PEM (PKCS#1, as GitHub hands it out)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return key.public_key(), pem.decode()


class FakeGitHub:
    """A strict fake of GitHub's REST API (and the one GraphQL query peribolos sends), served over HTTP.

    ``with FakeGitHub(app_id, public_key) as gh: gh.api_url ...``; ``host`` is the bind address (127.0.0.1
    unless a test's network namespace needs another), ``path_prefix="/api/v3"`` mimics GitHub Enterprise.
    """

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
        port: int = 0,
    ) -> None:
        self.clock = clock
        self.state = GitHubState(lambda: self.clock())
        app = App(int(app_id), "peribolos-test", "peribolos", client_id, [public_key])
        self.state.apps[app.id] = app
        self._app = app
        self.path_prefix = path_prefix.rstrip("/")
        self.token_ttl = token_ttl
        self.latency = latency
        self.faults = Faults(fault_probability, random_faults, seed)
        self.mint_budget_per_minute = mint_budget_per_minute
        self.rate_limit = rate_limit
        self.record = record
        self.host, self.port = host, port
        self.ui = GitHubUI(self.state)
        """Changes "by hand in GitHub's UI" (members, teams, settings) for drift tests."""
        self._jwt = JwtVerifier(lambda: self.state.apps, lambda: self.clock())
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self.mint_times: list[float] = []
        self._recent_mints: deque[float] = deque()
        self._rate_used = 0
        self._rate_reset = clock() + 3600
        self.in_flight = 0
        self.max_in_flight = 0
        self.handler_errors: list[str] = []
        """Bugs or gaps of the fake itself (a handler crashed); tests assert this stays empty."""
        self._server: Server | None = None

    # -- the App this fake is built for ------------------------------------------------------------------
    @property
    def app_id(self) -> str:
        return str(self._app.id)

    @property
    def client_id(self) -> str | None:
        return self._app.client_id

    @property
    def public_keys(self) -> list[rsa.RSAPublicKey]:
        """The App's keys; append one to accept JWTs signed with a rotated-in key."""
        return self._app.public_keys

    @property
    def fault_probability(self) -> float:
        return self.faults.probability

    @fault_probability.setter
    def fault_probability(self, value: float) -> None:
        self.faults.probability = value

    @property
    def random_faults(self) -> tuple[Fault, ...]:
        return self.faults.random_faults

    @random_faults.setter
    def random_faults(self, value: Iterable[Fault]) -> None:
        self.faults.random_faults = tuple(value)

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> FakeGitHub:
        self._server = Server(self._respond, self.host, self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The server's root (``http://127.0.0.1:PORT``); ``html_url``s point below it."""
        if self._server is None:
            raise RuntimeError("FakeGitHub is not started")
        return self._server.url

    @property
    def api_url(self) -> str:
        """Base URL to configure clients with (``.../api/v3`` when ``path_prefix`` mimics GHES)."""
        return self.url + self.path_prefix

    @property
    def graphql_url(self) -> str:
        """peribolos' ``--github-graphql-endpoint`` (``/api/graphql`` on GitHub Enterprise)."""
        return f"{self.url}/api/graphql" if self.path_prefix == "/api/v3" else f"{self.api_url}/graphql"

    @property
    def urls(self) -> shapes.Urls:
        return shapes.Urls(self.api_url, self.url)

    # -- set-up ----------------------------------------------------------------------------------------
    @property
    def installations(self) -> dict[int, FakeInstallation]:
        return self.state.installations

    @property
    def orgs(self) -> dict[str, FakeOrg]:
        """Organisation accounts by lower-case login."""
        return {k: v for k, v in self.state.accounts.items() if v.type == "Organization"}

    def add_installation(
        self, installation_id: int, account_login: str, account_type: str = "Organization", **kw: Any
    ) -> FakeInstallation:
        """An installation of this App on ``account_login`` (the account is created when new)."""
        inst = FakeInstallation(installation_id, account_login, account_type, app_id=self._app.id, **kw)
        with self.state.lock:
            account = self.state.ensure_account(account_login, account_type, inst.account_id)
            inst.account_id = account.id
            self.state.installations[installation_id] = inst
        return inst

    def add_installations(self, count: int, start_id: int = 1, prefix: str = "org") -> None:
        """``count`` organisations ``org1``, ``org2``... with ids from ``start_id`` (for benchmarks)."""
        for i in range(start_id, start_id + count):
            self.add_installation(i, f"{prefix}{i}")

    def remove_installation(self, installation_id: int) -> None:
        with self.state.lock:
            self.state.installations.pop(installation_id, None)

    def set_suspended(self, installation_id: int, suspended: bool = True) -> None:
        with self.state.lock:
            self.state.installations[installation_id].suspended = suspended

    def add_org(
        self, login: str, admins: Iterable[str], members: Iterable[str] = (), teams: Iterable[FakeTeam] = ()
    ) -> FakeOrg:
        """Give org ``login`` its owners, members and teams (replacing any it had, and its pending
        invitations); repositories the teams name are created."""
        with self.state.lock:
            org = self.state.ensure_account(login)
            org.admins = set(admins)
            org.members = set(members) - org.admins
            org.invitations = {}
            org.teams = {t.slug: t for t in teams}
            for team in org.teams.values():
                for name in team.repos:
                    if name.lower() not in org.repos:
                        self.state.create_repo(org.login, name)
            return org

    def add_repo(
        self, full_name: str, files: Mapping[str, str | bytes] | None = None, **settings: Any
    ) -> Repo:
        """A repository (``default_branch`` ``main`` unless given) with one commit of ``files`` if any."""
        owner, _, name = full_name.partition("/")
        with self.state.lock:
            if self.state.repo(owner, name) is not None:
                raise ValueError(f"repository {full_name} exists already")
            repo = self.state.create_repo(owner, name, **settings)
            if files:
                self.state.push(repo, repo.default_branch, _as_bytes(files), "Initial commit")
            return repo

    def add_file(self, repo: str, ref: str, path: str, content: bytes | str) -> None:
        """Put ``path`` into ``repo`` at ``ref``: a 40-hex SHA pins the content at that commit (created if
        new); a branch name gets a new commit on that branch. The repository is created when new."""
        data = content.encode() if isinstance(content, str) else content
        with self.state.lock:
            found = self.state.ensure_repo(repo)
            if is_sha(ref):
                self.state.pin_file(found, ref, path, data)
            else:
                self.state.push(found, ref, {path: data}, f"Update {path}")

    def push_commit(
        self,
        repo: str,
        files: Mapping[str, str | bytes | None],
        branch: str | None = None,
        message: str | None = None,
        author: str = "octocat",
    ) -> Push:
        """A commit changing ``files`` (None deletes) on ``branch`` (the default one), as a person pushing
        would; the :class:`~tests.fakes.github.state.Push` holds what the push webhook carries."""
        with self.state.lock:
            found = self.state.ensure_repo(repo)
            target = branch or found.default_branch
            text = message or "Update " + ", ".join(sorted(files))
            return self.state.push(found, target, _as_bytes(files), text, author)

    def manifest_code(self, manifest: Mapping[str, Any], owner: str = "octo-org") -> str:
        """What GitHub's redirect hands back after someone submits ``manifest`` for ``owner``: a code for
        ``POST /app-manifests/{code}/conversions`` (once, within an hour)."""
        if not isinstance(manifest.get("url"), str) or not manifest["url"]:
            raise ValueError("a GitHub App manifest needs a url")
        code = secrets.token_hex(10)
        with self.state.lock:
            self.state.manifest_codes[code] = ManifestCode(dict(manifest), self.clock(), owner)
        return code

    def inject(
        self, fault: Fault, times: int = 1, method: str | None = None, path: str | None = None
    ) -> None:
        """Fail the next ``times`` requests matching ``method`` and the ``path`` regex (search, no prefix)."""
        self.faults.inject(fault, times, method, path)

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

    def requests_per_route(self) -> Counter[tuple[str, str]]:
        """How many requests each ``(method, route template)`` got (unmatched paths under ``None``)."""
        return Counter((r.method, r.route or "None") for r in self.requests)

    def token_id(self, token: str) -> int | None:
        """The number of an installation token (1 = the first this fake minted), None if unknown."""
        with self.state.lock:
            found = self.state.tokens.get(token)
        return found.number if found else None

    def requests_with_token(self, token: str) -> list[RecordedRequest]:
        number = self.token_id(token)
        return [r for r in self.requests if number is not None and r.token_id == number]

    def requests_per_token(self) -> Counter[int]:
        return Counter(r.token_id for r in self.requests if r.token_id is not None)

    def token_scope(self, token: str) -> tuple[dict[str, str], frozenset[str] | None]:
        """What a token carries: its permissions and repositories (lower-case names, None: all)."""
        with self.state.lock:
            found = self.state.tokens[token]
        return dict(found.permissions), found.repositories

    @property
    def mint_count(self) -> int:
        with self._lock:
            return len(self.mint_times)

    def mints_by_installation(self) -> Counter[int]:
        with self.state.lock:
            return Counter(t.installation_id for t in self.state.tokens.values())

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
        with self.state.lock:
            entry = self.state.tokens.get(token)
        return entry is not None and entry.expires_at > self.clock()

    def _check_run_json(self, run_id: int) -> dict[str, Any]:
        run = self.state.check_runs[run_id]
        app = self.state.apps[run.app_id]
        repo = self.state.repo(*run.repo.split("/", 1))
        pulls = [
            p
            for p in self.state.pulls.get(run.repo.lower(), [])
            if p.state == "open" and p.head_sha == run.head_sha
        ]
        return {**shapes.check_run(run, app, self.urls, pulls, repo.id if repo else 0), "repo": run.repo}

    @property
    def check_runs(self) -> list[dict[str, Any]]:
        """Every check run in creation order, as GitHub shows it, plus ``repo`` (``owner/name``)."""
        with self.state.lock:
            return [self._check_run_json(i) for i in sorted(self.state.check_runs)]

    def check_run(self, run_id: int) -> dict[str, Any]:
        with self.state.lock:
            return self._check_run_json(run_id)

    def annotations(self, run_id: int) -> list[dict[str, Any]]:
        """All annotations of a check run, in the order they were sent."""
        with self.state.lock:
            run = self.state.check_runs[run_id]
            return [shapes.annotation(a, run, self.urls) for a in run.annotations]

    def pulls(self, repo: str, state: str = "all") -> list[dict[str, Any]]:
        """The pull requests of ``repo`` (newest first), as GitHub shows them."""
        with self.state.lock:
            found = self.state.repo(*repo.split("/", 1))
            owner = self.state.account(repo.split("/", 1)[0])
            if found is None or owner is None:
                return []
            pulls = reversed(self.state.pulls.get(found.full_name.lower(), []))
            return [
                shapes.pull_request(p, found, owner, self.urls)
                for p in pulls
                if state == "all" or p.state == state
            ]

    def refs(self, repo: str) -> dict[str, str]:
        """Branch name -> head SHA."""
        with self.state.lock:
            found = self.state.repo(*repo.split("/", 1))
            return dict(found.branches) if found else {}

    def head_sha(self, repo: str, branch: str | None = None) -> str:
        with self.state.lock:
            found = self.state.repo(*repo.split("/", 1))
            if found is None:
                raise KeyError(f"no repository {repo!r}")
            return found.branches[branch or found.default_branch]

    def file_at(self, repo: str, ref: str, path: str) -> bytes | None:
        """The bytes of ``path`` at ``ref`` (a branch or SHA), None when absent."""
        with self.state.lock:
            found = self.state.repo(*repo.split("/", 1))
            commit = found.resolve(ref) if found else None
            return commit.tree.get(path.strip("/")) if commit else None

    @property
    def created_apps(self) -> list[App]:
        """Apps created through the manifest flow, oldest first."""
        with self.state.lock:
            return [a for a in self.state.apps.values() if a is not self._app]

    # -- request handling (called from handler threads) ------------------------------------------------
    def _admit_mint(self, now: float) -> bool:
        """GitHub's secondary limit on token POSTs, when ``mint_budget_per_minute`` is set."""
        with self._lock:
            if self.mint_budget_per_minute is not None:
                while self._recent_mints and now - self._recent_mints[0] >= 60:
                    self._recent_mints.popleft()
                if len(self._recent_mints) >= self.mint_budget_per_minute:
                    return False
                self._recent_mints.append(now)
            self.mint_times.append(now)
            return True

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

    def _respond(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        started = self.clock()
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            try:
                reply = self.handle(method, raw_path, headers, body)
            except Exception as exc:  # noqa: BLE001 (a bug in the fake: answer 500 and remember it)
                self.handler_errors.append(f"{type(exc).__name__}: {exc}")
                reply = error(500, f"fake GitHub bug: {type(exc).__name__}")
            self._record(method, raw_path, headers, body, started, reply)
            if reply is not None:
                reply.headers = {**self._rate_headers(count=reply.status != 401), **reply.headers}
            return reply
        finally:
            with self._lock:
                self.in_flight -= 1

    def _record(
        self,
        method: str,
        raw_path: str,
        headers: dict[str, str],
        body: bytes,
        started: float,
        reply: Reply | None,
    ) -> None:
        """Recorded before answering, so a test reading ``requests`` after its call sees this one."""
        if not self.record:
            return
        parts = urlsplit(raw_path)
        auth = headers.get("authorization")
        entry = RecordedRequest(
            method=method,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k: v for k, v in headers.items() if k != "authorization"},
            auth_scheme=auth.partition(" ")[0] if auth else None,
            body=_safe_json(body),
            timestamp=started,
            status=reply.status if reply is not None else -1,
            route=reply.route if reply is not None else None,
            token_id=reply.token_id if reply is not None else None,
        )
        with self._lock:
            self._requests.append(entry)

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        """Decide the answer to one request; None means "drop the connection"."""
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        if self.latency:
            time.sleep(self.latency)
        fault = self.faults.take(method, path)
        if fault is not None:
            if fault.kind != "timeout":
                return fault_reply(fault, self.clock())
            time.sleep(fault.delay)
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return error(400, MSG_BAD_JSON)
        route_path = self._route_path(path)
        found = find(ALL, method, route_path) if route_path is not None else None
        if found is None:
            return not_found()
        route, params = found
        token_id: int | None = None
        try:
            caller = self._authenticate(route, params, headers)
            token_id = caller.token.number if caller.token else None
            ctx = Context(self.state, self.urls, self.token_ttl, self._admit_mint, new_rsa_key)
            call = Call(method, route_path, params, query, headers, payload, caller, ctx, self.clock())
            with self.state.lock:
                reply = route.handler(call)
        except Reply as raised:
            reply = raised
        reply.route, reply.token_id = route.template, token_id
        return reply

    def _route_path(self, path: str) -> str | None:
        if self.path_prefix == "/api/v3" and path == "/api/graphql":
            return "/graphql"
        if not path.startswith(self.path_prefix + "/"):
            return None
        return path[len(self.path_prefix) :]

    def _authenticate(self, route: Route, params: dict[str, str], headers: dict[str, str]) -> Caller:
        auth = headers.get("authorization")
        if route.auth == "none":
            return Caller()
        if route.auth == "app":
            return Caller(app=self._jwt.verify(auth))
        value = credential(auth, ("token", "bearer"))
        with self.state.lock:
            token = self.state.tokens.get(value)
            inst = self.state.installations.get(token.installation_id) if token else None
            owner = params.get("org") or params.get("owner")
            repo: Repo | str | None = None
            if "repo" in params:
                repo = self.state.repo(params["owner"], params["repo"]) or params["repo"]
            needs = ROUTE_PERMISSIONS[(route.method, route.template)]
            caller = authorize(token, inst, self.clock(), owner, repo, needs)
            if "org" in params and "owner" in params and inst is not None:
                if params["owner"].lower() != inst.account_login.lower():
                    raise not_found()
            return caller


def _as_bytes(files: Mapping[str, str | bytes | None]) -> dict[str, bytes | None]:
    return {p: (c.encode() if isinstance(c, str) else c) for p, c in files.items()}
