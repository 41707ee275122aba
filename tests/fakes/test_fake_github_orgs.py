"""The fake's org endpoints (the ones peribolos calls): GitHub's auth, 404s, shapes and pagination."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub, FakeTeam


def _token(gh: FakeGitHub, key: rsa.RSAPrivateKey, installation_id: int) -> str:
    now = int(time.time())
    app_jwt = jwt.encode({"iat": now - 60, "exp": now + 500, "iss": APP_ID}, key, algorithm="RS256")
    answer = requests.post(
        f"{gh.api_url}/app/installations/{installation_id}/access_tokens",
        headers={"Authorization": f"Bearer {app_jwt}"},
        timeout=5,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


@pytest.fixture
def org_github(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_org(
        "octo-org",
        admins=["alice", "bob"],
        members=[f"user{i:03d}" for i in range(150)],
        teams=[FakeTeam(7, "Reviewers", "reviewers", maintainers={"alice"}, members={"user001"})],
    )
    return fake_github


@pytest.mark.parametrize(
    ("auth", "method", "path", "status"),
    [
        pytest.param("token", "GET", "/orgs/octo-org", 200, id="org"),
        pytest.param("bearer", "GET", "/orgs/octo-org/members?role=admin", 200, id="bearer-scheme"),
        pytest.param(None, "GET", "/orgs/octo-org/members", 401, id="no-auth"),
        pytest.param("jwt", "GET", "/orgs/octo-org/members", 401, id="app-jwt-is-no-installation-token"),
        pytest.param("other-org", "GET", "/orgs/octo-org/members", 404, id="other-installations-token"),
        pytest.param("token", "GET", "/orgs/Acme/members", 404, id="org-without-state"),
        pytest.param("token", "GET", "/orgs/octo-org/members?role=owner", 422, id="bad-role"),
        pytest.param("token", "GET", "/orgs/octo-org/teams/nope/members", 404, id="unknown-team"),
        pytest.param(
            "token", "GET", "/orgs/octo-org/teams/reviewers/invitations", 200, id="team-invitations"
        ),
        pytest.param("token", "PATCH", "/orgs/octo-org", 404, id="unimplemented-is-404"),
    ],
)
def test_org_endpoint_auth_and_404(
    org_github: FakeGitHub, app_key: rsa.RSAPrivateKey, auth: str | None, method: str, path: str, status: int
) -> None:
    headers = {}
    if auth in ("token", "bearer"):
        headers["Authorization"] = f"{auth} {_token(org_github, app_key, 1)}"
    elif auth == "other-org":
        headers["Authorization"] = f"token {_token(org_github, app_key, 2)}"
    elif auth == "jwt":
        now = int(time.time())
        headers["Authorization"] = "Bearer " + jwt.encode(
            {"iat": now - 60, "exp": now + 500, "iss": APP_ID}, app_key, algorithm="RS256"
        )
    answer = requests.request(method, org_github.api_url + path, headers=headers, json={}, timeout=5)
    assert answer.status_code == status, answer.text


def test_members_paginate_with_link_keeping_the_role(
    org_github: FakeGitHub, app_key: rsa.RSAPrivateKey
) -> None:
    headers = {"Authorization": f"token {_token(org_github, app_key, 1)}"}
    url: str | None = f"{org_github.api_url}/orgs/octo-org/members?role=member&per_page=100"
    logins: list[str] = []
    while url:
        answer = requests.get(url, headers=headers, timeout=5)
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
    ],
)
def test_put_membership(
    org_github: FakeGitHub,
    app_key: rsa.RSAPrivateKey,
    user: str,
    role: str,
    state: str,
    admins: set[str],
    invitations: dict[str, str],
) -> None:
    headers = {"Authorization": f"token {_token(org_github, app_key, 1)}"}
    answer = requests.put(
        f"{org_github.api_url}/orgs/octo-org/memberships/{user}",
        headers=headers,
        json={"role": role},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["state"], answer.json()["role"], answer.json()["user"]["login"]) == (
        state,
        role,
        user,
    )
    org = org_github.orgs["octo-org"]
    assert (org.admins, org.invitations) == (admins, invitations)
