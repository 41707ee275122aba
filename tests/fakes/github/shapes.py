"""GitHub's JSON shapes, made from the fake's models: pure functions, no state and no I/O.

Each function is named after the OpenAPI component it produces (``simple-user`` -> :func:`simple_user`);
``tests/fakes/test_github_shapes.py`` validates every answer against GitHub's own description. ``Urls``
holds the API base (``http://127.0.0.1:PORT[/api/v3]``) and the web base that ``html_url``s point at
(the fake's root, as on GitHub Enterprise Server, so no link leads off the machine).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tests.fakes.github.models import (
    ROLE_NAMES,
    TEAM_PERMISSIONS,
    Annotation,
    App,
    CheckRun,
    Commit,
    FakeInstallation,
    FakeOrg,
    FakeTeam,
    Pull,
    Repo,
    RepoInvitation,
    git_blob_sha,
    stable_id,
)
from tests.fakes.github.replies import iso


@dataclass(frozen=True)
class Urls:
    api: str
    web: str


def node_id(kind: str, number: int) -> str:
    """An opaque global id of GitHub's current form (``U_kgDO...``), stable for ``(kind, number)``."""
    return f"{kind}_kgDO" + base64.b64encode(number.to_bytes(8, "big")).decode().rstrip("=")


def simple_user(login: str, urls: Urls, type_: str = "User", id_: int | None = None) -> dict[str, Any]:
    """``simple-user``: every required field, for a user or an organisation account."""
    number = id_ if id_ is not None else stable_id(login)
    api = f"{urls.api}/users/{login}"
    return {
        "login": login,
        "id": number,
        "node_id": node_id("O" if type_ == "Organization" else "U", number),
        "avatar_url": f"{urls.web}/avatars/u/{number}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{urls.web}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": type_,
        "site_admin": False,
    }


def account(org: FakeOrg, urls: Urls) -> dict[str, Any]:
    """An account (installation ``account``, repository ``owner``) as ``simple-user``."""
    return simple_user(org.login, urls, org.type, org.id)


def organization_simple(org: FakeOrg, urls: Urls) -> dict[str, Any]:
    api = f"{urls.api}/orgs/{org.login}"
    return {
        "login": org.login,
        "id": org.id,
        "node_id": node_id("O", org.id),
        "url": api,
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events",
        "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues",
        "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": f"{urls.web}/avatars/u/{org.id}?v=4",
        "description": org.description,
    }


def organization_full(org: FakeOrg, urls: Urls) -> dict[str, Any]:
    private = sum(r.private for r in org.repos.values())
    return {
        **organization_simple(org, urls),
        "name": org.name if org.name is not None else org.login,
        "company": org.company,
        "blog": org.blog,
        "location": org.location,
        "email": org.email,
        "twitter_username": None,
        "is_verified": False,
        "has_organization_projects": org.has_organization_projects,
        "has_repository_projects": org.has_repository_projects,
        "public_repos": len(org.repos) - private,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "html_url": f"{urls.web}/{org.login}",
        "type": "Organization",
        "total_private_repos": private,
        "owned_private_repos": private,
        "private_gists": 0,
        "disk_usage": 0,
        "collaborators": 0,
        "billing_email": org.billing_email,
        "default_repository_permission": org.default_repository_permission,
        "members_can_create_repositories": org.members_can_create_repositories,
        "two_factor_requirement_enabled": False,
        "members_allowed_repository_creation_type": "all" if org.members_can_create_repositories else "none",
        "members_can_create_public_repositories": org.members_can_create_repositories,
        "members_can_create_private_repositories": org.members_can_create_repositories,
        "members_can_create_internal_repositories": False,
        "members_can_fork_private_repositories": False,
        "web_commit_signoff_required": False,
        "created_at": iso(org.created_at),
        "updated_at": iso(org.created_at),
        "archived_at": None,
    }


def integration(app: App, urls: Urls) -> dict[str, Any]:
    """``integration``: an App as ``GET /app`` and check runs show it."""
    return {
        "id": app.id,
        "slug": app.slug,
        "node_id": node_id("A", app.id),
        "client_id": app.client_id or f"Iv1.{app.id:016x}",
        "owner": simple_user(app.owner_login, urls, "Organization"),
        "name": app.name,
        "description": app.description,
        "external_url": app.external_url,
        "html_url": f"{urls.web}/apps/{app.slug}",
        "created_at": iso(app.created_at),
        "updated_at": iso(app.created_at),
        "permissions": dict(app.permissions),
        "events": list(app.events),
    }


