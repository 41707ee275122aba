"""The state the fake keeps, as plain dataclasses: Apps, installations, accounts (orgs and users) with
members and teams, repositories with commits on branches, check runs, pull requests and tokens.

GitHub's JSON shapes are made from these in :mod:`.shapes`; the rules that change them live in the routes
and in :mod:`.state`. Names follow GitHub's (``login``, ``slug``, ``head_sha``...).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PERMISSIONS = {
    "administration": "write",
    "members": "write",
    "organization_administration": "write",
    "contents": "read",
    "checks": "write",
    "metadata": "read",
    "pull_requests": "read",
}
"""What a test installation grants unless told otherwise (the generator's App manifest with every
``--fix-*`` flag on)."""
DEFAULT_EVENTS = ("installation", "push", "pull_request", "check_run")
CREATED_AT = 1704164645.0
"""2024-01-02T03:04:05Z: when every fixture object was created (answers stay stable across runs)."""
TEAM_PERMISSIONS = ("pull", "triage", "push", "maintain", "admin")
"""Team/collaborator repository permissions, weakest first; a level implies the ones before it."""
ROLE_NAMES = {"pull": "read", "triage": "triage", "push": "write", "maintain": "maintain", "admin": "admin"}
"""The REST ``permission`` names and the ``role_name`` GitHub shows for them."""


def stable_id(text: str, base: int = 10_000_000) -> int:
    """A positive id derived from ``text`` (case-insensitive), the same in every run."""
    return base + zlib.crc32(text.lower().encode()) % 90_000_000


def role_among(login: str, roles: Iterable[tuple[str, set[str]]]) -> str | None:
    """The first role whose logins hold ``login``, compared case-insensitively as GitHub does."""
    wanted = login.lower()
    return next((role for role, logins in roles if any(x.lower() == wanted for x in logins)), None)


def slugify(name: str) -> str:
    """GitHub's slug of an App or team name: lower case, runs of other characters become one ``-``."""
    return re.sub(r"[^a-z0-9_]+", "-", name.lower()).strip("-")


def git_blob_sha(data: bytes) -> str:
    """The git object id of a blob holding ``data``, as ``git hash-object`` prints it."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class App:
    """A GitHub App: the one the fake is built for, or one created through the manifest flow."""

    id: int
    slug: str
    name: str
    client_id: str | None
    public_keys: list[Any]
    owner_login: str = "peribolos-dev"
    """The account that registered the App (not one of its installations)."""
    description: str | None = "Manages GitHub organisations as code"
    external_url: str = "https://peribolos.example.com"
    permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))
    events: list[str] = field(default_factory=lambda: list(DEFAULT_EVENTS))
    created_at: float = CREATED_AT


@dataclass
class FakeInstallation:
    """An installation of an App on an account. ``repository_ids`` None: all of the account's repos."""

    id: int
    account_login: str
    account_type: str = "Organization"
    account_id: int = 0
    suspended: bool = False
    permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))
    repository_selection: str = "all"
    selected_repositories: set[str] = field(default_factory=set)
    """Lower-case names of the repositories a ``selected`` installation can reach."""
    app_id: int = 0
    events: list[str] = field(default_factory=lambda: list(DEFAULT_EVENTS))

    def __post_init__(self) -> None:
        if not self.account_id:
            self.account_id = 1000 + self.id

    def can_reach(self, repo_name: str) -> bool:
        return self.repository_selection == "all" or repo_name.lower() in self.selected_repositories


@dataclass
class FakeTeam:
    """A team of an org; ``repos`` maps repository name to permission (pull, triage, push, maintain,
    admin); ``parent`` is the parent team's slug."""

    id: int
    name: str
    slug: str
    description: str = ""
    privacy: str = "closed"
    maintainers: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    repos: dict[str, str] = field(default_factory=dict)
    parent: str | None = None
    notification_setting: str = "notifications_enabled"
    invitations: set[str] = field(default_factory=set)
    """Logins invited to the org through this team (pending)."""

    def role_of(self, login: str) -> str | None:
        """``maintainer``, ``member`` or None."""
        return role_among(login, (("maintainer", self.maintainers), ("member", self.members)))


