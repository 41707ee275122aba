"""All the fake knows, behind one lock, and the changes that both routes and test helpers make (pushing a
commit, setting an org membership...), so each rule exists once.

Callers hold :attr:`GitHubState.lock` (re-entrant) around any read-modify-write; the router does so for
every route.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes.github.models import (
    App,
    CheckRun,
    Commit,
    FakeInstallation,
    FakeOrg,
    FakeTeam,
    ManifestCode,
    Pull,
    Repo,
    Token,
    slugify,
    stable_id,
)
from tests.fakes.github.replies import iso
from tests.fakes.github.shapes import tree_sha

ZERO_SHA = "0" * 40
"""What a push webhook carries as ``before`` when the branch is new."""


@dataclass(frozen=True)
class Push:
    """What a push of one commit changed: a webhook's ``ref``, ``before`` and ``after``, and the paths."""

    repo: str
    ref: str
    before: str
    after: str
    added: tuple[str, ...]
    modified: tuple[str, ...]
    removed: tuple[str, ...]
    message: str = ""
    timestamp: float = 0.0

    def webhook_fields(self) -> dict[str, Any]:
        """The part of a ``push`` webhook this push decides: ``ref``, ``before``, ``after``, ``created``,
        ``commits`` (one) and ``head_commit``; the rest (repository, sender...) is the test's."""
        commit = {
            "id": self.after,
            "distinct": True,
            "message": self.message,
            "timestamp": iso(self.timestamp),
            "added": list(self.added),
            "removed": list(self.removed),
            "modified": list(self.modified),
        }
        return {
            "ref": self.ref,
            "before": self.before,
            "after": self.after,
            "created": self.before == ZERO_SHA,
            "deleted": False,
            "forced": False,
            "commits": [commit],
            "head_commit": commit,
        }


def is_sha(ref: str) -> bool:
    return len(ref) == 40 and all(c in "0123456789abcdef" for c in ref)