def installation(inst: FakeInstallation, app: App, org: FakeOrg, urls: Urls) -> dict[str, Any]:
    settings = (
        f"{urls.web}/organizations/{org.login}/settings/installations/{inst.id}"
        if org.type == "Organization"
        else f"{urls.web}/settings/installations/{inst.id}"
    )
    return {
        "id": inst.id,
        "account": account(org, urls),
        "repository_selection": inst.repository_selection,
        "access_tokens_url": f"{urls.api}/app/installations/{inst.id}/access_tokens",
        "repositories_url": f"{urls.api}/installation/repositories",
        "html_url": settings,
        "app_id": app.id,
        "app_slug": app.slug,
        "target_id": org.id,
        "target_type": org.type,
        "permissions": dict(inst.permissions),
        "events": list(inst.events),
        "created_at": "2024-01-02T03:04:05Z",
        "updated_at": "2024-01-02T03:04:05Z",
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": simple_user("octocat", urls) if inst.suspended else None,
        "suspended_at": "2024-02-03T04:05:06Z" if inst.suspended else None,
    }


def _team_base(team: FakeTeam, org: FakeOrg, urls: Urls) -> dict[str, Any]:
    api = f"{urls.api}/organizations/{org.id}/team/{team.id}"
    return {
        "id": team.id,
        "node_id": node_id("T", team.id),
        "url": api,
        "html_url": f"{urls.web}/orgs/{org.login}/teams/{team.slug}",
        "name": team.name,
        "slug": team.slug,
        "description": team.description,
        "privacy": team.privacy,
        "notification_setting": team.notification_setting,
        "permission": "pull",
        "members_url": f"{api}/members{{/member}}",
        "repositories_url": f"{api}/repos",
    }


def team(team_: FakeTeam, org: FakeOrg, urls: Urls) -> dict[str, Any]:
    """``team``, with its parent as ``team-simple`` (or null)."""
    parent = org.teams.get(team_.parent) if team_.parent else None
    return {**_team_base(team_, org, urls), "parent": _team_base(parent, org, urls) if parent else None}


def team_full(team_: FakeTeam, org: FakeOrg, urls: Urls) -> dict[str, Any]:
    """``team-full``: what creating, editing or getting one team answers."""
    return {
        **team(team_, org, urls),
        "members_count": len(team_.members | team_.maintainers),
        "repos_count": len(team_.repos),
        "created_at": iso(org.created_at),
        "updated_at": iso(org.created_at),
        "organization": organization_full(org, urls),
    }


def permission_flags(permission: str) -> dict[str, bool]:
    """``{pull, triage, push, maintain, admin}`` for a level: each level implies the weaker ones."""
    rank = TEAM_PERMISSIONS.index(permission) if permission in TEAM_PERMISSIONS else 0
    return {p: i <= rank for i, p in enumerate(TEAM_PERMISSIONS)}


def _repo_urls(repo: Repo, urls: Urls) -> dict[str, str]:
    api = f"{urls.api}/repos/{repo.full_name}"
    host = urls.web.split("://", 1)[-1]
    return {
        "url": api,
        "html_url": f"{urls.web}/{repo.full_name}",
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "assignees_url": f"{api}/assignees{{/user}}",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "comments_url": f"{api}/comments{{/number}}",
        "commits_url": f"{api}/commits{{/sha}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "contributors_url": f"{api}/contributors",
        "deployments_url": f"{api}/deployments",
        "downloads_url": f"{api}/downloads",
        "events_url": f"{api}/events",
        "forks_url": f"{api}/forks",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_url": f"git://{host}/{repo.full_name}.git",
        "hooks_url": f"{api}/hooks",
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "issues_url": f"{api}/issues{{/number}}",
        "keys_url": f"{api}/keys{{/key_id}}",
        "labels_url": f"{api}/labels{{/name}}",
        "languages_url": f"{api}/languages",
        "merges_url": f"{api}/merges",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "releases_url": f"{api}/releases{{/id}}",
        "ssh_url": f"git@{host}:{repo.full_name}.git",
        "stargazers_url": f"{api}/stargazers",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "tags_url": f"{api}/tags",
        "teams_url": f"{api}/teams",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "clone_url": f"{urls.web}/{repo.full_name}.git",
        "svn_url": f"{urls.web}/{repo.full_name}",
    }