@dataclass
class FakeOrg:
    """An account: an organisation (members, teams, repositories) or a user (repositories only).

    ``invitations`` maps login to the invitation's role (``direct_member``, ``admin``)."""

    login: str
    id: int
    admins: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    invitations: dict[str, str] = field(default_factory=dict)
    teams: dict[str, FakeTeam] = field(default_factory=dict)
    """By slug."""
    type: str = "Organization"
    name: str | None = None
    company: str = ""
    blog: str = ""
    location: str = ""
    email: str = ""
    billing_email: str = ""
    description: str = ""
    has_organization_projects: bool = True
    has_repository_projects: bool = True
    default_repository_permission: str = "read"
    members_can_create_repositories: bool = True
    repos: dict[str, Repo] = field(default_factory=dict)
    """By lower-case name."""
    created_at: float = CREATED_AT

    def role_of(self, login: str) -> str | None:
        """``admin``, ``member`` or None."""
        return role_among(login, (("admin", self.admins), ("member", self.members)))

    def team_by_id(self, team_id: int) -> FakeTeam | None:
        return next((t for t in self.teams.values() if t.id == team_id), None)


@dataclass
class Commit:
    """A commit: the whole tree (path -> bytes) at that commit, its parents and message."""

    sha: str
    tree: dict[str, bytes]
    parents: list[str]
    message: str
    author: str
    timestamp: float


@dataclass
class RepoInvitation:
    id: int
    login: str
    permission: str
    created_at: float


@dataclass
class Repo:
    """A repository with its settings, commits, branches (name -> head SHA), collaborators and invites."""

    owner: str
    name: str
    id: int
    private: bool = True
    description: str | None = None
    homepage: str | None = None
    has_issues: bool = True
    has_projects: bool = True
    has_wiki: bool = True
    allow_merge_commit: bool = True
    allow_squash_merge: bool = True
    allow_rebase_merge: bool = True
    squash_merge_commit_title: str = "COMMIT_OR_PR_TITLE"
    squash_merge_commit_message: str = "COMMIT_MESSAGES"
    archived: bool = False
    default_branch: str = "main"
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    collaborators: dict[str, str] = field(default_factory=dict)
    """Direct collaborators: login -> permission (pull, triage, push, maintain, admin)."""
    invitations: dict[int, RepoInvitation] = field(default_factory=dict)
    created_at: float = CREATED_AT
    pushed_at: float | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def visibility(self) -> str:
        return "private" if self.private else "public"

    def resolve(self, ref: str) -> Commit | None:
        """The commit ``ref`` names: a branch (``main``, ``refs/heads/main``, ``heads/main``) or a SHA (full,
        or an unambiguous prefix of at least 7 hex digits)."""
        for prefix in ("refs/heads/", "heads/"):
            if ref.startswith(prefix):
                ref = ref[len(prefix) :]
                break
        if ref in self.branches:
            return self.commits[self.branches[ref]]
        if ref in self.commits:
            return self.commits[ref]
        if len(ref) >= 7 and all(c in "0123456789abcdef" for c in ref):
            found = [c for sha, c in self.commits.items() if sha.startswith(ref)]
            if len(found) == 1:
                return found[0]
        return None


@dataclass
class Annotation:
    path: str
    start_line: int
    end_line: int
    annotation_level: str
    message: str
    start_column: int | None = None
    end_column: int | None = None
    title: str | None = None
    raw_details: str | None = None


@dataclass
class CheckRun:
    """A check run as an App reported it; ``repo`` is ``owner/name``."""

    id: int
    repo: str
    head_sha: str
    name: str
    app_id: int
    check_suite_id: int
    status: str = "queued"
    conclusion: str | None = None
    started_at: float | None = None
    completed_at: float | None = None
    details_url: str | None = None
    external_id: str | None = None
    title: str | None = None
    summary: str | None = None
    text: str | None = None
    annotations: list[Annotation] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Pull:
    """A pull request of ``repo`` (``owner/name``) from ``head`` (a branch of the same repo) to ``base``."""

    number: int
    id: int
    repo: str
    title: str
    body: str | None
    head: str
    head_sha: str
    base: str
    base_sha: str
    user: str
    draft: bool = False
    state: str = "open"
    created_at: float = CREATED_AT
    updated_at: float = CREATED_AT
    closed_at: float | None = None
    merged_at: float | None = None


@dataclass
class Token:
    """An installation token as the fake remembers it: what it may reach and until when."""

    installation_id: int
    expires_at: float
    permissions: dict[str, str]
    repositories: frozenset[str] | None
    """Lower-case names of the repositories the token is limited to; None: all the installation reaches."""
    number: int
    """1 for the first token minted by this fake, 2 for the next... (for per-token request counts)."""


@dataclass
class ManifestCode:
    """A code GitHub hands to the manifest flow's redirect: converted once, within an hour."""

    manifest: dict[str, Any]
    created_at: float
    owner_login: str
    used: bool = False