class GitHubState:
    """Apps, installations, accounts, repositories, tokens, check runs, pulls and manifest codes."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.apps: dict[int, App] = {}
        self.installations: dict[int, FakeInstallation] = {}
        self.accounts: dict[str, FakeOrg] = {}
        """By lower-case login."""
        self.tokens: dict[str, Token] = {}
        self.check_runs: dict[int, CheckRun] = {}
        self.check_suites: dict[tuple[str, str, int], int] = {}
        self.pulls: dict[str, list[Pull]] = {}
        """By lower-case ``owner/name``."""
        self.manifest_codes: dict[str, ManifestCode] = {}
        self._ids: dict[str, itertools.count[int]] = {}
        self._commits = itertools.count(1)

    def next_id(self, kind: str) -> int:
        """A fresh id of a kind (``check_run``, ``repo``, ``pull``...): 1, 2, 3... per kind."""
        with self.lock:
            return next(self._ids.setdefault(kind, itertools.count(1)))

    def new_team_id(self) -> int:
        """Team ids far above the small ones tests give their ``FakeTeam`` objects."""
        return 2_000_000 + self.next_id("team")

    # -- accounts and repositories ---------------------------------------------------------------------
    def account(self, login: str) -> FakeOrg | None:
        return self.accounts.get(login.lower())

    def org(self, login: str) -> FakeOrg | None:
        """An organisation account (users have no ``/orgs/...``)."""
        found = self.accounts.get(login.lower())
        return found if found is not None and found.type == "Organization" else None

    def ensure_account(self, login: str, type_: str = "Organization", id_: int | None = None) -> FakeOrg:
        with self.lock:
            found = self.accounts.get(login.lower())
            if found is None:
                found = FakeOrg(login, id_ or stable_id(login, 5_000_000), type=type_)
                self.accounts[login.lower()] = found
            return found

    def repo(self, owner: str, name: str) -> Repo | None:
        found = self.accounts.get(owner.lower())
        return found.repos.get(name.lower()) if found else None

    def create_repo(self, owner: str, name: str, auto_init: bool = False, **settings: object) -> Repo:
        """A new repository (empty, or with one commit holding a README when ``auto_init``)."""
        with self.lock:
            account = self.ensure_account(owner)
            repo = Repo(account.login, name, 100_000 + self.next_id("repo"), created_at=self.clock())
            for key, value in settings.items():
                setattr(repo, key, value)
            account.repos[name.lower()] = repo
            if auto_init:
                self.push(repo, repo.default_branch, {"README.md": f"# {name}\n".encode()}, "Initial commit")
            return repo

    def ensure_repo(self, full_name: str) -> Repo:
        owner, _, name = full_name.partition("/")
        with self.lock:
            return self.repo(owner, name) or self.create_repo(owner, name)

    # -- commits ---------------------------------------------------------------------------------------
    def commit(
        self,
        repo: Repo,
        tree: Mapping[str, bytes],
        parents: list[str],
        message: str,
        author: str = "octocat",
        sha: str | None = None,
    ) -> Commit:
        """Store a new commit (a fresh SHA unless one is given)."""
        with self.lock:
            if sha is None:
                seed = f"{repo.full_name}\n{parents}\n{tree_sha(tree)}\n{message}\n{next(self._commits)}"
                sha = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()
            made = Commit(sha, dict(tree), list(parents), message, author, self.clock())
            repo.commits[sha] = made
            return made

    def push(
        self,
        repo: Repo,
        branch: str,
        changes: Mapping[str, bytes | None],
        message: str,
        author: str = "octocat",
    ) -> Push:
        """One commit on ``branch`` (created from nothing if missing) setting or (``None``) deleting files."""
        with self.lock:
            before = repo.branches.get(branch)
            tree = dict(repo.commits[before].tree) if before else {}
            added, modified, removed = [], [], []
            for path, data in changes.items():
                clean = path.strip("/")
                if data is None:
                    if tree.pop(clean, None) is not None:
                        removed.append(clean)
                    continue
                (modified if clean in tree else added).append(clean)
                tree[clean] = data
            made = self.commit(repo, tree, [before] if before else [], message, author)
            repo.branches[branch] = made.sha
            repo.pushed_at = made.timestamp
            self.move_pulls(repo, branch)
            return Push(
                repo.full_name,
                f"refs/heads/{branch}",
                before or ZERO_SHA,
                made.sha,
                tuple(added),
                tuple(modified),
                tuple(removed),
                message,
                made.timestamp,
            )

    def move_pulls(self, repo: Repo, branch: str) -> None:
        """Open pull requests from ``branch`` follow its new head."""
        with self.lock:
            for pull in self.pulls.get(repo.full_name.lower(), []):
                if pull.state == "open" and pull.head == branch:
                    pull.head_sha = repo.branches[branch]
                    pull.updated_at = self.clock()

    def pin_file(self, repo: Repo, sha: str, path: str, data: bytes) -> None:
        """Make commit ``sha`` (created if unknown, without parents) hold ``path``: a test pinning content
        at a revision a webhook names."""
        with self.lock:
            found = repo.commits.get(sha) or self.commit(repo, {}, [], f"commit {sha[:7]}", sha=sha)
            found.tree[path.strip("/")] = data

    # -- org membership --------------------------------------------------------------------------------
    def set_membership(self, org: FakeOrg, login: str, role: str) -> str:
        """``PUT /orgs/{org}/memberships/{username}``: members change role at once (``active``); others get
        an invitation (``pending``) with that role, as on GitHub."""
        with self.lock:
            current = org.role_of(login)
            if current is not None:
                name = _spelled(org.admins | org.members, login)
                org.admins.discard(name)
                org.members.discard(name)
                (org.admins if role == "admin" else org.members).add(name)
                return "active"
            org.invitations[login] = "admin" if role == "admin" else "direct_member"
            return "pending"

    def remove_membership(self, org: FakeOrg, login: str) -> bool:
        """Remove a member or cancel an invitation; also drops them from every team. False: neither."""
        with self.lock:
            name = _spelled(org.admins | org.members | set(org.invitations), login)
            found = name in org.admins | org.members or name in org.invitations
            org.admins.discard(name)
            org.members.discard(name)
            org.invitations.pop(name, None)
            for team in org.teams.values():
                team.members.discard(name)
                team.maintainers.discard(name)
            return found

    # -- teams -----------------------------------------------------------------------------------------
    @staticmethod
    def team_descendants(org: FakeOrg, slug: str) -> set[str]:
        """The slugs of every team below ``slug`` (children, their children...)."""
        found: set[str] = set()
        todo = [slug]
        while todo:
            parent = todo.pop()
            children = {t.slug for t in org.teams.values() if t.parent == parent} - found
            found |= children
            todo.extend(children)
        return found

    def rename_team(self, org: FakeOrg, team: FakeTeam, name: str) -> None:
        """A new name, and the slug from it (child teams follow), as GitHub renames."""
        with self.lock:
            old = team.slug
            team.name, team.slug = name, slugify(name)
            org.teams[team.slug] = org.teams.pop(old)
            for child in org.teams.values():
                if child.parent == old:
                    child.parent = team.slug

    def delete_team(self, org: FakeOrg, slug: str) -> None:
        """Deleting a team deletes its child teams too."""
        with self.lock:
            for gone in self.team_descendants(org, slug) | {slug}:
                org.teams.pop(gone, None)

    def check_suite_id(self, repo: str, head_sha: str, app_id: int) -> int:
        """One check suite per repository, commit and App."""
        with self.lock:
            key = (repo.lower(), head_sha, app_id)
            if key not in self.check_suites:
                self.check_suites[key] = 7_000_000 + self.next_id("check_suite")
            return self.check_suites[key]


def _spelled(logins: set[str], login: str) -> str:
    """``login`` as the set spells it (GitHub logins are case-insensitive), else as given."""
    return next((x for x in logins if x.lower() == login.lower()), login)
