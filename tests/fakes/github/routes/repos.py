"""Repositories: settings (``--fix-repos``), branches and refs, commits, contents at any ref and file
commits (``PUT contents``), collaborators and their invitations (``--fix-collaborators``).

Refs are branches only (``refs/heads/...``): the fake keeps no tags.
"""

from __future__ import annotations

import base64
import binascii

from tests.fakes.github import shapes
from tests.fakes.github.models import TEAM_PERMISSIONS, Commit, FakeOrg, Repo, RepoInvitation, git_blob_sha
from tests.fakes.github.replies import (
    Reply,
    error,
    invalid,
    no_content,
    not_found,
    page,
    validation_failed,
)
from tests.fakes.github.router import Call, RouteTable
from tests.fakes.github.routes.common import check_body, repo_of, writable
from tests.fakes.github.routes.orgs import REPO_SETTINGS, STORED_SETTINGS, valid_repo_name

ROUTES = RouteTable("repos")
REPO = "/repos/{owner}/{repo}"
EDIT_FIELDS = {**REPO_SETTINGS, "name": str, "default_branch": str, "archived": bool}
ROLE_ALIASES = {"read": "pull", "write": "push"}
"""GitHub takes a collaborator's role by its name too (``read``, ``write``): peribolos sends those."""
INVITATION_LEVELS = {
    "read": "pull",
    "triage": "triage",
    "write": "push",
    "maintain": "maintain",
    "admin": "admin",
}


def _owner(call: Call, repo: Repo) -> FakeOrg:
    found = call.state.account(repo.owner)
    assert found is not None
    return found


@ROUTES.route("GET", REPO)
def get_repo(call: Call) -> Reply:
    repo = repo_of(call)
    return Reply(200, shapes.repository(repo, _owner(call, repo), call.urls))


@ROUTES.route("PATCH", REPO)
def edit_repo(call: Call) -> Reply:
    """Settings, renames and archiving; an archived repository only takes ``archived: false``."""
    repo = repo_of(call)
    body = call.json_object()
    check_body(body, EDIT_FIELDS, "Repository")
    if repo.archived and body.get("archived") is not False:
        raise error(403, "Repository was archived so is read-only.")
    owner = _owner(call, repo)
    name = body.get("name")
    if name is not None and name != repo.name:
        if not valid_repo_name(name):
            raise invalid("name", "Repository")
        if name.lower() in owner.repos and name.lower() != repo.name.lower():
            raise invalid("name", "Repository", "custom", message="name already exists on this account")
    branch = body.get("default_branch")
    if branch is not None and branch not in repo.branches and repo.branches:
        raise invalid("default_branch", "Repository")
    for key in STORED_SETTINGS:
        if body.get(key) is not None:
            setattr(repo, key, body[key])
    if body.get("visibility") in ("public", "private"):
        repo.private = body["visibility"] == "private"
    if branch is not None:
        repo.default_branch = branch
    if body.get("archived") is not None:
        repo.archived = body["archived"]
    if name is not None and name != repo.name:
        owner.repos.pop(repo.name.lower())
        for team in owner.teams.values():
            if repo.name in team.repos:
                team.repos[name] = team.repos.pop(repo.name)
        old = repo.full_name.lower()
        repo.name = name
        owner.repos[name.lower()] = repo
        call.state.pulls[repo.full_name.lower()] = call.state.pulls.pop(old, [])
    return Reply(200, shapes.repository(repo, owner, call.urls))


# -- branches, refs, commits -------------------------------------------------------------------------
@ROUTES.route("GET", REPO + "/branches/{branch}")
def get_branch(call: Call) -> Reply:
    repo = repo_of(call)
    if call.params["branch"] not in repo.branches:
        raise error(404, "Branch not found")
    return Reply(200, shapes.branch(repo, call.params["branch"], call.urls))


def _branch_of_ref(ref: str) -> str:
    """``heads/main`` or ``refs/heads/main`` -> ``main``; 404 for other refs (tags are not kept)."""
    for prefix in ("refs/heads/", "heads/"):
        if ref.startswith(prefix) and len(ref) > len(prefix):
            return ref[len(prefix) :]
    raise not_found()


@ROUTES.route("GET", REPO + "/git/ref/{ref+}")
def get_ref(call: Call) -> Reply:
    repo = repo_of(call)
    branch = _branch_of_ref(call.params["ref"])
    if branch not in repo.branches:
        raise not_found()
    return Reply(200, shapes.git_ref(repo, branch, call.urls))


@ROUTES.route("POST", REPO + "/git/refs")
def create_ref(call: Call) -> Reply:
    """A new branch at an existing commit (``{"ref": "refs/heads/x", "sha": ...}``)."""
    repo = writable(repo_of(call))
    body = call.json_object()
    check_body(body, {"ref": str, "sha": str}, "Reference", required=("ref", "sha"))
    ref = body["ref"]
    if not ref.startswith("refs/") or ref.count("/") < 2 or ref.endswith("/"):
        raise validation_failed("Reference name is not valid")
    if not ref.startswith("refs/heads/"):
        raise validation_failed("Only branches (refs/heads/...) are kept by this fake")
    if body["sha"] not in repo.commits:
        raise validation_failed("Object does not exist")
    branch = ref[len("refs/heads/") :]
    if branch in repo.branches:
        raise validation_failed("Reference already exists")
    repo.branches[branch] = body["sha"]
    return Reply(201, shapes.git_ref(repo, branch, call.urls))