def minimal_repository(
    repo: Repo, owner: FakeOrg, urls: Urls, permission: str | None = None
) -> dict[str, Any]:
    """``minimal-repository``; with ``permission`` (a team's or the caller's), ``permissions`` and
    ``role_name`` as team-repository lists show them."""
    out: dict[str, Any] = {
        "id": repo.id,
        "node_id": node_id("R", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "owner": account(owner, urls),
        "private": repo.private,
        "description": repo.description,
        "fork": False,
        **_repo_urls(repo, urls),
        "mirror_url": None,
        "homepage": repo.homepage,
        "language": None,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "size": sum(len(d) for d in _head_tree(repo).values()) // 1024,
        "default_branch": repo.default_branch,
        "open_issues_count": 0,
        "is_template": False,
        "topics": [],
        "has_issues": repo.has_issues,
        "has_projects": repo.has_projects,
        "has_wiki": repo.has_wiki,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": repo.archived,
        "disabled": False,
        "visibility": repo.visibility,
        "pushed_at": iso(repo.pushed_at) if repo.pushed_at else None,
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.pushed_at or repo.created_at),
        "allow_forking": True,
        "web_commit_signoff_required": False,
        "forks": 0,
        "open_issues": 0,
        "watchers": 0,
        "license": None,
    }
    if permission is not None:
        out["permissions"] = permission_flags(permission)
        out["role_name"] = ROLE_NAMES.get(permission, permission)
    return out


def repository(repo: Repo, owner: FakeOrg, urls: Urls, permission: str | None = None) -> dict[str, Any]:
    """``full-repository`` (``GET /repos/{owner}/{repo}``, create and edit answers)."""
    return {
        **minimal_repository(repo, owner, urls, permission),
        "allow_merge_commit": repo.allow_merge_commit,
        "allow_squash_merge": repo.allow_squash_merge,
        "allow_rebase_merge": repo.allow_rebase_merge,
        "allow_auto_merge": False,
        "delete_branch_on_merge": False,
        "allow_update_branch": False,
        "use_squash_pr_title_as_default": False,
        "squash_merge_commit_title": repo.squash_merge_commit_title,
        "squash_merge_commit_message": repo.squash_merge_commit_message,
        "merge_commit_title": "MERGE_MESSAGE",
        "merge_commit_message": "PR_TITLE",
        "network_count": 0,
        "subscribers_count": 0,
        **({"organization": account(owner, urls)} if owner.type == "Organization" else {}),
    }


def _head_tree(repo: Repo) -> dict[str, bytes]:
    sha = repo.branches.get(repo.default_branch)
    return repo.commits[sha].tree if sha else {}


def tree_sha(tree: Mapping[str, bytes]) -> str:
    """A stable id for a tree (not git's tree hash, which needs every subtree; unique per content)."""
    digest = hashlib.sha1(usedforsecurity=False)
    for path in sorted(tree):
        digest.update(f"{path}\0{git_blob_sha(tree[path])}\n".encode())
    return digest.hexdigest()


def _content_urls(repo: Repo, ref: str, path: str, sha: str, kind: str, urls: Urls) -> dict[str, Any]:
    api = f"{urls.api}/repos/{repo.full_name}"
    self_url = f"{api}/contents/{quote(path)}?ref={quote(ref, safe='')}"
    git_url = f"{api}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
    html = f"{urls.web}/{repo.full_name}/{'blob' if kind == 'file' else 'tree'}/{ref}/{path}"
    return {
        "url": self_url,
        "git_url": git_url,
        "html_url": html,
        "download_url": f"{urls.web}/raw/{repo.full_name}/{ref}/{path}" if kind == "file" else None,
        "_links": {"self": self_url, "git": git_url, "html": html},
    }


def content_file(repo: Repo, ref: str, path: str, data: bytes, urls: Urls) -> dict[str, Any]:
    """``content-file``: a file at ``ref`` with its content in base64 (76-character lines, as GitHub)."""
    sha = git_blob_sha(data)
    return {
        "type": "file",
        "encoding": "base64",
        "size": len(data),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "content": base64.encodebytes(data).decode(),
        "sha": sha,
        **_content_urls(repo, ref, path, sha, "file", urls),
    }


def content_entry(repo: Repo, ref: str, path: str, tree: Mapping[str, bytes], urls: Urls) -> dict[str, Any]:
    """One entry of a directory listing (``content-directory`` items): a file or a sub-directory."""
    if path in tree:
        sha, kind, size = git_blob_sha(tree[path]), "file", len(tree[path])
    else:
        below = {p: d for p, d in tree.items() if p.startswith(path + "/")}
        sha, kind, size = tree_sha(below), "dir", 0
    return {
        "type": kind,
        "size": size,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        **_content_urls(repo, ref, path, sha, kind, urls),
    }


