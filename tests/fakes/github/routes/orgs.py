"""Organisations: metadata (``--fix-org``), members and invitations (``--fix-org-members``), teams, their
members and repositories (``--fix-teams``, ``--fix-team-members``, ``--fix-team-repos``), and the org's
repositories (``--fix-repos``). What peribolos sends with ``--confirm`` is answered as GitHub would."""

from __future__ import annotations

from typing import Any

from tests.fakes.github import shapes
from tests.fakes.github.models import TEAM_PERMISSIONS, FakeOrg, FakeTeam, Repo, slugify
from tests.fakes.github.replies import (
    Reply,
    invalid,
    no_content,
    not_found,
    page,
    validation_failed,
)
from tests.fakes.github.router import Call, RouteTable
from tests.fakes.github.routes.common import check_body, list_of_strings, org_of, set_fields, team_of
from tests.fakes.github.state import GitHubState

ROUTES = RouteTable("orgs")
ORG = "/orgs/{org}"
TEAM = ORG + "/teams/{team_slug}"
ORG_FIELDS = {
    "billing_email": str,
    "company": str,
    "email": str,
    "twitter_username": str,
    "location": str,
    "name": str,
    "description": str,
    "blog": str,
    "has_organization_projects": bool,
    "has_repository_projects": bool,
    "default_repository_permission": ("read", "write", "admin", "none"),
    "members_can_create_repositories": bool,
}
TEAM_FIELDS = {
    "name": str,
    "description": str,
    "privacy": ("secret", "closed"),
    "notification_setting": ("notifications_enabled", "notifications_disabled"),
    "permission": ("pull", "push"),
    "parent_team_id": int,
}
REPO_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


# -- the org ---------------------------------------------------------------------------------------------
@ROUTES.route("GET", ORG)
def get_org(call: Call) -> Reply:
    return Reply(200, shapes.organization_full(org_of(call), call.urls))


@ROUTES.route("PATCH", ORG)
def edit_org(call: Call) -> Reply:
    org = org_of(call)
    body = call.json_object()
    check_body(body, ORG_FIELDS, "Organization")
    set_fields(org, body, ORG_FIELDS)
    return Reply(200, shapes.organization_full(org, call.urls))


# -- members, memberships, invitations ----------------------------------------------------------------
@ROUTES.route("GET", ORG + "/members")
def list_members(call: Call) -> Reply:
    org = org_of(call)
    role = call.arg("role", "all")
    if role not in ("all", "admin", "member"):
        raise validation_failed(f"Validation Failed: role {role!r} is not one of all, admin, member")
    logins = (org.admins if role != "member" else set()) | (org.members if role != "admin" else set())
    users = [shapes.simple_user(u, call.urls) for u in sorted(logins, key=str.lower)]
    return page(f"{call.urls.api}/orgs/{org.login}/members", call.query, users)


@ROUTES.route("GET", ORG + "/members/{username}")
def check_member(call: Call) -> Reply:
    if org_of(call).role_of(call.params["username"]) is None:
        raise not_found()
    return no_content()


@ROUTES.route("DELETE", ORG + "/members/{username}")
def remove_member(call: Call) -> Reply:
    org = org_of(call)
    if org.role_of(call.params["username"]) is not None:
        call.state.remove_membership(org, call.params["username"])
    return no_content()


@ROUTES.route("GET", ORG + "/memberships/{username}")
def get_membership(call: Call) -> Reply:
    org = org_of(call)
    login = call.params["username"]
    role = org.role_of(login)
    if role is not None:
        return Reply(200, shapes.org_membership(org, login, role, "active", call.urls))
    invited = next((r for u, r in org.invitations.items() if u.lower() == login.lower()), None)
    if invited is None:
        raise not_found()
    role = "admin" if invited == "admin" else "member"
    return Reply(200, shapes.org_membership(org, login, role, "pending", call.urls))


@ROUTES.route("PUT", ORG + "/memberships/{username}")
def set_membership(call: Call) -> Reply:
    """Members change role at once; others are invited (``pending``)."""
    org = org_of(call)
    body = call.json_object()
    role = body.get("role", "member")
    if role not in ("admin", "member"):
        raise validation_failed(f"Validation Failed: role {role!r} is not one of admin, member")
    login = call.params["username"]
    state = call.state.set_membership(org, login, role)
    return Reply(200, shapes.org_membership(org, login, role, state, call.urls))