def _is_ancestor(repo: Repo, old: str, new: str) -> bool:
    seen, todo = set(), [new]
    while todo:
        sha = todo.pop()
        if sha == old:
            return True
        if sha in seen or sha not in repo.commits:
            continue
        seen.add(sha)
        todo.extend(repo.commits[sha].parents)
    return False


@ROUTES.route("PATCH", REPO + "/git/refs/{ref+}")
def update_ref(call: Call) -> Reply:
    """Move a branch: fast-forward only unless ``force``."""
    repo = writable(repo_of(call))
    branch = _branch_of_ref(call.params["ref"])
    body = call.json_object()
    check_body(body, {"sha": str, "force": bool}, "Reference", required=("sha",))
    if branch not in repo.branches:
        raise validation_failed("Reference does not exist")
    if body["sha"] not in repo.commits:
        raise validation_failed("Object does not exist")
    if not body.get("force") and not _is_ancestor(repo, repo.branches[branch], body["sha"]):
        raise validation_failed("Update is not a fast forward")
    repo.branches[branch] = body["sha"]
    call.state.move_pulls(repo, branch)
    return Reply(200, shapes.git_ref(repo, branch, call.urls))


def _commit_of(repo: Repo, ref: str) -> Commit:
    found = repo.resolve(ref)
    if found is None:
        raise validation_failed(f"No commit found for SHA: {ref}")
    return found


@ROUTES.route("GET", REPO + "/commits/{ref}")
def get_commit(call: Call) -> Reply:
    repo = repo_of(call)
    found = _commit_of(repo, call.params["ref"])
    parent = repo.commits.get(found.parents[0]) if found.parents else None
    return Reply(200, shapes.commit(found, repo, call.urls, parent))


# -- contents ----------------------------------------------------------------------------------------
@ROUTES.route("GET", REPO + "/contents/{path*}")
def get_contents(call: Call) -> Reply:
    """A file (JSON, or its bytes for ``application/vnd.github.raw``) or a directory listing, at ``ref``
    (a branch or a SHA; the default branch when absent)."""
    repo = repo_of(call)
    if not repo.branches and not repo.commits:
        raise error(404, "This repository is empty.")
    ref = call.arg("ref") or repo.default_branch
    found = repo.resolve(ref)
    if found is None:
        raise error(404, f"No commit found for the ref {ref}")
    path = call.params["path"].strip("/")
    if path in found.tree:
        data = found.tree[path]
        if "raw" in call.headers.get("accept", ""):
            return Reply(200, data, {"content-type": "application/vnd.github.raw; charset=utf-8"})
        return Reply(200, shapes.content_file(repo, ref, path, data, call.urls))
    prefix = f"{path}/" if path else ""
    below = {p for p in found.tree if p.startswith(prefix)}
    if not below:
        raise not_found()
    entries = sorted({prefix + p[len(prefix) :].split("/", 1)[0] for p in below})
    return Reply(200, [shapes.content_entry(repo, ref, e, found.tree, call.urls) for e in entries])