def git_user(login: str, timestamp: float) -> dict[str, Any]:
    return {"name": login, "email": f"{login}@users.noreply.example.com", "date": iso(timestamp)}


def commit_files(commit: Commit, parent: Commit | None, repo: Repo, urls: Urls) -> list[dict[str, Any]]:
    """The files a commit changed against its first parent (``added``, ``modified``, ``removed``)."""
    before = parent.tree if parent else {}
    out = []
    for path in sorted(set(before) | set(commit.tree)):
        old, new = before.get(path), commit.tree.get(path)
        if old == new:
            continue
        status = "added" if old is None else "removed" if new is None else "modified"
        data = new if new is not None else old or b""
        added = 0 if new is None else new.count(b"\n") + (not new.endswith(b"\n") and bool(new))
        removed = 0 if old is None else old.count(b"\n") + (not old.endswith(b"\n") and bool(old))
        out.append(
            {
                "sha": git_blob_sha(data),
                "filename": path,
                "status": status,
                "additions": added,
                "deletions": removed,
                "changes": added + removed,
                "blob_url": f"{urls.web}/{repo.full_name}/blob/{commit.sha}/{path}",
                "raw_url": f"{urls.web}/{repo.full_name}/raw/{commit.sha}/{path}",
                "contents_url": f"{urls.api}/repos/{repo.full_name}/contents/{quote(path)}?ref={commit.sha}",
            }
        )
    return out


UNSIGNED = {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None}


def _git_fields(commit_: Commit, repo: Repo, urls: Urls) -> dict[str, Any]:
    """What a git commit object says: author, committer, message, tree, its URL, its (missing) signature."""
    api = f"{urls.api}/repos/{repo.full_name}"
    tree = tree_sha(commit_.tree)
    return {
        "author": git_user(commit_.author, commit_.timestamp),
        "committer": git_user(commit_.author, commit_.timestamp),
        "message": commit_.message,
        "tree": {"sha": tree, "url": f"{api}/git/trees/{tree}"},
        "url": f"{api}/git/commits/{commit_.sha}",
        "verification": dict(UNSIGNED),
    }


def _parents(commit_: Commit, repo: Repo, urls: Urls, kind: str) -> list[dict[str, str]]:
    api = f"{urls.api}/repos/{repo.full_name}/{kind}"
    return [
        {"sha": p, "url": f"{api}/{p}", "html_url": f"{urls.web}/{repo.full_name}/commit/{p}"}
        for p in commit_.parents
    ]


def commit(commit_: Commit, repo: Repo, urls: Urls, parent: Commit | None = None) -> dict[str, Any]:
    """``commit`` (``GET /repos/{owner}/{repo}/commits/{ref}``), with the files it changed."""
    api = f"{urls.api}/repos/{repo.full_name}"
    files = commit_files(commit_, parent, repo, urls)
    additions = sum(f["additions"] for f in files)
    deletions = sum(f["deletions"] for f in files)
    who = simple_user(commit_.author, urls)
    return {
        "sha": commit_.sha,
        "node_id": node_id("C", int(commit_.sha[:12], 16)),
        "commit": {**_git_fields(commit_, repo, urls), "comment_count": 0},
        "url": f"{api}/commits/{commit_.sha}",
        "html_url": f"{urls.web}/{repo.full_name}/commit/{commit_.sha}",
        "comments_url": f"{api}/commits/{commit_.sha}/comments",
        "author": who,
        "committer": who,
        "parents": _parents(commit_, repo, urls, "commits"),
        "stats": {"additions": additions, "deletions": deletions, "total": additions + deletions},
        "files": files,
    }


def git_commit(commit_: Commit, repo: Repo, urls: Urls) -> dict[str, Any]:
    """``git-commit`` (what ``PUT contents`` answers with as ``commit``)."""
    return {
        "sha": commit_.sha,
        "node_id": node_id("C", int(commit_.sha[:12], 16)),
        "html_url": f"{urls.web}/{repo.full_name}/commit/{commit_.sha}",
        **_git_fields(commit_, repo, urls),
        "parents": _parents(commit_, repo, urls, "git/commits"),
    }