@ROUTES.route("DELETE", ORG + "/memberships/{username}")
def remove_membership(call: Call) -> Reply:
    if not call.state.remove_membership(org_of(call), call.params["username"]):
        raise not_found()
    return no_content()


@ROUTES.route("GET", ORG + "/invitations")
def list_invitations(call: Call) -> Reply:
    org = org_of(call)
    items = [
        shapes.organization_invitation(org, login, role, call.urls)
        for login, role in sorted(org.invitations.items())
    ]
    return page(f"{call.urls.api}/orgs/{org.login}/invitations", call.query, items)


# -- teams -------------------------------------------------------------------------------------------
def _check_team_body(org: FakeOrg, body: dict[str, Any], team: FakeTeam | None) -> FakeTeam | None:
    """Validate a create or edit body; the new parent team (None: top level or unchanged)."""
    check_body(body, TEAM_FIELDS, "Team", required=("name",) if team is None else ())
    name = body.get("name")
    if name is not None:
        taken = {t.slug for t in org.teams.values() if t is not team} | {
            t.name.lower() for t in org.teams.values() if t is not team
        }
        if slugify(name) in taken or name.lower() in taken or not slugify(name):
            raise invalid("name", "Team", "already_exists" if slugify(name) else "invalid")
    parent = None
    parent_id = body.get("parent_team_id")
    if parent_id is not None:
        parent = org.team_by_id(parent_id)
        if parent is None or (
            team is not None and parent.slug in GitHubState.team_descendants(org, team.slug) | {team.slug}
        ):
            raise invalid("parent_team_id", "Team")
    privacy = body.get("privacy") or (team.privacy if team else None)
    nested = parent is not None or (team is not None and "parent_team_id" not in body and team.parent)
    if privacy == "secret" and nested:
        raise validation_failed("A team with a parent team must be closed.")
    return parent


@ROUTES.route("GET", ORG + "/teams")
def list_teams(call: Call) -> Reply:
    org = org_of(call)
    items = [shapes.team(org.teams[slug], org, call.urls) for slug in sorted(org.teams)]
    return page(f"{call.urls.api}/orgs/{org.login}/teams", call.query, items)


@ROUTES.route("POST", ORG + "/teams")
def create_team(call: Call) -> Reply:
    """201 with the team; maintainers must be org members, repositories the org's own."""
    org = org_of(call)
    body = call.json_object()
    parent = _check_team_body(org, body, None)
    maintainers = list_of_strings(body, "maintainers")
    repo_names = list_of_strings(body, "repo_names")
    if any(org.role_of(m) is None for m in maintainers):
        raise invalid("maintainers", "Team")
    repos: list[Repo] = []
    for full in repo_names:
        owner, _, name = full.partition("/")
        found = call.state.repo(owner, name)
        if owner.lower() != org.login.lower() or found is None:
            raise invalid("repo_names", "Team")
        repos.append(found)
    privacy = body.get("privacy") or ("closed" if parent else "secret")
    team = FakeTeam(
        id=call.state.new_team_id(),
        name=body["name"],
        slug=slugify(body["name"]),
        description=body.get("description") or "",
        privacy=privacy,
        maintainers=set(maintainers),
        repos={r.name: "pull" for r in repos},
        parent=parent.slug if parent else None,
        notification_setting=body.get("notification_setting") or "notifications_enabled",
    )
    org.teams[team.slug] = team
    return Reply(201, shapes.team_full(team, org, call.urls))


@ROUTES.route("GET", TEAM)
def get_team(call: Call) -> Reply:
    org = org_of(call)
    return Reply(200, shapes.team_full(team_of(call, org), org, call.urls))


@ROUTES.route("PATCH", TEAM)
def edit_team(call: Call) -> Reply:
    """Renaming changes the slug, as on GitHub; ``parent_team_id: null`` makes it a top-level team."""
    org = org_of(call)
    team = team_of(call, org)
    body = call.json_object()
    parent = _check_team_body(org, body, team)
    if "parent_team_id" in body:
        team.parent = parent.slug if parent else None
    set_fields(team, body, ("description", "privacy", "notification_setting"))
    if body.get("name") and body["name"] != team.name:
        call.state.rename_team(org, team, body["name"])
    return Reply(200, shapes.team_full(team, org, call.urls))


