"""GitHub as the App sees it (JWT: mint tokens, read installations) and as an installation sees it (token:
read a file, create a check run; read an org's members, teams and repositories; push a branch and open a
pull request). Both go through the one :class:`~peribolos_core.http.Transport`.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from .app_jwt import AppJWT
from .errors import ConfigError, GitHubRequestError, InstallationGone
from .http import Transport
from .settings import DEFAULT_API_URL, REPO_NAME, check_installation_id

_ORG_LOGIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_REPO = re.compile(rf"^{_ORG_LOGIN}/{REPO_NAME.pattern}$")
_ORG = re.compile(rf"^{_ORG_LOGIN}$")
_BRANCH = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}(?<![/.])$")
PER_PAGE = 100
"""GitHub's largest page: every listing asks for it."""
PERMISSION_ORDER = (("admin", "admin"), ("maintain", "maintain"), ("push", "write"), ("triage", "triage"),
                    ("pull", "read"))
"""A ``permissions`` object's flags, strongest first, and the level peribolos' config names each."""
APP_401_HINT = "check the App id, the private key and this machine's clock (JWT iat/exp)"
TOKEN_401_HINT = "the installation token expired or was revoked: mint a new one (ensure-token)"  # noqa: S105
CHECK_RUN_TEXT_LIMIT = 65535
"""GitHub's limit on a check run output's ``summary`` and ``text``."""


