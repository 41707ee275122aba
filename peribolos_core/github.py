"""GitHub as the App sees it (JWT: mint tokens, read installations) and as an installation sees it (token:
read a file, create a check run). Both go through the one :class:`~peribolos_core.http.Transport`.
"""

from __future__ import annotations

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
from .settings import DEFAULT_API_URL, check_installation_id

_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
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


class GitHubApp:
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
        self.clock = clock
        self.transport = Transport(
            api_url,
            session,
            timeout=timeout,
            max_retries=max_retries,
            max_rate_limit_wait=max_rate_limit_wait,
            clock=clock,
            sleep=sleep,
            hint_401=APP_401_HINT,
        )

    @property
    def api_url(self) -> str:
        return self.transport.api_url

    @property
    def request_count(self) -> int:
        """HTTP requests sent, retries included (for benchmarks)."""
        return self.transport.request_count

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


class GitHubInstallationClient:
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
        self.transport = Transport(
            api_url,
            session,
            timeout=timeout,
            max_retries=max_retries,
            clock=clock,
            sleep=sleep,
            hint_401=TOKEN_401_HINT,
        )

    @property
    def request_count(self) -> int:
        return self.transport.request_count

    def _auth(self) -> str:
        return f"token {self._token}"

    def get_file(self, repo_full_name: str, path: str, ref: str) -> bytes:
        """The raw bytes of ``path`` in ``repo_full_name`` ("org/repo") at ``ref`` (a SHA, branch or tag)."""
        repo = check_repo(repo_full_name)
        clean = path.strip("/")
        if not clean or ".." in clean.split("/"):
            raise ConfigError(f"config path {path!r} must be a relative file path inside the repository")
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
        ref = _json(self.transport.request(
            "GET", f"/repos/{full}/git/ref/heads/{quote(branch, safe='/')}", authorization=self._auth()
        ))
        sha = (ref.get("object") or {}).get("sha") if isinstance(ref, Mapping) else None
        if not isinstance(sha, str) or not sha:
            raise GitHubRequestError(None, f"GET the head of {full}'s {branch}: no commit in GitHub's answer")
        return BranchHead(branch, sha)

    def __repr__(self) -> str:
        return f"GitHubInstallationClient(api_url={self.transport.api_url!r})"


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


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        status = response.status_code
        raise GitHubRequestError(status, f"GitHub answered {status} without JSON") from exc
