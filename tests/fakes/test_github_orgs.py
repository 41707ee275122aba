"""The fake's org endpoints, as peribolos calls them with each ``--fix-*`` flag: org metadata, members and
invitations, teams (create, edit, delete, nest), team members and repositories, the org's repositories."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.client import app_jwt, call, mint
from tests.fakes.github import FakeGitHub, FakeTeam


@pytest.fixture
def org_github(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_org(
        "octo-org",
        admins=["alice", "bob"],
        members=[f"user{i:03d}" for i in range(150)],
        teams=[FakeTeam(7, "Reviewers", "reviewers", maintainers={"alice"}, members={"user001"})],
    )
    return fake_github


@pytest.fixture
def token(org_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> str:
    return mint(org_github, app_key, 1)


@pytest.mark.parametrize(
    ("auth", "method", "path", "status"),
    [
        pytest.param("token", "GET", "/orgs/octo-org", 200, id="org"),
        pytest.param("bearer", "GET", "/orgs/octo-org/members?role=admin", 200, id="bearer-scheme"),
        pytest.param(None, "GET", "/orgs/octo-org/members", 401, id="no-auth"),
        pytest.param("jwt", "GET", "/orgs/octo-org/members", 401, id="app-jwt-is-no-installation-token"),
        pytest.param("other-org", "GET", "/orgs/octo-org/members", 404, id="other-installations-token"),
        pytest.param("token", "GET", "/orgs/Acme/members", 404, id="another-org"),
        pytest.param("token", "GET", "/orgs/octo-org/members?role=owner", 422, id="bad-role"),
        pytest.param("token", "GET", "/orgs/octo-org/teams/nope/members", 404, id="unknown-team"),
        pytest.param(
            "token", "GET", "/orgs/octo-org/teams/reviewers/invitations", 200, id="team-invitations"
        ),
        pytest.param("token", "PUT", "/orgs/octo-org", 404, id="a-method-github-has-not"),
    ],
)
def test_org_endpoint_auth_and_404(
    org_github: FakeGitHub, app_key: rsa.RSAPrivateKey, auth: str | None, method: str, path: str, status: int
) -> None:
    headers = {}
    if auth in ("token", "bearer"):
        headers["Authorization"] = f"{auth} {mint(org_github, app_key, 1)}"
    elif auth == "other-org":
        headers["Authorization"] = f"token {mint(org_github, app_key, 2)}"
    elif auth == "jwt":
        headers["Authorization"] = f"Bearer {app_jwt(app_key)}"
    answer = call(org_github, method, path, headers=headers, json={})
    assert answer.status_code == status, answer.text


def test_members_paginate_with_link_keeping_the_role(org_github: FakeGitHub, token: str) -> None:
    url: str | None = "/orgs/octo-org/members?role=member&per_page=100"
    logins: list[str] = []
    while url:
        answer = call(org_github, "GET", url.removeprefix(org_github.api_url), token)
        assert answer.status_code == 200
        logins += [m["login"] for m in answer.json()]
        url = answer.links.get("next", {}).get("url")
        assert url is None or "role=member" in url
    assert logins == [f"user{i:03d}" for i in range(150)]


@pytest.mark.parametrize(
    ("user", "role", "state", "admins", "invitations"),
    [
        pytest.param("dave", "member", "pending", {"alice", "bob"}, {"dave": "direct_member"}, id="invite"),
        pytest.param("dave", "admin", "pending", {"alice", "bob"}, {"dave": "admin"}, id="invite-admin"),
        pytest.param("user001", "admin", "active", {"alice", "bob", "user001"}, {}, id="promote"),
        pytest.param("bob", "member", "active", {"alice"}, {}, id="demote"),
        pytest.param("BOB", "member", "active", {"alice"}, {}, id="logins-are-case-insensitive"),
    ],
)
def test_put_membership(
    org_github: FakeGitHub,
    token: str,
    user: str,
    role: str,
    state: str,
    admins: set[str],
    invitations: dict[str, str],
) -> None:
    answer = call(org_github, "PUT", f"/orgs/octo-org/memberships/{user}", token, json={"role": role})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["state"], answer.json()["role"], answer.json()["user"]["login"]) == (
        state,
        role,
        user,
    )
    org = org_github.orgs["octo-org"]
    assert (org.admins, org.invitations) == (admins, invitations)


def test_removing_a_member_drops_them_from_teams_and_invitations_can_be_cancelled(
    org_github: FakeGitHub, token: str
) -> None:
    assert call(org_github, "DELETE", "/orgs/octo-org/memberships/user001", token).status_code == 204
    assert "user001" not in org_github.orgs["octo-org"].teams["reviewers"].members
    call(org_github, "PUT", "/orgs/octo-org/memberships/zoe", token, json={"role": "member"})
    assert call(org_github, "GET", "/orgs/octo-org/memberships/zoe", token).json()["state"] == "pending"
    assert call(org_github, "DELETE", "/orgs/octo-org/memberships/zoe", token).status_code == 204
    assert call(org_github, "DELETE", "/orgs/octo-org/memberships/zoe", token).status_code == 404
    assert call(org_github, "GET", "/orgs/octo-org/members/alice", token).status_code == 204
    assert call(org_github, "GET", "/orgs/octo-org/members/zoe", token).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "changed"),
    [
        pytest.param(
            {
                "billing_email": "b@example.com",
                "company": "Octo",
                "email": "o@example.com",
                "location": "Mars",
                "name": "Octo Org",
                "description": "d",
                "has_organization_projects": False,
                "has_repository_projects": False,
                "default_repository_permission": "none",
                "members_can_create_repositories": False,
            },
            200,
            True,
            id="every-field-peribolos-sets",
        ),
        pytest.param(
            {"login": "octo-org", "id": 1, "plan": {"name": ""}, "name": "Octo Org"},
            200,
            True,
            id="fields-github-ignores",
        ),
        pytest.param({"default_repository_permission": "push"}, 422, False, id="bad-base-permission"),
        pytest.param({"has_repository_projects": "yes"}, 422, False, id="bool-as-string"),
    ],
)
def test_edit_org(
    org_github: FakeGitHub, token: str, body: dict[str, Any], status: int, changed: bool
) -> None:
    answer = call(org_github, "PATCH", "/orgs/octo-org", token, json=body)
    assert answer.status_code == status, answer.text
    org = org_github.orgs["octo-org"]
    assert (org.name == "Octo Org") is (changed and "name" in body)
    if status == 200:
        assert {k: answer.json()[k] for k in body if k not in ("login", "id", "plan")} == {
            k: v for k, v in body.items() if k not in ("login", "id", "plan")
        }


# -- teams -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "slug", "privacy"),
    [
        pytest.param(
            {"name": "Docs Writers", "description": "d", "privacy": "closed"},
            201,
            "docs-writers",
            "closed",
            id="create",
        ),
        pytest.param({"name": "Secret Club"}, 201, "secret-club", "secret", id="top-level-default-secret"),
        pytest.param(
            {"name": "Child", "parent_team_id": 7}, 201, "child", "closed", id="nested-default-closed"
        ),
        pytest.param(
            {"name": "Child", "parent_team_id": 7, "privacy": "secret"},
            422,
            None,
            None,
            id="nested-cannot-be-secret",
        ),
        pytest.param({"name": "reviewers"}, 422, None, None, id="name-taken"),
        pytest.param({"description": "no name"}, 422, None, None, id="name-required"),
        pytest.param({"name": "X", "parent_team_id": 999}, 422, None, None, id="unknown-parent"),
        pytest.param({"name": "X", "privacy": "public"}, 422, None, None, id="bad-privacy"),
        pytest.param(
            {"name": "X", "maintainers": ["stranger"]}, 422, None, None, id="maintainer-not-a-member"
        ),
    ],
)
def test_create_team(
    org_github: FakeGitHub, token: str, body: dict, status: int, slug: str | None, privacy: str | None
) -> None:
    answer = call(org_github, "POST", "/orgs/octo-org/teams", token, json=body)
    assert answer.status_code == status, answer.text
    teams = org_github.orgs["octo-org"].teams
    if status == 201:
        assert (answer.json()["slug"], answer.json()["privacy"]) == (slug, privacy)
        assert teams[slug].parent == ("reviewers" if body.get("parent_team_id") else None)
        assert (answer.json()["parent"] or {}).get("slug") == teams[slug].parent
    else:
        assert set(teams) == {"reviewers"}


def test_edit_team_renames_reparents_and_detaches(org_github: FakeGitHub, token: str) -> None:
    child = call(org_github, "POST", "/orgs/octo-org/teams", token, json={"name": "Child"}).json()
    renamed = call(
        org_github,
        "PATCH",
        "/orgs/octo-org/teams/child",
        token,
        json={"name": "Grown Up", "slug": "child", "parent_team_id": 7, "privacy": "closed"},
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["slug"], renamed.json()["parent"]["slug"]) == ("grown-up", "reviewers")
    assert call(org_github, "GET", "/orgs/octo-org/teams/child", token).status_code == 404
    cycle = call(
        org_github, "PATCH", "/orgs/octo-org/teams/reviewers", token, json={"parent_team_id": child["id"]}
    )
    assert cycle.status_code == 422, "a team cannot become its own child's child"
    detached = call(
        org_github,
        "PATCH",
        "/orgs/octo-org/teams/grown-up",
        token,
        json={"name": "Grown Up", "parent_team_id": None},
    )
    assert detached.json()["parent"] is None


def test_deleting_a_parent_deletes_its_children(org_github: FakeGitHub, token: str) -> None:
    call(org_github, "POST", "/orgs/octo-org/teams", token, json={"name": "Child", "parent_team_id": 7})
    assert call(org_github, "DELETE", "/orgs/octo-org/teams/reviewers", token).status_code == 204
    assert org_github.orgs["octo-org"].teams == {}


@pytest.mark.parametrize(
    ("user", "role", "state", "members", "maintainers"),
    [
        pytest.param("user002", "member", "active", {"user001", "user002"}, {"alice"}, id="add-member"),
        pytest.param("user001", "maintainer", "active", set(), {"alice", "user001"}, id="promote"),
        pytest.param("stranger", "member", "pending", {"user001"}, {"alice"}, id="outsider-is-invited"),
    ],
)
def test_team_membership(
    org_github: FakeGitHub, token: str, user: str, role: str, state: str, members: set, maintainers: set
) -> None:
    path = f"/orgs/octo-org/teams/reviewers/memberships/{user}"
    answer = call(org_github, "PUT", path, token, json={"role": role})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["role"], answer.json()["state"]) == (role, state)
    team = org_github.orgs["octo-org"].teams["reviewers"]
    assert (team.members, team.maintainers) == (members, maintainers)
    assert call(org_github, "GET", path, token).json()["state"] == state
    if state == "pending":
        assert org_github.orgs["octo-org"].invitations == {user: "direct_member"}
        invited = call(org_github, "GET", "/orgs/octo-org/teams/reviewers/invitations", token).json()
        assert [i["login"] for i in invited] == [user]
    assert call(org_github, "DELETE", path, token).status_code == 204
    assert user not in team.members | team.maintainers


def test_team_repositories(org_github: FakeGitHub, token: str) -> None:
    org_github.add_repo("octo-org/website")
    put = "/orgs/octo-org/teams/reviewers/repos/octo-org/website"
    assert call(org_github, "PUT", put, token, json={"permission": "maintain"}).status_code == 204
    listed = call(org_github, "GET", "/orgs/octo-org/teams/reviewers/repos", token).json()
    assert [(r["name"], r["role_name"], r["permissions"]) for r in listed] == [
        (
            "website",
            "maintain",
            {"pull": True, "triage": True, "push": True, "maintain": True, "admin": False},
        )
    ]
    assert call(org_github, "GET", put, token).status_code == 204
    repo = call(
        org_github, "GET", put, token, headers={"Accept": "application/vnd.github.v3.repository+json"}
    )
    assert repo.json()["permissions"]["maintain"] is True
    assert call(org_github, "PUT", put, token, json={"permission": "write"}).status_code == 422
    assert (
        call(
            org_github,
            "PUT",
            "/orgs/octo-org/teams/reviewers/repos/octo-org/nope",
            token,
            json={"permission": "pull"},
        ).status_code
        == 404
    )
    assert call(org_github, "DELETE", put, token).status_code == 204
    assert call(org_github, "GET", put, token).status_code == 404


# -- the org's repositories --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(
            {
                "name": "new-repo",
                "description": "d",
                "private": True,
                "has_wiki": False,
                "allow_squash_merge": False,
                "squash_merge_commit_title": "PR_TITLE",
            },
            201,
            id="create",
        ),
        pytest.param({"name": "init", "auto_init": True}, 201, id="auto-init"),
        pytest.param({"name": ".github"}, 422, id="exists"),
        pytest.param({"name": ".GitHub"}, 422, id="exists-other-case"),
        pytest.param({"name": "bad name"}, 422, id="bad-name"),
        pytest.param({"description": "x"}, 422, id="no-name"),
        pytest.param({"name": "x", "squash_merge_commit_title": "TITLE"}, 422, id="bad-enum"),
    ],
)
def test_create_org_repo(org_github: FakeGitHub, token: str, body: dict, status: int) -> None:
    answer = call(org_github, "POST", "/orgs/octo-org/repos", token, json=body)
    assert answer.status_code == status, answer.text
    if status == 201:
        created = answer.json()
        for key in ("description", "private", "has_wiki", "allow_squash_merge", "squash_merge_commit_title"):
            if key in body:
                assert created[key] == body[key]
        assert bool(org_github.refs(f"octo-org/{body['name']}")) is bool(body.get("auto_init"))


def test_list_org_repos_shows_what_the_token_reaches(
    org_github: FakeGitHub, app_key: rsa.RSAPrivateKey, token: str
) -> None:
    org_github.add_repo("octo-org/website", private=False)
    org_github.add_repo("octo-org/api")
    everything = call(org_github, "GET", "/orgs/octo-org/repos?sort=full_name", token).json()
    assert [r["name"] for r in everything] == [".github", "api", "website"]
    public = call(org_github, "GET", "/orgs/octo-org/repos?type=public", token).json()
    assert [r["name"] for r in public] == ["website"]
    scoped = mint(org_github, app_key, 1, repositories=["api"])
    assert [r["name"] for r in call(org_github, "GET", "/orgs/octo-org/repos", scoped).json()] == ["api"]