@ROUTES.route("DELETE", TEAM)
def delete_team(call: Call) -> Reply:
    """Deleting a team deletes its child teams too."""
    org = org_of(call)
    call.state.delete_team(org, team_of(call, org).slug)
    return no_content()


@ROUTES.route("GET", TEAM + "/members")
def list_team_members(call: Call) -> Reply:
    org = org_of(call)
    team = team_of(call, org)
    role = call.arg("role", "all")
    if role not in ("all", "member", "maintainer"):
        raise validation_failed(f"Validation Failed: role {role!r} is not one of all, member, maintainer")
    logins = (team.maintainers if role != "member" else set()) | (
        team.members if role != "maintainer" else set()
    )
    users = [shapes.simple_user(u, call.urls) for u in sorted(logins, key=str.lower)]
    return page(f"{call.urls.api}/orgs/{org.login}/teams/{team.slug}/members", call.query, users)


@ROUTES.route("GET", TEAM + "/invitations")
def list_team_invitations(call: Call) -> Reply:
    org = org_of(call)
    team = team_of(call, org)
    items = [
        shapes.organization_invitation(org, login, org.invitations.get(login, "direct_member"), call.urls)
        for login in sorted(team.invitations)
    ]
    return page(f"{call.urls.api}/orgs/{org.login}/teams/{team.slug}/invitations", call.query, items)


@ROUTES.route("GET", TEAM + "/memberships/{username}")
def get_team_membership(call: Call) -> Reply:
    org = org_of(call)
    team = team_of(call, org)
    login = call.params["username"]
    role = team.role_of(login)
    if role is not None:
        return Reply(200, shapes.team_membership(org, team, login, role, "active", call.urls))
    if login in team.invitations:
        return Reply(200, shapes.team_membership(org, team, login, "member", "pending", call.urls))
    raise not_found()


@ROUTES.route("PUT", TEAM + "/memberships/{username}")
def set_team_membership(call: Call) -> Reply:
    """An org member joins (or changes role) at once; anyone else is invited to the org through the team
    (``pending``)."""
    org = org_of(call)
    team = team_of(call, org)
    body = call.json_object()
    role = body.get("role", "member")
    if role not in ("member", "maintainer"):
        raise invalid("role", "TeamMember")
    login = call.params["username"]
    if org.role_of(login) is None:
        org.invitations.setdefault(login, "direct_member")
        team.invitations.add(login)
        return Reply(200, shapes.team_membership(org, team, login, role, "pending", call.urls))
    team.members.discard(login)
    team.maintainers.discard(login)
    (team.maintainers if role == "maintainer" else team.members).add(login)
    return Reply(200, shapes.team_membership(org, team, login, role, "active", call.urls))


@ROUTES.route("DELETE", TEAM + "/memberships/{username}")
def remove_team_membership(call: Call) -> Reply:
    org = org_of(call)
    team = team_of(call, org)
    login = call.params["username"]
    team.members = {m for m in team.members if m.lower() != login.lower()}
    team.maintainers = {m for m in team.maintainers if m.lower() != login.lower()}
    team.invitations.discard(login)
    return no_content()


# -- team repositories -------------------------------------------------------------------------------
@ROUTES.route("GET", TEAM + "/repos")
def list_team_repos(call: Call) -> Reply:
    org = org_of(call)
    team = team_of(call, org)
    items = [
        shapes.minimal_repository(org.repos[name.lower()], org, call.urls, permission)
        for name, permission in sorted(team.repos.items())
        if name.lower() in org.repos
    ]
    return page(f"{call.urls.api}/orgs/{org.login}/teams/{team.slug}/repos", call.query, items)


def _team_repo(call: Call) -> tuple[FakeOrg, FakeTeam, Repo]:
    org = org_of(call)
    team = team_of(call, org)
    repo = call.state.repo(call.params["owner"], call.params["repo"])
    if repo is None:
        raise not_found()
    return org, team, repo


@ROUTES.route("GET", TEAM + "/repos/{owner}/{repo}")
def check_team_repo(call: Call) -> Reply:
    """204 when the team has the repository; the repository with its permissions when the client asks
    for ``application/vnd.github.v3.repository+json``."""
    org, team, repo = _team_repo(call)
    permission = next((p for n, p in team.repos.items() if n.lower() == repo.name.lower()), None)
    if permission is None:
        raise not_found()
    if "repository+json" in call.headers.get("accept", ""):
        return Reply(200, shapes.repository(repo, org, call.urls, permission))
    return no_content()