def git_ref(repo: Repo, branch: str, urls: Urls) -> dict[str, Any]:
    """``git-ref`` of a branch."""
    api = f"{urls.api}/repos/{repo.full_name}"
    sha = repo.branches[branch]
    return {
        "ref": f"refs/heads/{branch}",
        "node_id": node_id("REF", stable_id(f"{repo.full_name}:{branch}")),
        "url": f"{api}/git/refs/heads/{branch}",
        "object": {"type": "commit", "sha": sha, "url": f"{api}/git/commits/{sha}"},
    }


def branch(repo: Repo, name: str, urls: Urls) -> dict[str, Any]:
    """``branch-with-protection`` (``GET /repos/{owner}/{repo}/branches/{branch}``)."""
    api = f"{urls.api}/repos/{repo.full_name}"
    head = repo.commits[repo.branches[name]]
    parent = repo.commits.get(head.parents[0]) if head.parents else None
    return {
        "name": name,
        "commit": commit(head, repo, urls, parent),
        "_links": {"self": f"{api}/branches/{name}", "html": f"{urls.web}/{repo.full_name}/tree/{name}"},
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{api}/branches/{name}/protection",
    }


def check_run(
    run: CheckRun, app: App, urls: Urls, pulls: Iterable[Pull] = (), repo_id: int = 0
) -> dict[str, Any]:
    """``check-run``: with its App, check suite, the open pull requests of its head and the output."""
    api = f"{urls.api}/repos/{run.repo}/check-runs/{run.id}"
    return {
        "id": run.id,
        "node_id": node_id("CR", run.id),
        "head_sha": run.head_sha,
        "external_id": run.external_id or "",
        "url": api,
        "html_url": f"{urls.web}/{run.repo}/runs/{run.id}",
        "details_url": run.details_url or app.external_url,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": iso(run.started_at) if run.started_at else None,
        "completed_at": iso(run.completed_at) if run.completed_at else None,
        "output": {
            "title": run.title,
            "summary": run.summary,
            "text": run.text,
            "annotations_count": len(run.annotations),
            "annotations_url": f"{api}/annotations",
        },
        "name": run.name,
        "check_suite": {"id": run.check_suite_id},
        "app": integration(app, urls),
        "pull_requests": [pull_request_minimal(p, urls, repo_id) for p in pulls],
    }


def annotation(note: Annotation, run: CheckRun, urls: Urls) -> dict[str, Any]:
    """``check-annotation``."""
    return {
        "path": note.path,
        "start_line": note.start_line,
        "end_line": note.end_line,
        "start_column": note.start_column,
        "end_column": note.end_column,
        "annotation_level": note.annotation_level,
        "title": note.title,
        "message": note.message,
        "raw_details": note.raw_details,
        "blob_href": f"{urls.web}/{run.repo}/blob/{run.head_sha}/{note.path}",
    }


def _pull_end(pull: Pull, ref: str, sha: str, repo: Repo, owner: FakeOrg, urls: Urls) -> dict[str, Any]:
    return {
        "label": f"{repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": account(owner, urls),
        "repo": repository(repo, owner, urls),
    }