@ROUTES.route("PUT", REPO + "/contents/{path+}")
def put_contents(call: Call) -> Reply:
    """Create (201) or update (200, with the current blob ``sha``) a file: one new commit on ``branch``."""
    repo = writable(repo_of(call))
    body = call.json_object()
    check_body(
        body, {"message": str, "content": str, "sha": str, "branch": str}, "Content", required=("message",)
    )
    if "content" not in body or not isinstance(body["content"], str):
        raise invalid("content", "Content", "missing_field")
    try:
        data = base64.b64decode(body["content"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise validation_failed("content is not valid Base64") from exc
    branch = body.get("branch") or repo.default_branch
    if branch not in repo.branches and (repo.branches or branch != repo.default_branch):
        raise error(404, f"Branch {branch} not found")
    path = call.params["path"].strip("/")
    head = repo.commits[repo.branches[branch]] if branch in repo.branches else None
    existing = head.tree.get(path) if head else None
    if existing is not None:
        if not body.get("sha"):
            raise validation_failed('Invalid request.\n\n"sha" wasn\'t supplied.')
        if body["sha"] != git_blob_sha(existing):
            raise error(409, f"{path} does not match {body['sha']}")
    author = (body.get("committer") or {}).get("name") or "peribolos-test[bot]"
    push = call.state.push(repo, branch, {path: data}, body["message"], author)
    made = repo.commits[push.after]
    content = shapes.content_file(repo, branch, path, data, call.urls)
    content.pop("content")
    content.pop("encoding")
    answer = {"content": content, "commit": shapes.git_commit(made, repo, call.urls)}
    return Reply(201 if existing is None else 200, answer)


# -- collaborators -----------------------------------------------------------------------------------
def _base_permission(org: FakeOrg) -> str | None:
    return {"read": "pull", "write": "push", "admin": "admin"}.get(org.default_repository_permission)


def _strongest(*levels: str | None) -> str | None:
    known = [lv for lv in levels if lv in TEAM_PERMISSIONS]
    return max(known, key=TEAM_PERMISSIONS.index) if known else None


def _collaborators(repo: Repo, org: FakeOrg, affiliation: str) -> dict[str, str]:
    """login -> permission: ``direct`` collaborators, ``outside`` ones (not org members), or ``all``
    (org owners and members with the base permission and their teams' grants too)."""
    direct = dict(repo.collaborators)
    if affiliation == "direct":
        return direct
    if affiliation == "outside":
        return {u: p for u, p in direct.items() if org.role_of(u) is None}
    out = dict(direct)
    if org.type == "Organization":
        for login in org.members:
            out[login] = _strongest(out.get(login), _base_permission(org)) or out.get(login, "")
        for team in org.teams.values():
            granted = next((p for n, p in team.repos.items() if n.lower() == repo.name.lower()), None)
            for login in team.members | team.maintainers:
                out[login] = _strongest(out.get(login), granted) or out.get(login, "")
        for login in org.admins:
            out[login] = "admin"
    return {u: p for u, p in out.items() if p}


@ROUTES.route("GET", REPO + "/collaborators")
def list_collaborators(call: Call) -> Reply:
    repo = repo_of(call)
    affiliation = call.arg("affiliation", "all")
    if affiliation not in ("outside", "direct", "all"):
        raise invalid("affiliation", "Collaborator")
    found = _collaborators(repo, _owner(call, repo), affiliation)
    wanted = call.arg("permission")
    items = [
        shapes.collaborator(login, permission, call.urls)
        for login, permission in sorted(found.items(), key=lambda kv: kv[0].lower())
        if wanted is None or permission == wanted
    ]
    return page(f"{call.urls.api}/repos/{repo.full_name}/collaborators", call.query, items)


@ROUTES.route("PUT", REPO + "/collaborators/{username}")
def add_collaborator(call: Call) -> Reply:
    """An org member or a current collaborator gets the permission at once (204); anyone else is invited
    (201 with the invitation)."""
    repo = writable(repo_of(call))
    body = call.json_object()
    permission = body.get("permission") or "push"
    permission = ROLE_ALIASES.get(permission, permission)
    if permission not in TEAM_PERMISSIONS:
        raise invalid("permission", "Collaborator")
    login = call.params["username"]
    owner = _owner(call, repo)
    if (
        login in repo.collaborators
        or owner.role_of(login) is not None
        or login.lower() == owner.login.lower()
    ):
        repo.collaborators[login] = permission
        return no_content()
    invite = next((i for i in repo.invitations.values() if i.login.lower() == login.lower()), None)
    if invite is None:
        invite = RepoInvitation(call.state.next_id("repo_invitation"), login, permission, call.now)
        repo.invitations[invite.id] = invite
    invite.permission = permission
    return Reply(201, shapes.repository_invitation(invite, repo, owner, call.urls))


@ROUTES.route("DELETE", REPO + "/collaborators/{username}")
def remove_collaborator(call: Call) -> Reply:
    """Removes the collaborator and cancels an invitation of theirs."""
    repo = writable(repo_of(call))
    login = call.params["username"].lower()
    repo.collaborators = {u: p for u, p in repo.collaborators.items() if u.lower() != login}
    repo.invitations = {k: i for k, i in repo.invitations.items() if i.login.lower() != login}
    return no_content()


@ROUTES.route("GET", REPO + "/invitations")
def list_repo_invitations(call: Call) -> Reply:
    repo = repo_of(call)
    owner = _owner(call, repo)
    items = [
        shapes.repository_invitation(i, repo, owner, call.urls) for _, i in sorted(repo.invitations.items())
    ]
    return page(f"{call.urls.api}/repos/{repo.full_name}/invitations", call.query, items)


def _invitation(call: Call, repo: Repo) -> RepoInvitation:
    wanted = call.params["invitation_id"]
    found = next((i for k, i in repo.invitations.items() if str(k) == wanted), None)
    if found is None:
        raise not_found()
    return found


@ROUTES.route("PATCH", REPO + "/invitations/{invitation_id}")
def update_repo_invitation(call: Call) -> Reply:
    repo = writable(repo_of(call))
    invite = _invitation(call, repo)
    body = call.json_object()
    level = body.get("permissions")
    if level is not None:
        if level not in INVITATION_LEVELS:
            raise invalid("permissions", "RepositoryInvitation")
        invite.permission = INVITATION_LEVELS[level]
    return Reply(200, shapes.repository_invitation(invite, repo, _owner(call, repo), call.urls))


@ROUTES.route("DELETE", REPO + "/invitations/{invitation_id}")
def delete_repo_invitation(call: Call) -> Reply:
    repo = writable(repo_of(call))
    repo.invitations.pop(_invitation(call, repo).id)
    return no_content()