@ROUTES.route("PUT", TEAM + "/repos/{owner}/{repo}")
def set_team_repo(call: Call) -> Reply:
    _org, team, repo = _team_repo(call)
    body = call.json_object()
    permission = body.get("permission") or "pull"
    if permission not in TEAM_PERMISSIONS:
        raise invalid("permission", "Team")
    team.repos = {n: p for n, p in team.repos.items() if n.lower() != repo.name.lower()}
    team.repos[repo.name] = permission
    return no_content()


@ROUTES.route("DELETE", TEAM + "/repos/{owner}/{repo}")
def remove_team_repo(call: Call) -> Reply:
    _org, team, repo = _team_repo(call)
    team.repos = {n: p for n, p in team.repos.items() if n.lower() != repo.name.lower()}
    return no_content()


# -- the org's repositories --------------------------------------------------------------------------
REPO_SETTINGS = {
    "description": str,
    "homepage": str,
    "private": bool,
    "visibility": ("public", "private", "internal"),
    "has_issues": bool,
    "has_projects": bool,
    "has_wiki": bool,
    "allow_squash_merge": bool,
    "allow_merge_commit": bool,
    "allow_rebase_merge": bool,
    "squash_merge_commit_title": ("PR_TITLE", "COMMIT_OR_PR_TITLE"),
    "squash_merge_commit_message": ("PR_BODY", "COMMIT_MESSAGES", "BLANK"),
    "auto_init": bool,
    "is_template": bool,
    "has_downloads": bool,
}
"""The settings peribolos' ``--fix-repos`` writes (and that a create or edit may carry)."""
STORED_SETTINGS = (
    "description",
    "homepage",
    "private",
    "has_issues",
    "has_projects",
    "has_wiki",
    "allow_squash_merge",
    "allow_merge_commit",
    "allow_rebase_merge",
    "squash_merge_commit_title",
    "squash_merge_commit_message",
)


def valid_repo_name(name: Any) -> bool:
    return isinstance(name, str) and bool(name) and set(name) <= REPO_NAME_CHARS and name not in (".", "..")


@ROUTES.route("GET", ORG + "/repos")
def list_org_repos(call: Call) -> Reply:
    """The org's repositories the token reaches; ``type``, ``sort`` and ``direction`` as GitHub takes."""
    org = org_of(call)
    kind = call.arg("type", "all")
    sort = call.arg("sort", "created")
    if kind not in ("all", "public", "private", "forks", "sources", "member"):
        raise invalid("type", "Repository")
    if sort not in ("created", "updated", "pushed", "full_name"):
        raise invalid("sort", "Repository")
    direction = call.arg("direction", "asc" if sort == "full_name" else "desc")
    repos = [r for r in org.repos.values() if call.caller.reaches(r)]
    repos = [r for r in repos if kind not in ("public", "private") or r.visibility == kind]
    key = (lambda r: r.name.lower()) if sort == "full_name" else (lambda r: r.id)
    repos.sort(key=key, reverse=direction == "desc")
    items = [shapes.minimal_repository(r, org, call.urls) for r in repos]
    return page(f"{call.urls.api}/orgs/{org.login}/repos", call.query, items)


@ROUTES.route("POST", ORG + "/repos")
def create_org_repo(call: Call) -> Reply:
    """201 with the new repository (a first commit with a README when ``auto_init``)."""
    org = org_of(call)
    body = call.json_object()
    check_body(body, {"name": str, **REPO_SETTINGS}, "Repository", required=("name",))
    if not valid_repo_name(body["name"]):
        raise invalid("name", "Repository")
    if body["name"].lower() in org.repos:
        raise invalid("name", "Repository", "custom", message="name already exists on this account")
    settings = {k: body[k] for k in STORED_SETTINGS if body.get(k) is not None}
    if body.get("visibility") in ("public", "private"):
        settings["private"] = body["visibility"] == "private"
    repo = call.state.create_repo(org.login, body["name"], auto_init=bool(body.get("auto_init")), **settings)
    inst = call.caller.installation
    if inst is not None and inst.repository_selection == "selected":
        inst.selected_repositories.add(repo.name.lower())
    return Reply(201, shapes.repository(repo, org, call.urls))