def pull_request(pull: Pull, repo: Repo, owner: FakeOrg, urls: Urls) -> dict[str, Any]:
    """``pull-request`` (create and get answers; lists show the same fields less the counters)."""
    api = f"{urls.api}/repos/{pull.repo}"
    html = f"{urls.web}/{pull.repo}/pull/{pull.number}"
    return {
        "url": f"{api}/pulls/{pull.number}",
        "id": pull.id,
        "node_id": node_id("PR", pull.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{api}/issues/{pull.number}",
        "commits_url": f"{api}/pulls/{pull.number}/commits",
        "review_comments_url": f"{api}/pulls/{pull.number}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{pull.number}/comments",
        "statuses_url": f"{api}/statuses/{pull.head_sha}",
        "number": pull.number,
        "state": pull.state,
        "locked": False,
        "title": pull.title,
        "user": simple_user(pull.user, urls, "Bot" if pull.user.endswith("[bot]") else "User"),
        "body": pull.body,
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(pull.created_at),
        "updated_at": iso(pull.updated_at),
        "closed_at": iso(pull.closed_at) if pull.closed_at else None,
        "merged_at": iso(pull.merged_at) if pull.merged_at else None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": _pull_end(pull, pull.head, pull.head_sha, repo, owner, urls),
        "base": _pull_end(pull, pull.base, pull.base_sha, repo, owner, urls),
        "_links": {
            "self": {"href": f"{api}/pulls/{pull.number}"},
            "html": {"href": html},
            "issue": {"href": f"{api}/issues/{pull.number}"},
            "comments": {"href": f"{api}/issues/{pull.number}/comments"},
            "review_comments": {"href": f"{api}/pulls/{pull.number}/comments"},
            "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
            "commits": {"href": f"{api}/pulls/{pull.number}/commits"},
            "statuses": {"href": f"{api}/statuses/{pull.head_sha}"},
        },
        "author_association": "NONE",
        "auto_merge": None,
        "draft": pull.draft,
        "merged": pull.merged_at is not None,
        "mergeable": True if pull.state == "open" else None,
        "rebaseable": True if pull.state == "open" else None,
        "mergeable_state": "clean" if pull.state == "open" else "unknown",
        "merged_by": None,
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": 1,
        "additions": 0,
        "deletions": 0,
        "changed_files": 0,
    }


def pull_request_minimal(pull: Pull, urls: Urls, repo_id: int) -> dict[str, Any]:
    """``pull-request-minimal``: how a check run names the pull requests of its head."""
    repo_url = f"{urls.api}/repos/{pull.repo}"
    name = pull.repo.split("/", 1)[1]
    end = {"id": repo_id, "url": repo_url, "name": name}
    return {
        "id": pull.id,
        "number": pull.number,
        "url": f"{repo_url}/pulls/{pull.number}",
        "head": {"ref": pull.head, "sha": pull.head_sha, "repo": end},
        "base": {"ref": pull.base, "sha": pull.base_sha, "repo": end},
    }


def org_membership(org: FakeOrg, login: str, role: str, state: str, urls: Urls) -> dict[str, Any]:
    """``org-membership``; ``role`` is ``admin`` or ``member``, ``state`` ``active`` or ``pending``."""
    return {
        "url": f"{urls.api}/orgs/{org.login}/memberships/{login}",
        "state": state,
        "role": role,
        "organization_url": f"{urls.api}/orgs/{org.login}",
        "organization": organization_simple(org, urls),
        "user": simple_user(login, urls),
    }


def organization_invitation(org: FakeOrg, login: str, role: str, urls: Urls) -> dict[str, Any]:
    number = stable_id(f"{org.login}:{login}")
    return {
        "id": number,
        "node_id": node_id("OI", number),
        "login": login,
        "email": None,
        "role": role,
        "created_at": "2024-01-02T03:04:05Z",
        "failed_at": None,
        "failed_reason": None,
        "inviter": simple_user("octocat", urls),
        "team_count": sum(login in t.invitations for t in org.teams.values()),
        "invitation_teams_url": f"{urls.api}/organizations/{org.id}/invitations/{number}/teams",
        "invitation_source": "member",
    }


def team_membership(org: FakeOrg, team_: FakeTeam, login: str, role: str, state: str, urls: Urls) -> dict:
    """``team-membership``: ``role`` ``member`` or ``maintainer``, ``state`` ``active`` or ``pending``."""
    return {
        "url": f"{urls.api}/organizations/{org.id}/team/{team_.id}/memberships/{login}",
        "role": role,
        "state": state,
    }


def collaborator(login: str, permission: str, urls: Urls) -> dict[str, Any]:
    """``collaborator``: a user with the repository permissions they hold."""
    return {
        **simple_user(login, urls),
        "permissions": permission_flags(permission),
        "role_name": ROLE_NAMES.get(permission, permission),
    }


INVITATION_PERMISSIONS = {
    "pull": "read",
    "triage": "triage",
    "push": "write",
    "maintain": "maintain",
    "admin": "admin",
}
"""A repository invitation names its permission ``read``/``write`` where collaborators say pull/push."""


def repository_invitation(invite: RepoInvitation, repo: Repo, owner: FakeOrg, urls: Urls) -> dict[str, Any]:
    """``repository-invitation``."""
    return {
        "id": invite.id,
        "node_id": node_id("RI", invite.id),
        "repository": minimal_repository(repo, owner, urls),
        "invitee": simple_user(invite.login, urls),
        "inviter": simple_user("octocat", urls),
        "permissions": INVITATION_PERMISSIONS.get(invite.permission, invite.permission),
        "created_at": iso(invite.created_at),
        "expired": False,
        "url": f"{urls.api}/user/repository_invitations/{invite.id}",
        "html_url": f"{urls.web}/{repo.full_name}/invitations",
    }