def parse_timestamp(value: Any, what: str) -> datetime:
    """GitHub's ``2016-07-11T22:14:10Z`` as an aware UTC datetime."""
    if not isinstance(value, str):
        raise GitHubRequestError(None, f"{what} is missing from GitHub's answer")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise GitHubRequestError(None, f"{what} {value!r} is not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class InstallationToken:
    """An installation access token; ``repr``/``str`` leave the token out."""

    token: str = field(repr=False)
    expires_at: datetime
    permissions: Mapping[str, str] = field(default_factory=dict)
    repository_selection: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InstallationToken:
        """From the 201 answer of ``POST /app/installations/{id}/access_tokens``."""
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise GitHubRequestError(None, "GitHub's access token answer has no token")
        permissions = data.get("permissions") or {}
        return cls(
            token=token,
            expires_at=parse_timestamp(data.get("expires_at"), "expires_at"),
            permissions=dict(permissions) if isinstance(permissions, Mapping) else {},
            repository_selection=data.get("repository_selection"),
        )


@dataclass(frozen=True)
class Installation:
    """One installation of the App, from ``GET /app/installations[/{id}]``."""

    id: int
    account_login: str
    account_type: str
    suspended: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Installation:
        account = data.get("account")
        if not isinstance(data.get("id"), int) or not isinstance(account, Mapping):
            raise GitHubRequestError(None, "GitHub's installation object lacks id or account")
        login = account.get("login") or account.get("slug")  # enterprise accounts have a slug, no login
        if not isinstance(login, str) or not login:
            raise GitHubRequestError(None, f"installation {data['id']}: account has no login")
        return cls(
            id=data["id"],
            account_login=login,
            account_type=str(account.get("type") or data.get("target_type") or "Organization"),
            suspended=data.get("suspended_at") is not None,
        )


def repo_permission_level(permissions: Any) -> str:
    """The level peribolos writes for a ``permissions`` object (``{"admin": false, "push": true, ...}``):
    the strongest flag set, as ``github.LevelFromPermissions`` reads it; ``none`` without any."""
    flags = permissions if isinstance(permissions, Mapping) else {}
    return next((level for flag, level in PERMISSION_ORDER if flags.get(flag) is True), "none")


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _flag(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


def _login(data: Any, what: str) -> str:
    login = data.get("login") if isinstance(data, Mapping) else None
    if not isinstance(login, str) or not login:
        raise GitHubRequestError(None, f"{what}: an entry without a login in GitHub's answer")
    return login


@dataclass(frozen=True)
class Team:
    """A team of an org, from ``GET /orgs/{org}/teams``; ``parent_id`` None for a top-level team."""

    id: int
    name: str
    slug: str
    description: str
    privacy: str
    parent_id: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Team:
        parent = data.get("parent")
        if not isinstance(data.get("id"), int) or not _text(data, "name") or not _text(data, "slug"):
            raise GitHubRequestError(None, "GitHub's team object lacks id, name or slug")
        parent_id = parent.get("id") if isinstance(parent, Mapping) else None
        return cls(
            id=data["id"],
            name=data["name"],
            slug=data["slug"],
            description=_text(data, "description"),
            privacy=_text(data, "privacy") or "closed",
            parent_id=parent_id if isinstance(parent_id, int) else None,
        )


@dataclass(frozen=True)
class Repository:
    """A repository and the settings peribolos' ``--fix-repos`` compares (None: GitHub did not say)."""

    name: str
    full_name: str
    private: bool
    visibility: str
    archived: bool
    default_branch: str
    description: str = ""
    homepage: str = ""
    has_issues: bool | None = None
    has_projects: bool | None = None
    has_wiki: bool | None = None
    allow_squash_merge: bool | None = None
    allow_merge_commit: bool | None = None
    allow_rebase_merge: bool | None = None
    squash_merge_commit_title: str | None = None
    squash_merge_commit_message: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Repository:
        name, full_name = _text(data, "name"), _text(data, "full_name")
        if not name or not full_name:
            raise GitHubRequestError(None, "GitHub's repository object lacks name or full_name")
        private = data.get("private") is True
        return cls(
            name=name,
            full_name=full_name,
            private=private,
            visibility=_text(data, "visibility") or ("private" if private else "public"),
            archived=data.get("archived") is True,
            default_branch=_text(data, "default_branch") or "main",
            description=_text(data, "description"),
            homepage=_text(data, "homepage"),
            has_issues=_flag(data, "has_issues"),
            has_projects=_flag(data, "has_projects"),
            has_wiki=_flag(data, "has_wiki"),
            allow_squash_merge=_flag(data, "allow_squash_merge"),
            allow_merge_commit=_flag(data, "allow_merge_commit"),
            allow_rebase_merge=_flag(data, "allow_rebase_merge"),
            squash_merge_commit_title=_text(data, "squash_merge_commit_title") or None,
            squash_merge_commit_message=_text(data, "squash_merge_commit_message") or None,
        )


@dataclass(frozen=True)
class PullRequest:
    number: int
    state: str
    """``open`` or ``closed``."""
    merged: bool
    head: str
    base: str
    html_url: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PullRequest:
        head, base = data.get("head"), data.get("base")
        if not isinstance(data.get("number"), int) or not isinstance(head, Mapping) or not isinstance(
            base, Mapping
        ):
            raise GitHubRequestError(None, "GitHub's pull request object lacks number, head or base")
        return cls(
            number=data["number"],
            state=_text(data, "state"),
            merged=data.get("merged_at") is not None or data.get("merged") is True,
            head=_text(head, "ref"),
            base=_text(base, "ref"),
            html_url=_text(data, "html_url"),
        )


class _Client:
    """What both clients share: one Transport (retries, rate limits, pagination) and its counters."""

    def __init__(
        self,
        api_url: str,
        session: requests.Session | None,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        timeout: float,
        max_retries: int,
        hint_401: str,
        **transport_options: Any,
    ) -> None:
        self.clock = clock
        self.transport = Transport(api_url, session, timeout=timeout, max_retries=max_retries, clock=clock,
                                   sleep=sleep, hint_401=hint_401, **transport_options)

    @property
    def api_url(self) -> str:
        return self.transport.api_url

    @property
    def request_count(self) -> int:
        """HTTP requests sent, retries included (for benchmarks)."""
        return self.transport.request_count


class GitHubApp(_Client):
    """The App authenticated with its JWT. Thread-safe: the refresher shares one across its workers."""

    def __init__(
        self,
        app_id: str | int,
        private_key: rsa.RSAPrivateKey,
        api_url: str = DEFAULT_API_URL,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 10.0,
        max_retries: int = 4,
        max_rate_limit_wait: float = 60.0,
    ) -> None:
        self.app_id = str(app_id)
        self.jwt = AppJWT(self.app_id, private_key)
        super().__init__(api_url, session, clock, sleep, timeout, max_retries, APP_401_HINT,
                         max_rate_limit_wait=max_rate_limit_wait)

    def _auth(self) -> str:
        return f"Bearer {self.jwt.token(self.clock())}"

    def mint_token(
        self,
        installation_id: int | str,
        permissions: Mapping[str, str] | None = None,
        repositories: Sequence[str] | None = None,
    ) -> InstallationToken:
        """A new installation token, optionally narrowed to ``permissions`` and ``repositories`` (names).

        Raises InstallationGone (404), InstallationSuspended (403), BadCredentials (401), RateLimited, ...
        """
        iid = check_installation_id(installation_id, "installation id")
        body: dict[str, Any] = {}
        if permissions:
            body["permissions"] = dict(permissions)
        if repositories:
            body["repositories"] = list(repositories)
        response = self.transport.request(
            "POST",
            f"/app/installations/{iid}/access_tokens",
            authorization=self._auth(),
            json_body=body or None,
            on_404=InstallationGone,
        )
        return InstallationToken.from_json(_json(response))

    def get_installation(self, installation_id: int | str) -> Installation:
        """One installation; InstallationGone when the App is no longer installed there."""
        iid = check_installation_id(installation_id, "installation id")
        response = self.transport.request(
            "GET", f"/app/installations/{iid}", authorization=self._auth(), on_404=InstallationGone
        )
        return Installation.from_json(_json(response))

    def iter_installations(self, per_page: int = 100) -> Iterator[Installation]:
        """Every installation, page after page (``Link: <...>; rel="next"``), suspended ones included."""
        if not 1 <= per_page <= 100:
            raise ConfigError(f"per_page must be between 1 and 100 (GitHub's limit), got {per_page}")
        first = f"/app/installations?per_page={per_page}"
        for response in self.transport.paginate(first, authorization=self._auth):
            page = _json(response)
            if not isinstance(page, list):
                raise GitHubRequestError(response.status_code, "GET /app/installations: expected a JSON list")
            for item in page:
                yield Installation.from_json(item)

    def __repr__(self) -> str:
        return f"GitHubApp(app_id={self.app_id!r}, api_url={self.api_url!r})"


class GitHubInstallationClient(_Client):
    """What the step commands do with an installation token: read the config file, report a check run."""

    def __init__(
        self,
        token: str,
        api_url: str = DEFAULT_API_URL,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 10.0,
        max_retries: int = 4,
    ) -> None:
        if not token.strip():
            raise ConfigError("installation token is empty")
        self._token = token.strip()
        super().__init__(api_url, session, clock, sleep, timeout, max_retries, TOKEN_401_HINT)

    def _auth(self) -> str:
        return f"token {self._token}"

    def get_file(self, repo_full_name: str, path: str, ref: str) -> bytes:
        """The raw bytes of ``path`` in ``repo_full_name`` ("org/repo") at ``ref`` (a SHA, branch or tag)."""
        repo = check_repo(repo_full_name)
        clean = check_path(path, "config path")
        if not ref.strip():
            raise ConfigError("revision to read the config at is empty")
        response = self.transport.request(
            "GET",
            f"/repos/{repo}/contents/{quote(clean)}",
            authorization=self._auth(),
            params={"ref": ref},
            accept="application/vnd.github.raw+json",
        )
        return response.content

    def create_check_run(
        self,
        repo: str,
        head_sha: str,
        name: str,
        status: str = "completed",
        conclusion: str | None = None,
        output: Mapping[str, Any] | None = None,
        details_url: str | None = None,
    ) -> int:
        """Create a check run on ``head_sha``; returns its id. ``output`` is ``{title, summary, text,
        annotations}`` (at most 50 annotations a request: :func:`tekton.steps.annotations.chunks`)."""
        full = check_repo(repo)
        body: dict[str, Any] = {"name": name, "head_sha": head_sha, "status": status}
        if status == "completed":
            if conclusion is None:
                raise ConfigError("a completed check run needs a conclusion")
            body["conclusion"] = conclusion
        if details_url:
            body["details_url"] = details_url
        if output:
            body["output"] = _output(output)
        response = self.transport.request(
            "POST", f"/repos/{full}/check-runs", authorization=self._auth(), json_body=body
        )
        data = _json(response)
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), int):
            raise GitHubRequestError(response.status_code, "POST check-runs: no id in GitHub's answer")
        return data["id"]

    # -- reading an org (the bootstrap export) ---------------------------------------------------------

    def _items(self, path: str) -> Iterator[Mapping[str, Any]]:
        """The objects of a listing at ``path``, page after page (``per_page`` 100)."""
        sep = "&" if "?" in path else "?"
        for response in self.transport.paginate(f"{path}{sep}per_page={PER_PAGE}", authorization=self._auth):
            page = _json(response)
            if not isinstance(page, list) or not all(isinstance(item, Mapping) for item in page):
                raise GitHubRequestError(response.status_code, f"GET {path}: expected a JSON list of objects")
            yield from page

    def _get_or_none(
        self, path: str, params: Mapping[str, str] | None = None, missing: tuple[int, ...] = (404,)
    ) -> requests.Response | None:
        """GET ``path``; None when GitHub answers one of ``missing`` (it does not exist, or not for us)."""
        try:
            return self.transport.request("GET", path, authorization=self._auth(), params=params)
        except GitHubRequestError as exc:
            if exc.status_code in missing:
                return None
            raise

    def list_org_members(self, org: str, role: str = "all") -> list[str]:
        """Logins of the org's members with ``role`` (``admin``, ``member`` or ``all``)."""
        if role not in ("all", "admin", "member"):
            raise ConfigError(f"org member role {role!r} is not all, admin or member")
        path = f"/orgs/{check_org(org)}/members?role={role}"
        return [_login(item, path) for item in self._items(path)]

    def list_org_invitations(self, org: str) -> dict[str, str]:
        """Pending invitations to the org: login -> role (``direct_member``, ``admin``...). Invitations by
        email (no login yet) are left out, as peribolos leaves them."""
        out = {}
        for item in self._items(f"/orgs/{check_org(org)}/invitations"):
            login = item.get("login")
            if isinstance(login, str) and login:
                out[login] = _text(item, "role") or "direct_member"
        return out

    def list_teams(self, org: str) -> list[Team]:
        return [Team.from_json(item) for item in self._items(f"/orgs/{check_org(org)}/teams")]

    def list_team_members(self, org: str, team_slug: str, role: str = "all") -> list[str]:
        """Logins of the team's ``role`` (``maintainer``, ``member`` or ``all``)."""
        if role not in ("all", "maintainer", "member"):
            raise ConfigError(f"team member role {role!r} is not all, maintainer or member")
        path = f"/orgs/{check_org(org)}/teams/{quote(team_slug, safe='')}/members?role={role}"
        return [_login(item, path) for item in self._items(path)]

    def list_team_invitations(self, org: str, team_slug: str) -> list[str]:
        """Logins invited to the org through the team (pending)."""
        path = f"/orgs/{check_org(org)}/teams/{quote(team_slug, safe='')}/invitations"
        return [item["login"] for item in self._items(path) if isinstance(item.get("login"), str)]

    def list_team_repos(self, org: str, team_slug: str) -> dict[str, str]:
        """The team's repositories (names as GitHub spells them) -> the level peribolos writes."""
        path = f"/orgs/{check_org(org)}/teams/{quote(team_slug, safe='')}/repos"
        return {
            _text(item, "name"): repo_permission_level(item.get("permissions"))
            for item in self._items(path)
            if _text(item, "name")
        }

    def list_org_repos(self, org: str) -> list[str]:
        """Names of the org's repositories the token reaches, in name order."""
        path = f"/orgs/{check_org(org)}/repos?type=all&sort=full_name"
        return [_text(item, "name") for item in self._items(path) if _text(item, "name")]

    def get_repo(self, repo_full_name: str) -> Repository | None:
        """The repository with its settings; None when it does not exist or the token cannot reach it (GitHub
        answers 404 to both)."""
        response = self._get_or_none(f"/repos/{check_repo(repo_full_name)}")
        if response is None:
            return None
        return Repository.from_json(_object(response, f"GET /repos/{repo_full_name}"))

    def list_direct_collaborators(self, repo_full_name: str) -> dict[str, str]:
        """The repository's direct collaborators (added to it, not through the org) -> permission level."""
        path = f"/repos/{check_repo(repo_full_name)}/collaborators?affiliation=direct"
        return {
            _login(item, path): repo_permission_level(item.get("permissions")) for item in self._items(path)
        }

    def list_repo_invitations(self, repo_full_name: str) -> dict[str, str]:
        """Pending invitations to collaborate: login -> level (``read``, ``write``...)."""
        out = {}
        for item in self._items(f"/repos/{check_repo(repo_full_name)}/invitations"):
            invitee, level = item.get("invitee"), _text(item, "permissions")
            if isinstance(invitee, Mapping) and isinstance(invitee.get("login"), str) and level:
                out[invitee["login"]] = level
        return out

    # -- proposing a file (the bootstrap pull request) ------------------------------------------------

    def branch_head(self, repo_full_name: str, branch: str) -> str | None:
        """The commit SHA ``branch`` points at; None when there is no such branch (or no commit at all)."""
        repo, name = check_repo(repo_full_name), check_branch(branch)
        # 409: "Git Repository is empty."
        response = self._get_or_none(f"/repos/{repo}/git/ref/heads/{quote(name)}", missing=(404, 409))
        return None if response is None else _sha_of(response, f"GET /repos/{repo}/git/ref/heads/{name}")

    def create_branch(self, repo_full_name: str, branch: str, sha: str) -> None:
        """A new branch at commit ``sha`` (422 from GitHub when it exists already)."""
        repo = check_repo(repo_full_name)
        body = {"ref": f"refs/heads/{check_branch(branch)}", "sha": sha}
        self.transport.request("POST", f"/repos/{repo}/git/refs", authorization=self._auth(), json_body=body)

    def move_branch(self, repo_full_name: str, branch: str, sha: str) -> None:
        """Point ``branch`` at ``sha``, forced (the branch is ours: nobody else's commits are lost)."""
        repo, name = check_repo(repo_full_name), check_branch(branch)
        self.transport.request(
            "PATCH",
            f"/repos/{repo}/git/refs/heads/{quote(name)}",
            authorization=self._auth(),
            json_body={"sha": sha, "force": True},
        )

    def file_sha(self, repo_full_name: str, path: str, ref: str) -> str | None:
        """The blob SHA of the file at ``path`` on ``ref``; None when there is none (or the repo is empty)."""
        repo, clean = check_repo(repo_full_name), check_path(path)
        response = self._get_or_none(f"/repos/{repo}/contents/{quote(clean)}", {"ref": ref})
        if response is None:
            return None
        data = _json(response)
        if isinstance(data, list):
            raise GitHubRequestError(response.status_code, f"{clean} in {repo} is a directory, not a file")
        sha = data.get("sha") if isinstance(data, Mapping) else None
        if not isinstance(sha, str) or not sha:
            raise GitHubRequestError(response.status_code, f"GET contents of {clean}: no sha in the answer")
        return sha

    def put_file(
        self,
        repo_full_name: str,
        path: str,
        content: bytes,
        message: str,
        branch: str,
        sha: str | None = None,
    ) -> str:
        """Commit ``content`` as ``path`` on ``branch`` (``sha``: the blob it replaces); returns the commit's
        SHA."""
        repo, clean = check_repo(repo_full_name), check_path(path)
        body: dict[str, Any] = {
            "message": message,
            "content": base64.b64encode(content).decode("ascii"),
            "branch": check_branch(branch),
        }
        if sha is not None:
            body["sha"] = sha
        response = self.transport.request(
            "PUT", f"/repos/{repo}/contents/{quote(clean)}", authorization=self._auth(), json_body=body
        )
        return _sha_of(response, f"PUT contents of {clean}", key="commit", missing="no commit answered")

    def list_pulls(self, repo_full_name: str, head_branch: str, state: str = "all") -> list[PullRequest]:
        """Pull requests of the repository from its branch ``head_branch`` (newest first)."""
        if state not in ("open", "closed", "all"):
            raise ConfigError(f"pull request state {state!r} is not open, closed or all")
        repo = check_repo(repo_full_name)
        owner = repo.split("/", 1)[0]
        head = quote(f"{owner}:{check_branch(head_branch)}", safe=":/")
        path = f"/repos/{repo}/pulls?state={state}&head={head}"
        return [PullRequest.from_json(item) for item in self._items(path)]

    def create_pull(self, repo_full_name: str, title: str, head: str, base: str, body: str) -> PullRequest:
        """Open a pull request from branch ``head`` into ``base``."""
        payload = {"title": title, "head": check_branch(head), "base": check_branch(base), "body": body}
        repo = check_repo(repo_full_name)
        response = self.transport.request(
            "POST", f"/repos/{repo}/pulls", authorization=self._auth(), json_body=payload
        )
        return PullRequest.from_json(_object(response, "POST pulls"))

    def create_org_repo(self, org: str, name: str, *, description: str, private: bool = True) -> Repository:
        """A new repository of the org with a first commit (``auto_init``), so that branches can start."""
        body = {"name": name, "description": description, "private": private, "auto_init": True}
        check_repo(f"{org}/{name}")
        response = self.transport.request(
            "POST", f"/orgs/{check_org(org)}/repos", authorization=self._auth(), json_body=body
        )
        return Repository.from_json(_object(response, "POST /orgs/{org}/repos"))

    def update_check_run(
        self,
        repo: str,
        check_run_id: int,
        *,
        status: str | None = None,
        conclusion: str | None = None,
        output: Mapping[str, Any] | None = None,
    ) -> None:
        """Change a check run of this App (``PATCH``): a conclusion completes it; the annotations of
        ``output`` are added to those it has."""
        full = check_repo(repo)
        body: dict[str, Any] = {}
        if status is not None:
            body["status"] = status
        if conclusion is not None:
            body["status"] = "completed"
            body["conclusion"] = conclusion
        if output:
            body["output"] = _output(output)
        path = f"/repos/{full}/check-runs/{int(check_run_id)}"
        self.transport.request("PATCH", path, authorization=self._auth(), json_body=body)

    def default_branch_head(self, repo: str) -> BranchHead:
        """The repository's default branch and the commit at its head, as GitHub says now."""
        full = check_repo(repo)
        data = _json(self.transport.request("GET", f"/repos/{full}", authorization=self._auth()))
        branch = data.get("default_branch") if isinstance(data, Mapping) else None
        if not isinstance(branch, str) or not branch:
            raise GitHubRequestError(None, f"GET /repos/{full}: no default_branch in GitHub's answer")
        path = f"/repos/{full}/git/ref/heads/{quote(branch, safe='/')}"
        response = self.transport.request("GET", path, authorization=self._auth())
        return BranchHead(branch, _sha_of(response, f"GET the head of {full}'s {branch}"))

    def __repr__(self) -> str:
        return f"GitHubInstallationClient(api_url={self.transport.api_url!r})"


def check_org(login: str) -> str:
    """An org login validated (GitHub's character rules), so no path tricks reach the URL."""
    if not _ORG.match(login or ""):
        raise ConfigError(f"organisation {login!r} is not a GitHub login (letters, digits, hyphens)")
    return login


def check_branch(name: str) -> str:
    """A branch name of the safe kind (letters, digits, ``._/-``; no ``..``, ``//`` or leading ``/``)."""
    if not _BRANCH.match(name or ""):
        raise ConfigError(f"branch {name!r} is not a plain branch name")
    return name


def check_path(path: str, what: str = "path") -> str:
    """A relative file path inside a repository, without ``..``."""
    clean = (path or "").strip("/")
    if not clean or ".." in clean.split("/"):
        raise ConfigError(f"{what} {path!r} must be a relative file path inside the repository")
    return clean


def _sha_of(
    response: requests.Response,
    what: str,
    key: str = "object",
    missing: str = "no object sha in GitHub's answer",
) -> str:
    """The ``sha`` of the object under ``key`` in GitHub's answer to ``what`` (a ref's ``object``, a written
    file's ``commit``); GitHubRequestError saying ``missing`` when there is none."""
    data = _json(response)
    target = data.get(key) if isinstance(data, Mapping) else None
    sha = target.get("sha") if isinstance(target, Mapping) else None
    if not isinstance(sha, str) or not sha:
        raise GitHubRequestError(response.status_code, f"{what}: {missing}")
    return sha

@dataclass(frozen=True)
class BranchHead:
    """A repository's default branch and its head commit."""

    branch: str
    sha: str


def _output(output: Mapping[str, Any]) -> dict[str, Any]:
    """A check run's ``output`` with its texts cut at GitHub's limit."""
    return {
        key: value[:CHECK_RUN_TEXT_LIMIT] if isinstance(value, str) else value
        for key, value in output.items()
        if value is not None
    }


def check_repo(full_name: str) -> str:
    """``org/repo`` validated (GitHub's character rules), so no path tricks reach the URL."""
    if not _REPO.match(full_name or "") or full_name.split("/")[1] in (".", ".."):
        raise ConfigError(f"repository {full_name!r} is not of the form ORG/REPO")
    return full_name


def _object(response: requests.Response, what: str) -> Mapping[str, Any]:
    """The JSON object GitHub answered to ``what``; GitHubRequestError when it is not an object."""
    data = _json(response)
    if not isinstance(data, Mapping):
        raise GitHubRequestError(response.status_code, f"{what}: expected an object")
    return data


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        status = response.status_code
        raise GitHubRequestError(status, f"GitHub answered {status} without JSON") from exc
